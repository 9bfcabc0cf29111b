"""Run `heard` as a person does: a real process, a clean environment, its exit and output."""

import os
import subprocess
import sys

# Settings from the developer's shell must not leak into what a test sees.
HEARD_VARS = ("SLACK_", "DATABASE_URL", "PORT", "OPENAI_", "HEARD_")


def heard(*args, cwd, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(HEARD_VARS)}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], check=False, cwd=cwd, env=clean, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]
