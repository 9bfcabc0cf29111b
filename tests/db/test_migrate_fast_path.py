"""`upgrade` on a database already at the head imports no Alembic (issue 20's footprint):
the head read from the migration files is Alembic's own head, and a restart stays lean."""

import subprocess
import sys

from bot.db import create_db_engine
from bot.db.migrate import _file_head, current_revision, head_revision, upgrade


def test_the_files_name_alembic_s_head(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/heard.db")
    assert _file_head() == head_revision(engine)


def test_a_database_at_the_head_is_upgraded_without_importing_alembic(tmp_path):
    url = f"sqlite:///{tmp_path}/heard.db"
    engine = create_db_engine(url)
    assert upgrade(engine)  # a new database: every migration, through Alembic
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
    script = (
        "import sys\n"
        "from bot.db import create_db_engine\n"
        "from bot.db.migrate import upgrade\n"
        f"assert upgrade(create_db_engine({url!r})) == []\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako', 'pygments')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_database_behind_the_head_is_still_upgraded(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path}/heard.db")
    upgrade(engine, "0006")
    applied = upgrade(engine)
    assert applied and applied[-1] == head_revision(engine)
