"""How big and how quick to start `heard run` is, against a no-op Bolt app under gunicorn.

    .venv/bin/python benchmarks/footprint.py [RUNS]      # default 3
    .venv/bin/python benchmarks/footprint.py 5 --against /tmp/rev   # and another tree, alternated

For each case, RUNS times: start the server as an operator would (HTTP, one workspace,
talking to the fake Slack on loopback, SQLite in a temporary directory), time until
`GET /healthz` answers 200, let it idle, then read the memory of its whole process tree
(gunicorn's master and its worker):

- RSS, summed over the processes, as `ps` and most dashboards show it (pages the worker
  shares with the master it forked from are counted twice);
- PSS, summed: each shared page split between the processes sharing it, which is what
  the tree really costs the machine.

It also reads the CPU time (user + system) the tree had used when `/healthz` first
answered: on a machine shared with other work, the wall time waits for their turns too,
the CPU time much less.

The baseline is the smallest Bolt app that answers Slack: `App(token, signing_secret)`
with no listeners, served by gunicorn with the same worker settings as Heard (one gthread
worker), and a `/healthz` that says 200. Its ratio column is Heard's figure over the
baseline's, measured in the same run. Not a test: nothing here can fail a build.

`--against DIR` measures a second `heard run` too, from the code in DIR (an exported
commit: `git archive REV | tar -x -C DIR`, put first on PYTHONPATH), in the same rounds:
no-op, this tree, DIR, no-op, this tree, DIR… so that a change is compared with what came
before it under the same load.

Every server reads its modules' bytecode from a cache in the run's temporary directory
(PYTHONPYCACHEPREFIX), filled by one untimed start of each before the timed rounds: an
installed Heard has its bytecode (pip compiles it) and a checkout writes it on its first
run, so a restart never compiles. With PYTHONDONTWRITEBYTECODE set (as in the sandbox
these figures come from) and no cache, every start of a checkout compiled Heard's own
modules, about 0.1 s of CPU that the no-op app, whose libraries have their bytecode,
never pays. `--no-cache` measures that way: the environment as it is, no untimed start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HEARD = str(Path(PYTHON).with_name("heard"))
IDLE_SECONDS = 3.0  # after /healthz answers: the worker's start-up work settles
START_TIMEOUT = 60.0

NOOP_APP = textwrap.dedent(
    """
    import os, sys
    from gunicorn.app.base import BaseApplication
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from slack_sdk import WebClient

    bolt = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"],
               client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]))
    handler = SlackRequestHandler(bolt)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        return handler(environ, start_response)

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"127.0.0.1:{os.environ['PORT']}", "workers": 1, "worker_class": "gthread",
                               "threads": int(os.environ.get("THREADS", "8")), "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self):
            return wsgi

    Server().run()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            frontier.append(child)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (less sensitive to the
    machine's load than the wall time, which waits for other processes' turns)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process, in kB."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def measure(command: list[str], env: dict[str, str], port: int) -> tuple[float, float, float, int, float, float]:
    """(seconds to /healthz, RSS MB, PSS MB, processes, the first process's RSS MB, CPU
    seconds to /healthz) of one start."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=env.get("HOME_DIR", ROOT), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited: {process.stderr.read().decode()[-2000:]}")
            if time.perf_counter() - started > START_TIMEOUT:
                raise SystemExit(f"{command} did not answer /healthz in {START_TIMEOUT:.0f} s")
            try:
                with urllib.request.urlopen(url, timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.02)
        ready = time.perf_counter() - started
        cpu = cpu_seconds(tree(process.pid))
        time.sleep(IDLE_SECONDS)
        pids = tree(process.pid)
        sizes = [memory_kb(pid) for pid in pids]
        return (ready, sum(r for r, _ in sizes) / 1024, sum(p for _, p in sizes) / 1024, len(pids),
                sizes[0][0] / 1024, cpu)  # fmt: skip
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    from bot.sandbox.fake_slack import FakeSlack
    from bot.sandbox.workspace import demo_workspace

    args = sys.argv[1:]
    cache = "--no-cache" not in args
    args = [arg for arg in args if arg != "--no-cache"]
    against = None
    if "--against" in args:
        at = args.index("--against")
        against = str(Path(args[at + 1]).resolve())
        del args[at : at + 2]
    runs = int(args[0]) if args else 3
    acme = demo_workspace(datetime.now(UTC))
    results: dict[str, list[tuple[float, float, float, int, float, float]]] = {"no-op Bolt app (gunicorn)": [], "heard run": []}
    if against:
        results[f"heard run ({Path(against).name})"] = []
    loads = os.getloadavg()
    with FakeSlack(acme) as slack, tempfile.TemporaryDirectory() as tmp:
        noop = Path(tmp) / "noop_app.py"
        noop.write_text(NOOP_APP)
        base = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "HEARD_"))}
        base |= {"SLACK_BOT_TOKEN": acme.bot_token, "SLACK_SIGNING_SECRET": "bench-secret",
                 "SLACK_API_URL": slack.url, "OPENAI_API_KEY": ""}  # fmt: skip
        base |= {"DATABASE_URL": f"sqlite:///{tmp}/heard.db", "HOME_DIR": tmp}
        if cache:  # bytecode, as an installed Heard has it (module docstring)
            base.pop("PYTHONDONTWRITEBYTECODE", None)
            base["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        # The older tree's own database, migrated by it: a database a newer Heard migrated
        # is one it refuses to open.
        older = base | {"DATABASE_URL": f"sqlite:///{tmp}/against.db",
                        "PYTHONPATH": os.pathsep.join(filter(None, [against, base.get("PYTHONPATH")]))}  # fmt: skip
        # Migrated once: a restart, not a first install, is what an operator waits for.
        for env in (base, older) if against else (base,):
            subprocess.run([HEARD, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)

        def start(name: str):
            port = free_port()
            env = (older if name.startswith("heard run (") else base) | {"PORT": str(port)}
            command = [PYTHON, str(noop)] if name.startswith("no-op") else [HEARD, "run"]
            return measure(command, env, port)

        if cache:
            for name in results:  # untimed: writes each server's bytecode into the cache
                start(name)
        for _ in range(runs):
            for name, measured in results.items():
                measured.append(start(name))

    def median(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    load = os.getloadavg()[0]
    print(f"footprint, {runs} runs each (median), idle {IDLE_SECONDS:.0f} s after /healthz, "
          f"CPython {sys.version.split()[0]}, nproc {os.cpu_count()}, load {loads[0]:.1f} at the start, "
          f"{load:.1f} at the end, {'bytecode cached' if cache else 'bytecode as the environment has it'}")  # fmt: skip
    print(f"{'server':28} {'to /healthz':>12} {'CPU to it':>10} {'RSS':>9} {'PSS':>9} {'procs':>6} {'master RSS':>11}")
    for name in results:
        print(f"{name:28} {median(name, 0):10.2f} s {median(name, 5):8.2f} s {median(name, 1):6.0f} MB "
              f"{median(name, 2):6.0f} MB {results[name][0][3]:6d} {median(name, 4):8.0f} MB")  # fmt: skip
    base = "no-op Bolt app (gunicorn)"
    for heard in (name for name in results if name.startswith("heard run")):
        print(f"{heard + ' / no-op':28} {median(heard, 0) / median(base, 0):10.2f} x "
              f"{median(heard, 5) / median(base, 5):8.2f} x {median(heard, 1) / median(base, 1):6.2f} x "
              f"{median(heard, 2) / median(base, 2):6.2f} x")  # fmt: skip
    print("goals (issue 20): RSS <= 120 MB, time to /healthz <= 2.0 x the no-op app")


if __name__ == "__main__":
    main()
