"""The manifest must import into Slack: this checks the structure Slack's schema requires."""

import json
import re
from pathlib import Path

import pytest

from bot.features import load_rooms

ROOMS = load_rooms()


def build_manifest(**kwargs) -> dict:
    """The manifest `heard manifest` prints: the core's and every room's contributions."""
    return ROOMS.manifest(**kwargs)


SPEC = Path(__file__).resolve().parents[3] / "shared" / "slack-specs" / "slack_web_openapi_v2_without_examples.json"

# The scope each subscribed event needs (Slack's events reference).
EVENT_SCOPES = {
    "app_home_opened": None,
    "app_uninstalled": None,
    "tokens_revoked": None,
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
}
ALLOWED_TOP_LEVEL = {"_metadata", "display_information", "features", "oauth_config", "settings"}


def check_manifest_shape(manifest: dict) -> None:
    assert set(manifest) <= ALLOWED_TOP_LEVEL
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert len(info.get("description", "")) <= 140
    assert 175 <= len(info.get("long_description", "x" * 175)) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    features = manifest["features"]
    assert len(features["bot_user"]["display_name"]) <= 80
    for command in features["slash_commands"]:
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
        assert len(command["description"]) <= 2000
        assert len(command.get("usage_hint", "")) <= 1000
        assert isinstance(command["should_escape"], bool)
    for shortcut in features["shortcuts"]:
        assert shortcut["type"] in ("message", "global")
        assert 1 <= len(shortcut["name"]) <= 24 * 4
        assert len(shortcut["callback_id"]) <= 255
        assert len(shortcut["description"]) <= 150
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) <= set(EVENT_SCOPES)
    for event in settings["event_subscriptions"]["bot_events"]:
        needed = EVENT_SCOPES[event]
        assert needed is None or needed in scopes, f"{event} needs {needed}"
    if settings["socket_mode_enabled"]:
        assert "request_url" not in settings["event_subscriptions"]
    else:
        for url in (settings["event_subscriptions"]["request_url"],
                    settings["interactivity"]["request_url"]):  # fmt: skip
            assert url.startswith("https://")


@pytest.mark.parametrize("url", [None, "https://heard.example.com/"])
def test_manifest_has_the_structure_slack_imports(url):
    manifest = build_manifest(request_url=url)
    check_manifest_shape(manifest)
    json.dumps(manifest)  # serialisable as-is


def test_http_manifest_points_every_url_at_heard():
    manifest = build_manifest(request_url="https://heard.example.com")
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["features"]["slash_commands"][0]["url"] == "https://heard.example.com/slack/events"
    assert manifest["oauth_config"]["redirect_urls"] == ["https://heard.example.com/slack/oauth_redirect"]


def test_manifest_has_command_shortcut_home_and_interactivity():
    manifest = build_manifest(command="/feedback")
    assert manifest["features"]["slash_commands"][0]["command"] == "/feedback"
    assert manifest["features"]["shortcuts"][0]["callback_id"] == "log_feedback"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "app_uninstalled" in events and "tokens_revoked" in events


def test_usage_hint_names_only_forms_that_exist():
    hint = build_manifest()["features"]["slash_commands"][0]["usage_hint"]
    forms = {form.words[0] for form in ROOMS.router} | {"help", "config"}
    assert {part.split()[0] for part in hint.split(" | ")} <= forms
    assert "decision" in hint and "feedback TEXT" in hint
    assert "decision-nudges" not in hint  # admins' forms are summed up as "config (admins)"


def test_scopes_come_from_the_core_and_the_rooms_that_need_them():
    scopes = set(build_manifest()["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "users:read"} <= scopes  # the core's
    assert {"channels:history", "reactions:read"} <= scopes  # the feedback room's
    assert {"files:write", "im:write"} <= scopes  # the digest room's: its chart, leaders' DMs


# Granular bot scopes Slack added after the 2021 spec, or that gate no Web API method.
NEWER_SCOPES = {"commands", "channels:join", "files:write", "chat:write"}


@pytest.mark.skipif(not SPEC.exists(), reason="../shared/slack-specs is not beside the repository")
def test_every_scope_is_one_slack_knows():
    spec = json.loads(SPEC.read_text())
    known = set(NEWER_SCOPES)
    for operations in spec["paths"].values():
        for operation in operations.values():
            for requirement in operation.get("security", []):
                for scopes in requirement.values():
                    known.update(scopes)
    unknown = [scope for scope in build_manifest()["oauth_config"]["scopes"]["bot"] if scope not in known]
    assert unknown == [], f"scopes not found in Slack's spec: {unknown}"
