"""The admin room's part of `heard demo`."""

from __future__ import annotations

from rich.text import Text


def app_home(demo) -> None:
    maya = demo.user("maya")
    demo.step("App Home", f"{maya.real_name} opens Heard's App Home tab.")
    demo.event({"type": "app_home_opened", "user": maya.id, "channel": "D0MAYAHOME", "tab": "home"})
    demo.show_home(maya.id)


def help_and_bad_input(demo) -> None:
    maya = demo.user("maya")
    demo.step("/heard help", f"{maya.real_name} asks what she can do.")
    demo.show_reply(demo.command("help", user=maya.id))
    demo.step("Bad input", "Someone tries to make Heard ping the whole channel.")
    demo.show_reply(demo.command("<!channel> wake up", user=maya.id))
    demo.console.print(Text("Heard escaped it: Slack shows the text, nobody is pinged.", style="dim"))


DEMO_STEPS = (app_home, help_and_bad_input)
