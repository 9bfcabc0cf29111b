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

    .venv/bin/python benchmarks/themes.py quality [FILE ...]

Quality instead of speed: NMI, AMI and the number of themes the engines choose, against
human labels, on the two corpora of tests/data/themes and on any labelled file given: a
CSV with a `text` column and a `label` (or `category`) column, such as the public
banking77 set (PolyAI, CC BY 4.0: `banking_data/test.csv`, 3,080 real customer queries in
77 intents), or a JSON file of `[text, label]` pairs under "test" (CLINC150's
`data_full.json`). Such files are read from where they are, never copied into Heard.
Files above 1,000 messages are also scored on a random 500 of them (a busy week's
backlog). The embeddings engine runs when heard[embeddings] is installed.
"""

from __future__ import annotations

import csv
import json
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
    if work is find_themes and len(args) == 2:
        work(args[0], vectors=args[1])
    else:
        work(*args)
    return time.perf_counter() - started


def normalise_all(texts: list[str]) -> None:
    for text in texts:
        normalise(text)


def labelled(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a CSV (text + label or category) or a CLINC-style JSON."""
    if path.suffix == ".json":
        return [(text, label) for text, label in json.loads(path.read_text())["test"]]
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    key = "label" if "label" in rows[0] else "category"
    return [(row["text"], row[key]) for row in rows]


def quality(paths: list[Path]) -> None:
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

    from bot.features.digest.embeddings import Encoder, unavailable_reason

    encoder = None if unavailable_reason() else Encoder(threads=2)
    sets: list[tuple[str, list[tuple[str, str]]]] = []
    for path in [CORPUS, CORPUS.with_name("banking.csv"), *paths]:
        rows = labelled(path)
        sets.append((path.name, rows))
        if len(rows) > 1000:
            sets.append((f"{path.name}, 500 of them", random.Random(18).sample(rows, 500)))
    print(f"{'corpus':<34} {'msgs':>5} {'topics':>6}   {'TF-IDF NMI / AMI':>17} {'themes':>6}"
          f"   {'embeddings NMI / AMI':>20} {'themes':>6}")  # fmt: skip
    for name, rows in sets:
        items = [(str(n), text) for n, (text, _) in enumerate(rows)]
        truth = [label for _, label in rows]
        line = f"{name:<34} {len(rows):>5} {len(set(truth)):>6}"
        engines = [None]
        if encoder is not None:
            encoded = encoder.encode([text for text, _ in rows])
            engines.append({str(n): vector for n, vector in enumerate(encoded)})
        for vectors in engines:
            themes = find_themes(items, vectors=vectors)
            theme_of = {i: n for n, theme in enumerate(themes) for i in theme.item_ids}
            found = [theme_of[item_id] for item_id, _ in items]
            nmi = normalized_mutual_info_score(truth, found)
            ami = adjusted_mutual_info_score(truth, found)
            line += f"   {nmi:>9.3f} / {ami:.3f} {len(themes):>6}"
        print(line, flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "quality":
        quality([Path(arg) for arg in sys.argv[2:]])
        return
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
    prompt_sizes()
    with_vectors(runs)


def prompt_sizes() -> None:
    """The LLM labelling prompt (labels.theme_prompt) beside sending every item."""
    from bot.features.digest.labels import TOKEN_BUDGET, estimate_tokens, theme_prompt

    print(f"\nLLM prompt, estimated tokens (budget {TOKEN_BUDGET:,}):")
    print(f"{'items':>8} {'themes':>6} {'items sent':>10} {'prompt':>8} {'every item':>11}")
    for size in SIZES:
        items = items_of(size)
        themes = find_themes(items)
        texts = dict(items)
        prompt = theme_prompt(themes, texts)
        naive = prompt.tokens + sum(estimate_tokens(f"- {text}") + 1 for text in texts.values())
        print(
            f"{size:>8,} {len(themes):>6} {prompt.items_sent:>10} {prompt.tokens:>8,} {naive:>11,}"
        )


def with_vectors(runs: int) -> None:
    """find_themes on stored sentence embeddings (heard[embeddings]): each item gets its
    source message's vector plus a little noise, as if encoded and stored at capture."""
    from bot.features.digest.embeddings import Encoder, unavailable_reason

    if unavailable_reason():
        print(f"\nthemes from vectors: skipped ({unavailable_reason()})")
        return
    import numpy as np

    texts = [row["text"] for row in csv.DictReader(CORPUS.open(encoding="utf-8"))]
    base = Encoder().encode(texts)
    print("\nthemes from stored vectors (Ward on a 2,000-text sample, the rest to the nearest):")
    print(f"{'items':>8} {'themes':>6} {'best':>8} {'median':>8}")
    for size in SIZES:
        rng = np.random.default_rng(size)
        items = items_of(size)
        source = rng.integers(len(texts), size=size)
        noisy = base[source] + rng.normal(scale=0.02, size=(size, base.shape[1]))
        vectors = {item_id: noisy[n] for n, (item_id, _) in enumerate(items)}
        times = [timed(find_themes, items, vectors) for _ in range(runs)]
        themes = find_themes(items, vectors=vectors)
        print(f"{size:>8,} {len(themes):>6} {min(times):>7.2f}s {statistics.median(times):>7.2f}s")


if __name__ == "__main__":
    main()
