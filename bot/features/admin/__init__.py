"""Administration: the workspace lifecycle, the `/heard` command and the App Home."""

from bot.features.admin.demo import DEMO_STEPS
from bot.features.admin.handlers import HOME_SECTIONS, SUBCOMMANDS, register

JOBS = ()

__all__ = ["DEMO_STEPS", "HOME_SECTIONS", "JOBS", "SUBCOMMANDS", "register"]
