"""`python -m bot` is the `heard` command (see bot.cli)."""

from bot.cli import main

main()
