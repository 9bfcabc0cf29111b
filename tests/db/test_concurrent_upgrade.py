"""Two processes upgrading one database at once (a `heard run` starting beside `heard db
upgrade`): they take turns, and the second finds the revisions applied."""

import threading

import pytest

from bot.db import create_db_engine
from bot.db.migrate import current_revision, head_revision, upgrade
from tests.fixtures.db import at_revision


@pytest.fixture
def at_0012(engine):
    yield from at_revision(engine, "0012_feedback_import_keys")


def test_two_upgrades_at_once_take_turns_and_one_applies(at_0012):
    """On PostgreSQL both ran 0013 (the second failed on what the first had made); on
    SQLite the second waited for the first and then said it had applied 0013 too."""
    engines = [create_db_engine(at_0012.url.render_as_string(hide_password=False)) for _ in range(2)]
    start = threading.Barrier(2, timeout=10)
    results: list = [None, None]

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = upgrade(engines[i])
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(results, key=len) == [[], ["0013_feedback_ids_never_reused"]]
    assert current_revision(at_0012) == head_revision(at_0012)
    for engine in engines:
        engine.dispose()
