# Each target installs what it needs: a newcomer types one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test run install clean

LOCK   := requirements.lock

# Exactly what was tested: every dependency pinned with its hashes (requirements.lock,
# written by `make lock`), then Heard itself. A dependency added to pyproject.toml and
# not locked yet is still installed by the second line; `make lock-check` names it.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# requirements.lock from pyproject.toml (pip-tools in a venv of its own, so the project's
# venv holds only what is locked): run it after changing a dependency, commit both.
.PHONY: lock lock-check
lock:
	test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools)
	CUSTOM_COMPILE_COMMAND="make lock" .venv-lock/bin/pip-compile --quiet --generate-hashes --extra dev \
	  --strip-extras --unsafe-package heard --no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

# Fails when pyproject.toml asks for something requirements.lock does not pin (with hashes).
lock-check: $(STAMP)
	$(BIN)/python scripts/lock_check.py

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/heard demo

# The suite runs on every core (pytest-xdist), whole files to a worker so a module's
# fixtures are built once; PostgreSQL tests get a database per worker (tests/fixtures/db.py).
# PYTEST_WORKERS=0 runs it in this process, e.g. to use a debugger.
PYTEST_WORKERS ?= auto

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

run: $(STAMP)
	$(BIN)/heard run

# Every script in benchmarks/, each printing its figures and its baseline (see benchmarks/README.md).
.PHONY: bench
bench: $(STAMP)
	@for script in benchmarks/*.py; do \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; echo; \
	done

# The fuzz suite at length (tests/security/test_fuzz.py): HEARD_FUZZ_EXAMPLES requests through
# the whole of Heard (200 in `make test`), and ten times that at the edge (10,000 in `make test`).
.PHONY: fuzz
fuzz: $(STAMP)
	HEARD_FUZZ_EXAMPLES=$${HEARD_FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest tests/security/test_fuzz.py -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache heard-demo.db heard-digest.html
