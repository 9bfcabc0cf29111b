"""Administration: the workspace lifecycle, the `/heard` command and the App Home."""

from bot.features.admin.handlers import register

JOBS = ()

__all__ = ["JOBS", "register"]
