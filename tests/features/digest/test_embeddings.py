"""Sentence embeddings (`heard[embeddings]`): the real model on the corpora, themes from
vectors, and vectors stored once per item and text."""

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score
from sqlalchemy import delete, func, select

from bot.features.digest import embeddings
from bot.features.digest.embeddings import (
    DIMENSIONS,
    MODEL_ID,
    EmbeddingsUnavailable,
    Encoder,
    ensure_vectors,
)
from bot.features.digest.models import DigestVector
from bot.features.digest.themes import NO_WORDS_LABEL, find_themes
from bot.features.feedback.models import FeedbackItem

DATA = Path(__file__).resolve().parents[2] / "data" / "themes"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

needs_model = pytest.mark.skipif(
    not embeddings.available(), reason=f"{embeddings.unavailable_reason()} (make install does)"
)


def corpus(name: str) -> list[tuple[str, str]]:
    with (DATA / name).open(encoding="utf-8") as file:
        return [(row["text"], row["label"]) for row in csv.DictReader(file)]


@pytest.fixture(scope="module")
def encoded():
    """Both corpora encoded once for the module (about 4 s on one core)."""
    if not embeddings.available():
        pytest.skip(embeddings.unavailable_reason())
    rows = corpus("feedback.csv") + corpus("banking.csv")
    vectors = Encoder().encode([text for text, _ in rows])
    return dict(zip([text for text, _ in rows], vectors, strict=False))


def scores(rows, encoded):
    items = [(str(n), text) for n, (text, _) in enumerate(rows)]
    themes = find_themes(items, vectors={str(n): encoded[text] for n, (text, _) in enumerate(rows)})
    assert sorted(i for theme in themes for i in theme.item_ids) == sorted(i for i, _ in items)
    theme_of = {item_id: n for n, theme in enumerate(themes) for item_id in theme.item_ids}
    truth = [label for _, label in rows]
    found = [theme_of[item_id] for item_id, _ in items]
    return (
        normalized_mutual_info_score(truth, found),
        adjusted_mutual_info_score(truth, found),
        len(themes),
    )


# Measured with the engine choosing the count (README "Themes"): feedback.csv 0.783 /
# 0.727 with 30 themes for 20 topics, banking.csv 0.822 / 0.743 with 21 for 22. TF-IDF on
# the same: 0.603 / 0.498 and 0.661 / 0.510. Issue 18's goal is 0.80 / 0.74 (met on the
# public banking queries of the README, 0.816 / 0.760, and on banking.csv; not on
# feedback.csv).
@pytest.mark.parametrize(
    ("name", "nmi_floor", "ami_floor"),
    [("feedback.csv", 0.77, 0.72), ("banking.csv", 0.81, 0.73)],
)
def test_quality_with_embeddings_choosing_the_count(encoded, name, nmi_floor, ami_floor):
    nmi, ami, _ = scores(corpus(name), encoded)
    assert nmi >= nmi_floor
    assert ami >= ami_floor


def test_few_topics_are_not_split_into_many(encoded):
    rows = [row for row in corpus("feedback.csv") if row[1] in {"export", "login", "billing"}]
    _, ami, count = scores(rows, encoded)
    assert count <= 6 and ami >= 0.6


@needs_model
def test_vectors_are_unit_length_deterministic_and_mean_something():
    encoder = Encoder()
    texts = ["my card hasn't arrived yet", "the card you sent never came",
             "the app crashes when I open it", "", "🔥🔥", "Meine Karte ist nicht angekommen"]  # fmt: skip
    vectors = encoder.encode(texts)
    assert vectors.shape == (len(texts), DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(encoder.encode(texts[::-1])[::-1], vectors, atol=1e-6)  # order-free
    same, other = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > other + 0.2
    assert encoder.encode([]).shape == (0, DIMENSIONS)


@needs_model
def test_long_texts_are_truncated_not_refused():
    vectors = Encoder().encode(["export " * 2000, "short"])
    assert np.isfinite(vectors).all()


def test_without_the_extra_encoding_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(embeddings, "unavailable_reason", lambda: "install heard[embeddings]")
    with pytest.raises(EmbeddingsUnavailable, match="heard\\[embeddings\\]"):
        Encoder().encode(["x"])


# -- themes from vectors (no model needed) --------------------------------------------------


def blobs(sizes, seed=0, dimensions=DIMENSIONS):
    """Unit vectors around len(sizes) random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dimensions))
    points, truth = [], []
    for n, size in enumerate(sizes):
        points.append(centres[n] + rng.normal(scale=0.35, size=(size, dimensions)))
        truth += [n] * size
    points = np.vstack(points)
    return points / np.linalg.norm(points, axis=1, keepdims=True), truth


def letters(n: int) -> str:
    """A distinct word for each n (normalising drops digits)."""
    word = ""
    while True:
        word += "abcdefghijklmnopqrstuvwxyz"[n % 26]
        n //= 26
        if not n:
            return word


def test_themes_from_vectors_follow_the_vectors_not_the_words():
    points, truth = blobs([12, 9, 7, 4])
    # The texts share no word that groups them: only the vectors tell the groups apart.
    items = [(f"i{n}", f"feedback number {'x' * (n + 1)}") for n in range(len(truth))]
    themes = find_themes(
        items, vectors={item_id: points[n] for n, (item_id, _) in enumerate(items)}
    )
    found = {item_id: t for t, theme in enumerate(themes) for item_id in theme.item_ids}
    assert adjusted_mutual_info_score(truth, [found[item_id] for item_id, _ in items]) == 1.0


def test_float32_vectors_count_every_distinct_point():
    """Sentence vectors are float32: a unit vector's cosine with itself is not exactly 1,
    which once made the engine count too few distinct points and give small inputs one
    theme. Two clear groups of three items are two themes, whatever the noise."""
    from bot.features.digest import themes as engine

    rng = np.random.default_rng(0)
    points = rng.normal(size=(8, 384)).astype(np.float32)
    points[5] = points[2]  # one point twice: counted once
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    cosines = (points @ points.T).astype(np.float64)
    assert not np.all(np.diag(cosines) > 1.0 - 1e-9)
    assert engine._distinct_points(cosines) == 7
    for seed in range(20):
        rng = np.random.default_rng(seed)
        groups = rng.normal(size=(2, 384))
        vectors = {f"i{k}": (groups[k % 2] + 0.3 * rng.normal(size=384)).tolist() for k in range(6)}
        items = [(f"i{k}", f"note {'abcdef'[k]}") for k in range(6)]
        themes = find_themes(items, vectors=vectors)
        assert sorted(sorted(theme.item_ids) for theme in themes) == [
            ["i0", "i2", "i4"], ["i1", "i3", "i5"]]  # fmt: skip


def test_many_topics_in_vectors_get_many_themes():
    points, truth = blobs([8] * 70, seed=5, dimensions=64)
    items = [(f"i{n}", f"feedback {letters(n)}") for n in range(len(truth))]
    themes = find_themes(items, vectors={f"i{n}": points[n] for n in range(len(truth))})
    found = {item_id: t for t, theme in enumerate(themes) for item_id in theme.item_ids}
    assert 60 <= len(themes) <= 80  # the cap was 40 themes once
    assert adjusted_mutual_info_score(truth, [found[item_id] for item_id, _ in items]) > 0.95


def test_a_missing_or_odd_vector_falls_back_to_tf_idf(caplog):
    items = [(str(n), text) for n, (text, _) in enumerate(corpus("feedback.csv")[:60])]
    points, _ = blobs([30, 30])
    plain = find_themes(items)
    partial = {str(n): points[n] for n in range(59)}
    assert find_themes(items, vectors=partial) == plain
    uneven = {str(n): points[n][: 10 if n else 20] for n in range(60)}
    assert find_themes(items, vectors=uneven) == plain
    nan = {str(n): points[n] * (np.nan if n == 3 else 1) for n in range(60)}
    assert find_themes(items, vectors=nan) == plain


def test_wordless_items_keep_their_theme_with_vectors():
    points, _ = blobs([6, 6])
    items = [(f"w{n}", f"words {letters(n)} here") for n in range(12)]
    items += [("e", "🔥"), ("u", "https://x.y")]
    vectors = {f"w{n}": points[n] for n in range(12)}  # wordless items need none
    themes = find_themes(items, vectors=vectors)
    no_words = next(theme for theme in themes if theme.label == NO_WORDS_LABEL)
    assert set(no_words.item_ids) == {"e", "u"}
    assert sorted(i for theme in themes for i in theme.item_ids) == sorted(i for i, _ in items)


def test_many_items_with_vectors_are_fitted_on_a_sample_and_all_assigned(monkeypatch):
    from bot.features.digest import themes as engine

    monkeypatch.setattr(engine, "FIT_SAMPLE", 200)
    points, truth = blobs([900, 600, 400, 100], seed=3, dimensions=32)
    items = [(str(n), f"item {letters(n)} text") for n in range(len(truth))]  # all distinct
    themes = find_themes(items, vectors={str(n): points[n] for n in range(len(truth))})
    found = {item_id: t for t, theme in enumerate(themes) for item_id in theme.item_ids}
    assert sorted(found) == sorted(i for i, _ in items)
    assert adjusted_mutual_info_score(truth, [found[i] for i, _ in items]) > 0.95


# -- stored once ----------------------------------------------------------------------------


class CountingEncoder(Encoder):
    def __init__(self):
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded += list(texts)
        return super().encode(texts)


def add_items(session, workspace_id, texts) -> list[str]:
    items = [FeedbackItem(workspace_id=workspace_id, text=text, source="import", said_at=NOW)
             for text in texts]  # fmt: skip
    session.add_all(items)
    session.flush()
    return [str(item.id) for item in items]


@needs_model
def test_vectors_are_computed_once_and_reused(session, make_workspace):
    workspace = make_workspace()
    texts = ["Export to CSV is broken", "the export file is empty", "login fails"]
    ids = add_items(session, workspace.id, texts)
    encoder = CountingEncoder()

    first = ensure_vectors(session, workspace.id, list(zip(ids, texts, strict=True)), using=encoder)
    session.commit()
    again = ensure_vectors(session, workspace.id, list(zip(ids, texts, strict=True)), using=encoder)

    assert encoder.encoded == texts  # each text encoded once, in the first call only
    assert set(first) == set(again) == set(ids)
    for item_id in ids:
        assert np.array_equal(first[item_id], again[item_id])
        assert again[item_id].shape == (DIMENSIONS,)
    count = session.scalar(select(func.count()).select_from(DigestVector))
    assert count == 3
    assert {row.model for row in session.scalars(select(DigestVector))} == {MODEL_ID}


@needs_model
def test_an_edited_item_is_encoded_again(session, make_workspace):
    workspace = make_workspace()
    [item_id] = add_items(session, workspace.id, ["login fails"])
    encoder = CountingEncoder()
    before = ensure_vectors(session, workspace.id, [(item_id, "login fails")], using=encoder)

    after = ensure_vectors(
        session, workspace.id, [(item_id, "invoice charged twice")], using=encoder
    )

    assert encoder.encoded == ["login fails", "invoice charged twice"]
    assert not np.allclose(before[item_id], after[item_id])
    [row] = session.scalars(select(DigestVector)).all()
    assert np.array_equal(np.frombuffer(row.vector, dtype="<f4"), after[item_id])


@needs_model
def test_deleting_an_item_deletes_its_vector(session, make_workspace):
    workspace = make_workspace()
    ids = add_items(session, workspace.id, ["a customer's words", "another's"])
    ensure_vectors(
        session, workspace.id, list(zip(ids, ["a customer's words", "another's"], strict=True))
    )
    session.commit()

    session.execute(delete(FeedbackItem).where(FeedbackItem.id == int(ids[0])))
    session.commit()

    assert [row.feedback_id for row in session.scalars(select(DigestVector))] == [int(ids[1])]


@needs_model
def test_a_row_that_cannot_be_stored_does_not_stop_the_others(session, make_workspace):
    # An item deleted while its vector was computed (the foreign key refuses the row), or
    # one another run stored first (the unique key does): the rest are stored all the same.
    workspace = make_workspace()
    ids = add_items(session, workspace.id, ["one", "two"])
    gone = str(int(ids[-1]) + 1000)

    result = ensure_vectors(session, workspace.id, [(ids[0], "one"), (gone, "x"), (ids[1], "two")])
    session.commit()

    assert set(result) == {ids[0], ids[1], gone}  # this digest still gets every vector
    stored = {row.feedback_id for row in session.scalars(select(DigestVector))}
    assert stored == {int(ids[0]), int(ids[1])}


@needs_model
def test_encoding_is_bounded_per_call_and_carries_on(session, make_workspace):
    workspace = make_workspace()
    texts = ["one", "two", "three", "four", "five"]
    ids = add_items(session, workspace.id, texts)
    items = list(zip(ids, texts, strict=True))
    encoder = CountingEncoder()

    first = ensure_vectors(session, workspace.id, items, using=encoder, max_encode=2)
    second = ensure_vectors(session, workspace.id, items, using=encoder, max_encode=2)
    third = ensure_vectors(session, workspace.id, items, using=encoder, max_encode=2)

    assert sorted(first) == sorted(ids[:2])  # the others left out, not encoded
    assert sorted(second) == sorted(ids[:4]) and sorted(third) == sorted(ids)
    assert encoder.encoded == texts  # each once, two per call
    assert ensure_vectors(session, workspace.id, items, using=encoder, max_encode=0).keys() == set(
        ids
    )


def test_nothing_to_encode_needs_no_model(session, make_workspace, monkeypatch):
    monkeypatch.setattr(embeddings, "unavailable_reason", lambda: "install heard[embeddings]")
    workspace = make_workspace()
    assert ensure_vectors(session, workspace.id, []) == {}
