"""scripts/lock_check.py, the check behind `make lock-check`, on small made-up files: it
finds a dependency missing from the lock, a pin its specifier refuses, a pin without a
hash, and follows the project's references to its own extras."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "lock_check.py"
spec = importlib.util.spec_from_file_location("lock_check", SCRIPT)
lock_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock_check)

PYPROJECT = {"project": {
    "name": "heard", "dependencies": ["slack-bolt>=1.21", "SQLAlchemy[asyncio]>=2.0,<3"],
    "optional-dependencies": {"test": ["pytest>=8"], "extra": ["onnxruntime>=1.17"],
                              "dev": ["heard[test,extra]", "ruff>=0.5"]},
}}  # fmt: skip
LOCK = """\
#    make lock
slack-bolt==1.30.0 \\
    --hash=sha256:aa
sqlalchemy==2.1.9 \\
    --hash=sha256:bb \\
    --hash=sha256:cc
    # via heard
pytest==9.2.0 \\
    --hash=sha256:dd
onnxruntime==1.32.0 \\
    --hash=sha256:ee
ruff==0.17.6 \\
    --hash=sha256:ff
"""


def test_a_current_lock_has_no_problem():
    assert lock_check.problems(PYPROJECT, LOCK) == []


def test_each_disagreement_is_one_line():
    lock = LOCK.replace("ruff==0.17.6 \\\n    --hash=sha256:ff\n", "ruff==0.17.6\n")
    lock = lock.replace("sqlalchemy==2.1.9", "sqlalchemy==3.0.0")
    lock = lock.replace("onnxruntime==1.32.0 \\\n    --hash=sha256:ee\n", "")
    assert lock_check.problems(PYPROJECT, lock) == [
        "SQLAlchemy==3.0.0 in the lock does not satisfy SQLAlchemy[asyncio]<3,>=2.0",
        "ruff==0.17.6 has no hash in the lock",
        "onnxruntime is in pyproject.toml but not in the lock",
    ]


def test_the_extras_make_install_uses_are_followed():
    names = {r.name for r in lock_check.wanted(PYPROJECT)}
    assert names == {"slack-bolt", "SQLAlchemy", "pytest", "onnxruntime", "ruff"}
