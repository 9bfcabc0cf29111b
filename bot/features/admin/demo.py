"""The admin room's part of `heard demo`: the first admin is greeted, sets Heard up with
slash commands, a non-admin is refused, and the App Home shows the setup checklist."""

from __future__ import annotations

from rich.text import Text
from sqlalchemy import select

from bot.db.models import Workspace


def _note(demo, text: str) -> None:
    demo.console.print(Text(text, style="dim"))


def _run(demo, text: str, user) -> dict:
    """Show `/heard TEXT` as typed, then Heard's ephemeral answer."""
    demo.console.print(Text(f"{user.real_name}: /heard {_typed(text)}", style="bold"))
    reply = demo.command(text, user=user.id)
    demo.show_text(reply.get("text", ""), indent="  ")
    return reply


def _typed(text: str) -> str:
    """Slash text as the person typed it (Slack escapes mentions before sending)."""
    import re

    text = re.sub(r"<[@#]([A-Z0-9]+)\|([^>]*)>", lambda m: ("#" if m.group(0)[1] == "#" else "@") + m.group(2), text)
    return re.sub(r"<!subteam\^[A-Z0-9]+\|(@[^>]*)>", r"\1", text)


def first_admin(demo) -> None:
    maya = demo.user("maya")
    demo.step("The first admin", f"{maya.real_name}, the workspace owner, opens Heard's App Home tab.")
    demo.event({"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"})
    with demo.runtime.sessions() as session:
        workspace = session.scalar(select(Workspace))
    _note(demo, "With a bot token there is no OAuth installer, so the first workspace admin who uses "
                f"Heard is recorded as its installer: {maya.real_name}. The workspace takes her time "
                f"zone ({workspace.time_zone}) and she gets the setup checklist by DM.")  # fmt: skip
    demo.show_messages(maya.id)


def help_and_bad_input(demo) -> None:
    maya = demo.user("maya")
    demo.step("/heard help", f"{maya.real_name} asks what she can do.")
    demo.show_reply(demo.command("help", user=maya.id))
    demo.step("Bad input", "Someone tries to make Heard ping the whole channel.")
    demo.show_reply(demo.command("<!channel> wake up", user=maya.id))
    demo.console.print(Text("Heard escaped it: Slack shows the text, nobody is pinged.", style="dim"))


def setup_with_slash_commands(demo) -> None:
    maya, jonas, tomas = demo.user("maya"), demo.user("jonas"), demo.user("tomas")
    demo.step("Setting Heard up", f"{maya.real_name} configures Heard with /heard; every reply is ephemeral.")
    for text in (
        "channel stories <#C0STORIES1|customer-stories>",
        "department add Product <#C0PRODUCT1|product>",
        "department add Support <#C0GENERAL1|general> <!subteam^S0SUPPORT1|@support>",
        f"leader add <@{jonas.id}|jonas>",
        "channel digest <#C0OLDARCH1|old-archive>",
        "channel digest <#C0LEADERS1|leadership>",
        'schedule weekly-story "tue 09:30"',
        f"admin add <@{tomas.id}|tomas>",
    ):
        _run(demo, text, maya)
    _note(demo, "Heard joined #product by itself; the archived channel was refused with the usage.")


def non_admin_refused(demo) -> None:
    priya = demo.user("priya")
    demo.step("Only admins configure Heard", f"{priya.real_name} is not an admin.")
    _run(demo, "pause", priya)


def config_and_home(demo) -> None:
    maya = demo.user("maya")
    demo.step("/heard config", "Every setting, and the last changes: who, when, old → new.")
    demo.show_reply(demo.command("config", user=maya.id))
    demo.step("The App Home for admins", f"{maya.real_name} reopens the Home tab: the setup checklist, with "
              "buttons that open a modal for each setting.")  # fmt: skip
    demo.event({"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"})
    demo.show_home(maya.id)


DEMO_STEPS = (first_admin, help_and_bad_input, setup_with_slash_commands, non_admin_refused, config_and_home)
