"""Customer feedback: capture from four doors, acknowledgement, the ignored rule, and
telling the reporter when someone acted."""

from bot.features.feedback.cli import register_cli
from bot.features.feedback.commands import SUBCOMMANDS
from bot.features.feedback.demo import DEMO_STEPS
from bot.features.feedback.handlers import HOME_SECTIONS, register
from bot.features.feedback.jobs import JOBS

__all__ = ["DEMO_STEPS", "HOME_SECTIONS", "JOBS", "SUBCOMMANDS", "register", "register_cli"]
