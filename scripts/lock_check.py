"""Does requirements.lock pin what pyproject.toml asks for? (`make lock-check`)

Every dependency of Heard and of the extras `make install` installs (`dev`, and the
extras it names) must be pinned in the lock with `==`, at a version its specifier
allows, with at least one `--hash`. Prints each disagreement on a line of its own and
exits 1, or says the lock is current and exits 0. Run `make lock` to regenerate it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
EXTRA = "dev"  # what `make install` installs: heard[dev]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def pins(lock_text: str) -> dict[str, tuple[str, bool]]:
    """Package name -> (pinned version, has a hash) in a pip-compile lock file."""
    found: dict[str, tuple[str, bool]] = {}
    current = None
    for line in lock_text.splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            found[current] = (match.group(2), "--hash=" in line)
        elif current and line.startswith(" ") and "--hash=" in line:
            found[current] = (found[current][0], True)
        elif not line.startswith(" "):
            current = None
    return found


def wanted(pyproject: dict, extra: str = EXTRA) -> list[Requirement]:
    """The requirements `pip install -e '.[extra]'` resolves: the dependencies and the
    extra's, following the project's references to its own extras."""
    project = pyproject["project"]
    name = canonicalize_name(project["name"])
    extras = project.get("optional-dependencies", {})
    found = [Requirement(text) for text in project.get("dependencies", [])]
    todo, seen = [extra], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for text in extras.get(current, []):
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == name:
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def problems(pyproject: dict, lock_text: str) -> list[str]:
    pinned = pins(lock_text)
    found = []
    for requirement in wanted(pyproject):
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": EXTRA}):
            continue
        key = canonicalize_name(requirement.name)
        if key not in pinned:
            found.append(f"{requirement.name} is in pyproject.toml but not in the lock")
            continue
        version, hashed = pinned[key]
        if not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name}=={version} in the lock does not satisfy {requirement}")
        if not hashed:
            found.append(f"{requirement.name}=={version} has no hash in the lock")
    return found


def main() -> int:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lock = ROOT / "requirements.lock"
    if not lock.exists():
        print("requirements.lock is missing: run `make lock`")
        return 1
    found = problems(pyproject, lock.read_text(encoding="utf-8"))
    for line in found:
        print(line)
    if found:
        print("pyproject.toml and requirements.lock disagree: run `make lock` and commit both")
        return 1
    print(f"requirements.lock pins every dependency of heard[{EXTRA}], with hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
