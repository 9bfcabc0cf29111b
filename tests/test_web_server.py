"""`bot.web.HeardServer`: gunicorn whose worker builds the app, and whose start-up either
serves, or fails in one line (a reason the operator fixes), or shows a bug in full, without
forking worker after worker. Real processes: gunicorn forks."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

from tests.sandbox.test_heard_run import Process, free_port

SERVE = """
import os
import sys
import time
from bot.slack.front import SlackFront
from bot.web import BootFailed, HeardServer, Served

how, port = sys.argv[1], int(sys.argv[2])


def build():
    if how == "replaced" and os.path.exists("fail-once"):  # a replacement meets an outage once
        os.remove("fail-once")
        raise LookupError("Slack is unreachable")
    if how == "slow":  # longer than gunicorn's timeout (1 s below) without a heartbeat
        time.sleep(3)
    if how == "refused":
        raise LookupError("Slack refused the token")
    if how == "bug":
        raise ValueError("a bug while building")

    def wsgi(environ, start_response):
        body = str(os.getpid()).encode() if environ["PATH_INFO"] == "/pid" else b"ok"
        if environ["PATH_INFO"] == "/conns":  # the worker's count of its open connections
            import gc
            [worker] = [o for o in gc.get_objects() if type(o).__name__ == "HeardWorker"]
            body = str(worker.nr_conns).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    if how == "front":  # Slack's path behind the front door, with deadlines of 1 s
        wsgi = SlackFront(wsgi, "secret", body_seconds=1)
    return Served(wsgi, start=lambda: print("beside: started", flush=True),
                  stop=lambda: print("beside: stopped", flush=True))


def explain(exc):
    return (7, f"heard: {exc}") if isinstance(exc, LookupError) else None


try:
    HeardServer(build=build, port=port, explain=explain, timeout=1 if how == "slow" else 60, retry_seconds=0.2,
                header_seconds=1).run()
except BootFailed as failed:
    print(failed.line, file=sys.stderr)
    sys.exit(failed.status)
"""


def serve(how: str, port: int, cwd) -> Process:
    return Process([sys.executable, "-c", SERVE, how, str(port)], None, cwd)


def test_a_built_app_is_served_with_gunicorns_lines_once_each_in_order(tmp_path):
    port = free_port()
    process = serve("ok", port, tmp_path)
    process.await_line("beside: started")
    assert get(port) == b"ok"
    assert process.stop() == 0
    lines = process.output()
    gunicorn = [line.split("] ", 3)[-1] for line in lines if line.startswith("[")]  # [time] [pid] [INFO] text
    starts = ("Starting gunicorn", f"Listening at: http://0.0.0.0:{port}", "Using worker: bot.web.HeardWorker",
              "Booting worker")
    assert [next(i for i, text in enumerate(gunicorn) if text.startswith(start)) for start in starts] == [0, 1, 2, 3]
    assert sum(text.startswith(starts) for text in gunicorn) == 4  # each once
    assert "beside: stopped" in lines


def test_a_reason_the_operator_fixes_is_one_line_and_its_status(tmp_path):
    process = serve("refused", free_port(), tmp_path)
    assert process.output() == ["heard: Slack refused the token"]
    assert process.popen.returncode == 7


def test_a_bug_shows_everything_and_stops_without_forking_again(tmp_path):
    process = serve("bug", free_port(), tmp_path)
    lines = process.output()
    assert process.popen.returncode == 1  # a failure at run time (gunicorn's own status would be 3)
    text = "\n".join(lines)
    assert "ValueError: a bug while building" in text and "Traceback" in text
    assert sum("Booting worker" in line for line in lines) == 1  # no second worker
    assert "Starting gunicorn" in text and "Reason: Worker failed to boot." in text


def test_a_replacement_worker_that_meets_an_outage_waits_and_another_serves(tmp_path):
    """Once Heard has served, a worker forked to replace one (killed by the kernel, say)
    that cannot start for a reason of the moment says so and gives way to another; the
    master goes on. Only the first start stops it."""
    port = free_port()
    process = serve("replaced", port, tmp_path)
    process.await_line("beside: started")
    first = worker_pid(port)
    (tmp_path / "fail-once").touch()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (now := worker_pid(port)) in (first, None):
        assert time.monotonic() < deadline and process.popen.poll() is None, process.output()
        time.sleep(0.1)
    assert not (tmp_path / "fail-once").exists()  # a replacement met the outage
    assert process.stop() == 0
    lines = process.output()
    assert "heard: Slack is unreachable (a replacement worker; another tries in 0.2 s)" in lines
    assert now != first


def worker_pid(port: int) -> int | None:
    try:
        return int(get(port, "/pid", timeout=2))
    except OSError:
        return None


def get(port: int, path: str = "/", *, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
        return answer.read()


def test_a_taken_port_fails_before_gunicorn_starts(tmp_path):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", SERVE, "ok", str(port)], check=False, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""  # gunicorn never started
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"bot.errors.Failure: cannot serve HTTP on port {port}: Address already in use"


def test_building_longer_than_gunicorns_timeout_is_not_a_dead_worker(tmp_path):
    """A check that takes its time (a database host that does not answer, Slack's retries)
    is waited for, as when the master built the app. Were gunicorn to count a worker's
    silence from its fork, it would kill it after its timeout and fork another, again and
    again; it counts from the worker's first heartbeat, sent once the app is built."""
    port = free_port()
    process = serve("slow", port, tmp_path)
    process.await_line("beside: started")
    assert get(port) == b"ok"
    assert process.stop() == 0
    lines = process.output()
    assert not any("WORKER TIMEOUT" in line for line in lines)
    assert sum("Booting worker" in line for line in lines) == 1


def test_a_reload_keeps_the_port_and_builds_the_app_again(tmp_path):
    """SIGHUP: gunicorn reads its configuration again and replaces the worker; the socket
    bound at start stays the one it listens on."""
    port = free_port()
    process = serve("ok", port, tmp_path)
    process.await_line("beside: started")
    process.popen.send_signal(signal.SIGHUP)
    process.await_line("beside: started")  # the new worker's
    assert get(port) == b"ok"
    assert process.stop() == 0
    assert not any("Listening at: http://127.0.0.1:8000" in line for line in process.output())


def test_stalled_clients_hold_no_thread_past_their_deadline(tmp_path):
    """gunicorn's gthread worker has 8 threads, and read a request's headers and body with
    no time limit: 8 clients that sent part of a request and then nothing stalled every
    other request, for as long as they waited. Now headers must be in within their
    deadline (1 s here) and the body within its own (the front's, 1 s): 16 stalled
    clients, twice the threads, keep others waiting about 2 s, not for ever."""
    import socket

    port = free_port()
    process = serve("front", port, tmp_path)
    process.await_line("beside: started")
    stalled = []
    for _ in range(8):
        headers_only = socket.create_connection(("127.0.0.1", port))
        headers_only.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-")
        part_of_a_body = socket.create_connection(("127.0.0.1", port))
        part_of_a_body.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 1000\r\n\r\n{\"a\":")  # fmt: skip
        stalled += [headers_only, part_of_a_body]
    started = time.monotonic()

    assert get(port, timeout=20) == b"ok"

    assert time.monotonic() - started < 6
    answers = []
    for client in stalled:
        client.settimeout(10)
        answers.append(client.recv(100).split(b"\r\n")[0])
        client.close()
    assert sorted(answers) == [b""] * 8 + [b"HTTP/1.1 408 Request Timeout"] * 8  # cut off, or told why
    assert process.stop() == 0
    lines = process.output()
    assert sum("its request headers took over 1 s" in line for line in lines) == 8


def test_connections_cut_off_for_time_are_counted_once(tmp_path):
    """gunicorn counts a worker's open connections (`nr_conns`): it keeps the worker under
    its connection limit and tells a stopping worker whether kept-alive connections still
    want an answer. Each connection cut off for time was subtracted twice (the worker
    closed it, then gunicorn's close failed on it and subtracted again): the count went
    below zero, the limit was gone (a worker with 1,024 files crashed) and a stopping
    worker dropped requests on kept-alive connections."""
    import socket

    port = free_port()
    process = serve("front", port, tmp_path)
    process.await_line("beside: started")
    for _ in range(3):  # headers that never end: cut off after 1 s
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        client.settimeout(10)
        assert client.recv(100) == b""
        client.close()
    for _ in range(2):  # a body that never ends: 408 after 1 s
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 100\r\n\r\n{")  # fmt: skip
        client.settimeout(10)
        assert client.recv(100).startswith(b"HTTP/1.1 408")
        client.close()

    assert get(port, "/conns") == b"1"  # this one

    assert process.stop() == 0


def test_connections_that_send_nothing_wait_on_no_thread(tmp_path):
    """gthread kept a new connection on one of its 8 threads for 5 s waiting for its first
    byte: 16 connections that sent nothing kept other requests waiting 10 s (and 48 kept
    them 3 s with half a second each). Now such a connection waits in the poller."""
    import socket

    port = free_port()
    process = serve("front", port, tmp_path)
    process.await_line("beside: started")
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(48)]
    started = time.monotonic()

    assert get(port, timeout=30) == b"ok"

    assert time.monotonic() - started < 1.5  # it was 30 s, then 3 s
    for client in idle:
        client.close()
    assert process.stop() == 0


def test_clients_that_keep_their_socket_after_the_answer_hold_up_nobody(tmp_path):
    """After a response that closes the connection (HTTP/1.0, `Connection: close`) gunicorn
    waited up to 2 s for the client to close its side, on the thread that dispatches every
    connection: 8 clients that kept their sockets held every other request 16 s."""
    import socket

    port = free_port()
    process = serve("front", port, tmp_path)
    process.await_line("beside: started")
    lingering = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    for client in lingering:
        client.sendall(b"GET / HTTP/1.0\r\n\r\n")
    for client in lingering:  # each reads its answer, and keeps its socket open
        client.settimeout(10)
        assert client.recv(100).startswith(b"HTTP/1.0 200")
    started = time.monotonic()

    assert get(port, "/conns", timeout=30) == b"1"  # this one: the others counted closed

    assert time.monotonic() - started < 1.5
    for client in lingering:
        client.close()
    assert process.stop() == 0
