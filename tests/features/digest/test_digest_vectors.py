"""The digest's themes from stored sentence embeddings (the `heard[embeddings]` extra):
the leadership-digest job encodes the backlog's missing vectors in a bounded batch before
building, stores them, and never encodes them again; the preview and a digest built
before the vectors caught up use TF-IDF and encode nothing."""

from datetime import timedelta

import pytest

from bot.features.digest import embeddings, service
from bot.features.digest import themes as theme_engine
from bot.features.digest.models import DigestVector
from tests.features.digest.seed import END, INVOICES, LOGINS
from tests.features.digest.test_delivery import room  # noqa: F401
from tests.features.digest.test_embeddings import CountingEncoder, needs_model

pytestmark = needs_model
D = timedelta(days=1)


@pytest.fixture
def encoder(monkeypatch):
    """The process's shared encoder, counting what it encodes (the real model)."""
    counting = CountingEncoder()
    monkeypatch.setattr(embeddings, "_ENCODER", counting)
    return counting


@pytest.fixture
def grouping(monkeypatch):
    """Whether each find_themes call got vectors (it still runs)."""
    calls: list[bool] = []
    real = theme_engine.find_themes

    def recording(items, *, vectors=None):
        calls.append(vectors is not None)
        return real(items, vectors=vectors)

    monkeypatch.setattr(theme_engine, "find_themes", recording)
    return calls


def test_the_job_encodes_a_bounded_batch_once_and_themes_follow_the_vectors(room, encoder, grouping, monkeypatch):  # noqa: F811
    texts = INVOICES[:6] + LOGINS[:6]
    room.seed(*[(text, END - 6 * D) for text in texts])
    monkeypatch.setattr(service, "ENCODE_BUDGET", 5)

    assert room.run().status == "succeeded"  # week 1: 5 of 12 encoded, themes from TF-IDF
    assert len(encoder.encoded) == 5 and len(room.rows(DigestVector)) == 5
    assert grouping == [False]

    room.at(END + 7 * D)
    assert room.run().status == "succeeded"  # week 2: 5 more
    room.at(END + 14 * D)
    assert room.run().status == "succeeded"  # week 3: the last 2, then themes from the vectors
    assert sorted(encoder.encoded) == sorted(texts)  # each text encoded once
    assert grouping == [False, False, True]

    room.at(END + 21 * D)
    assert room.run().status == "succeeded"  # week 4: nothing new to encode
    with room.runtime.sessions() as session:  # a preview: stored vectors, nothing encoded
        digest = service.build_digest(session, room.workspace_id, end=END + 21 * D)
    assert sorted(encoder.encoded) == sorted(texts) and grouping == [False, False, True, True, True]
    assert len(room.rows(DigestVector)) == 12
    by_topic = [{text in INVOICES for text in (item.text for item in digest.ignored if item.id in theme.item_ids)}
                for theme in digest.themes]  # fmt: skip
    assert all(len(topics) == 1 for topics in by_topic)  # each theme one topic


def test_a_preview_before_any_job_encodes_nothing(room, encoder, grouping):  # noqa: F811
    room.seed(*[(text, END - 6 * D) for text in INVOICES[:4] + LOGINS[:4]])
    with room.runtime.sessions() as session:
        digest = service.build_digest(session, room.workspace_id, end=END)
    assert digest.themes and encoder.encoded == [] and grouping == [False]
    assert room.rows(DigestVector) == []


def test_a_broken_model_costs_only_the_embeddings(room, encoder, monkeypatch):  # noqa: F811
    room.seed(*[(text, END - 6 * D) for text in INVOICES[:4] + LOGINS[:4]])

    def broken(texts):
        raise RuntimeError("onnxruntime: model file damaged")

    monkeypatch.setattr(encoder, "encode", broken)
    outcome = room.run()
    assert outcome.status == "succeeded" and room.rows(DigestVector) == []
    assert "queued for" in outcome.detail
