"""Administration: the workspace lifecycle, the `/heard` command, the App Home and `heard export`."""

from bot.features.admin.cli import register_cli
from bot.features.admin.demo import DEMO_STEPS
from bot.features.admin.handlers import HOME_SECTIONS, SUBCOMMANDS, register

JOBS = ()

__all__ = ["DEMO_STEPS", "HOME_SECTIONS", "JOBS", "SUBCOMMANDS", "register", "register_cli"]
