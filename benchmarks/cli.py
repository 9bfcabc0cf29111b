"""How long `heard --help` makes a person wait, against two baselines in the same run.

    .venv/bin/python benchmarks/cli.py [RUNS]

Each case starts a fresh interpreter, as typing the command does, RUNS times (default
15, round-robin so a busy moment hits every case alike); the table shows the median
and the fastest run. The baselines are `python -c pass` (the floor: starting Python)
and `python -c 'import slack_bolt'` (importing the SDK Heard serves Slack with), so the
ratios say how light the CLI's start is whatever the machine's speed. `import bot.app`
is what the help used to load before commands imported their libraries themselves.
Not a test: nothing here can fail a build; tests/cli/test_cli_startup.py is the test.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

CASES = [
    ("python -c pass", ["-c", "pass"]),
    ("python -c 'import slack_bolt'", ["-c", "import slack_bolt"]),
    ("heard --help", ["-m", "bot", "--help"]),
    ("heard jobs run --help", ["-m", "bot", "jobs", "run", "--help"]),
    ("heard frobnicate (usage error)", ["-m", "bot", "frobnicate"]),
    ("python -c 'import bot.app'", ["-c", "import bot.app"]),
]
FLOOR, BOLT, HELP, APP = CASES[0][0], CASES[1][0], CASES[2][0], CASES[-1][0]


def wall_time(args: list[str], cwd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, check=False,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    # No .env, no heard.db and no Heard settings from this shell: what a newcomer runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARD_", "DATABASE_URL"))}
    times: dict[str, list[float]] = {name: [] for name, _ in CASES}
    with tempfile.TemporaryDirectory() as cwd:
        for _, args in CASES:  # warm the page cache: the first start reads every file from disk
            wall_time(args, cwd, env)
        for _ in range(runs):
            for name, args in CASES:
                times[name].append(wall_time(args, cwd, env))

    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{platform.python_implementation()} {platform.python_version()}, "
          f"nproc {len(os.sched_getaffinity(0))}, {platform.system()} {platform.machine()}; "
          f"median of {runs} runs; load average {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print()
    width = max(len(name) for name in times)
    print(f"{'command':<{width}}  {'median':>8}  {'fastest':>8}  {'× pass':>7}  {'× Bolt':>7}")
    for name, values in times.items():
        print(
            f"{name:<{width}}  {median[name] * 1000:6.0f} ms  {min(values) * 1000:6.0f} ms  "
            f"{median[name] / median[FLOOR]:7.1f}  {median[name] / median[BOLT]:7.2f}"
        )
    print()
    print(f"heard --help: {median[HELP] * 1000:.0f} ms, {median[HELP] / median[FLOOR]:.1f}× starting Python, "
          f"{median[HELP] / median[BOLT]:.2f}× importing Bolt, "
          f"{median[APP] / median[HELP]:.1f}× faster than loading the app")  # fmt: skip

if __name__ == "__main__":
    main()
