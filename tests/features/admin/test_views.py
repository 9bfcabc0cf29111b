"""Administration views: user text escaped, audit values readable, one-line errors."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.features import load_rooms
from bot.features.admin import views
from bot.features.admin.service import DepartmentInfo, ForgetReport
from bot.rooms import Forgotten
from bot.slack.commands import not_admin, usage_error

AT = datetime(2026, 11, 25, 9, 5, tzinfo=UTC)


def entry(action, old, new, actor="U0MAYA0001"):
    return SimpleNamespace(action=action, old_value=old, new_value=new, actor_user_id=actor, at=AT)


def test_department_names_are_escaped():
    line = views.department_line(DepartmentInfo("R&D <EU>", "C0GENERAL1", "S0SUPPORT1"))
    assert line == "*R&amp;D &lt;EU&gt;* — <#C0GENERAL1>, <!subteam^S0SUPPORT1>"


@pytest.mark.parametrize(
    ("action", "value", "shown"),
    [
        ("channel stories", "C0STORIES1", "<#C0STORIES1>"),
        ("channel digest", None, "none"),
        ("schedule weekly-story", None, "default"),
        ("leader add", ["U0JONAS002", "forgotten"], "<@U0JONAS002>, forgotten"),
        ("leader remove", [], "none"),
        ("ignore-after", 259200, "72 hours"),  # as the feedback room says it
        ("ignore-after", 5400, "90 minutes"),
        ("ack-emoji add", ["eyes", "white_check_mark"], ":eyes:, :white_check_mark:"),
        ("pause", True, "paused"),
        ("feedback-channel add", ["C0FEEDBACK"], "<#C0FEEDBACK>"),
        ("anything", "<!channel> hi", "&lt;!channel&gt; hi"),
        ("anything", "@here", "@\u2060here"),
        ("department add", {"name": "<b>", "channel": "C0GENERAL1", "usergroup": None}, "*&lt;b&gt;* — <#C0GENERAL1>"),
    ],
)  # fmt: skip
def test_audit_values_read_like_the_setting(action, value, shown):
    # the rooms' own readings of their settings (the feedback room's ignore-after, ack-emoji)
    assert views.audit_value(action, value, load_rooms().audit_formats()) == shown


def test_audit_lines_say_who_when_and_old_to_new_in_the_workspace_zone():
    line = views.audit_line(entry("channel stories", None, "C0STORIES1"), "Europe/Berlin")
    assert line == "Wed 25 Nov 10:05 · <@U0MAYA0001>: `channel stories` none → <#C0STORIES1>"
    assert views.audit_line(entry("installer", None, "U0MAYA0001", actor=None), "UTC").startswith(
        "Wed 25 Nov 09:05 · Heard:"
    )
    assert "· forgotten:" in views.audit_line(entry("pause", False, True, actor="forgotten"), "UTC")
    forget = views.audit_line(entry("forget", None, {"roles_removed": 2, "reflections_deleted": 1}), "UTC")
    assert forget.endswith("`forget` a person (3 records)") and "roles" not in forget


def test_errors_are_one_line():
    assert usage_error("Bad\nthing  here.", "/heard x") == "Bad thing here. Usage: `/heard x`"
    assert not_admin("pause", []) == "Only Heard admins can use `pause`. Ask a workspace admin or owner."


def test_forget_report_counts_read_as_a_sentence():
    lines = (Forgotten("a", 1, "feedback item", "feedback items", "anonymised"),
             Forgotten("b", 2, "reflection", "reflections", "deleted"),
             Forgotten("c", 0, "story", "stories", "anonymised"))  # fmt: skip
    text = views.forget_text("U0SAM00006", ForgetReport(lines, installer_cleared=True))
    assert text == ("Forgot <@U0SAM00006>: 1 feedback item anonymised; 2 reflections deleted; "
                    "no longer recorded as the installer.")  # fmt: skip
    assert views.forget_text("U0SAM00006", ForgetReport()).endswith("Heard held no personal data about them.")


def test_the_greetings_fallback_text_pings_nobody_whatever_the_workspace_is_called():
    name = "Acme <!channel> & <@U0BOSS01>"
    snapshot = SimpleNamespace(workspace_name=name, time_zone="Europe/Berlin")
    text, blocks = views.greeting("U0MAYA0001", snapshot, [], [], "/heard")
    assert "<!channel>" not in text and "<@U0BOSS01>" not in text
    assert "Acme &lt;!channel&gt; &amp; &lt;@U0BOSS01&gt;" in text
