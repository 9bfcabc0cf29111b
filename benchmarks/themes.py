"""How long the offline theme engine takes for 1k, 10k and 100k ignored items.

    .venv/bin/python benchmarks/themes.py [RUNS]

Items are the quality corpus (tests/data/themes/feedback.csv) rewritten at random: a word
dropped, two letters swapped, a ticket number added, so almost every item is distinct and
the engine cannot simply count duplicates. Each size runs RUNS times (default 3); the
table shows the fastest and the median. The baseline, measured in the same run, is
normalising every text (`themes.normalise`: one pass of string work per item, the least
any engine must do), so the ratios say how the engine scales whatever the machine's load.
Goal (issue 18): 100k items in 1.5 s on this machine's two cores, time growing no faster
than linearly. Not a test: nothing here can fail a build.
"""

from __future__ import annotations

import csv
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.features.digest.themes import find_themes, normalise

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "themes" / "feedback.csv"
SIZES = (1_000, 10_000, 100_000)


def items_of(size: int, seed: int = 18) -> list[tuple[str, str]]:
    texts = [row["text"] for row in csv.DictReader(CORPUS.open(encoding="utf-8"))]
    rng = random.Random(seed)
    items = []
    for number in range(size):
        words = rng.choice(texts).split()
        if len(words) > 3 and rng.random() < 0.5:
            del words[rng.randrange(len(words))]
        position = rng.randrange(len(words))
        word = words[position]
        if len(word) > 3 and rng.random() < 0.5:
            at = rng.randrange(len(word) - 1)
            words[position] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        words.append(f"#{rng.randrange(10**6)}")
        items.append((str(number), " ".join(words)))
    return items


def timed(work, *args) -> float:
    started = time.perf_counter()
    work(*args)
    return time.perf_counter() - started


def normalise_all(texts: list[str]) -> None:
    for text in texts:
        normalise(text)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    find_themes(items_of(200))  # imports and first calls out of the figures
    print(
        f"{'items':>8} {'themes':>6} {'engine best':>12} {'median':>8} "
        f"{'baseline':>9} {'ratio':>7} {'per 1k items':>13}"
    )
    per_item = []
    for size in SIZES:
        items = items_of(size)
        texts = [text for _, text in items]
        engine, baseline = [], []
        for _ in range(runs):
            baseline.append(timed(normalise_all, texts))
            engine.append(timed(find_themes, items))
        themes = find_themes(items)
        assert sum(theme.count for theme in themes) == size
        best, base = min(engine), min(baseline)
        per_item.append(best / size)
        print(
            f"{size:>8,} {len(themes):>6} {best:>11.2f}s {statistics.median(engine):>7.2f}s "
            f"{base:>8.2f}s {best / base:>6.1f}x {1000 * best / size:>12.3f}s"
        )
    growth = per_item[-1] / per_item[0]
    print(f"time per item at 100k / at 1k: {growth:.2f} (≤ 1 is no faster than linear)")


if __name__ == "__main__":
    main()
