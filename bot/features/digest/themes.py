"""The offline theme engine: ignored feedback grouped into themes, with no key and no model.

`find_themes(items)` takes feedback items (an id and a text each) and returns themes that
partition them exactly: every item is in exactly one theme. Themes come largest first, each
with a short label made of its top terms, the ids of all its items and up to three
representative items (those closest to the theme's centre).

How (scikit-learn, imported only here and only when called, so `heard --help` stays light):

- Personal data is taken out first (`bot.llm.redact.redact_for_words`: e-mails, Slack
  mentions and ids, IBANs, phone and card numbers), so no part of it can become a
  keyword: keywords go to the LLM in the labelling prompt and to leaders in Slack, and
  neither needs an e-mail's domain or a bank code to know what a theme is about; nor
  does an address group feedback. Then text is normalised (lower case; links, digits,
  punctuation and emoji dropped) and duplicates are grouped, so a message pasted ten times is one point with weight ten.
- Features: TF-IDF over words (lightly stemmed, no stop words) and over character
  3-5-grams inside words (robust to typos, and to languages without a stop list). A
  text's point is its LSA (truncated SVD) vector beside its full TF-IDF vector, weighted
  so that cosines are `LSA_SHARE` (0.3) LSA and the rest TF-IDF (`_Features._mix`): LSA
  joins paraphrases, the full TF-IDF keeps apart the close intents LSA's few dimensions
  blur. LSA keeps one dimension per `TEXTS_PER_DIMENSION` (20) texts fitted on, between
  15 and 50 (`LSA_DIMENSIONS`).
- Grouping: Ward's agglomerative tree over the points, each first averaged with its
  `NEIGHBOURS` (3) nearest (`_smoothed`: short messages are noisy samples of what was
  meant), cut at every k of a grid from 2 to `_most_themes` (at most `MAX_THEMES`, 100,
  and on average at least `MIN_THEME_SIZE` texts a theme, but up to six themes for very
  small inputs). The number of themes is the k whose cut scores the best cosine
  silhouette (on the points themselves) less `SIZE_PRIOR` * ln k (a slight preference
  for fewer themes where the silhouettes nearly tie); that cut is then polished by
  spherical k-means (every text to the nearest theme centre, centres recomputed,
  `REFINE_ROUNDS` at most). The rule was chosen on real labelled customer queries
  (banking and assistant intents, 25 to 150 topics, 150 to 3,000 messages) besides the
  two self-written corpora, and judged on a held-out public set of 3,080 banking queries
  in 77 intents (README "Themes"): LSA alone, Ward on the bare points and word-profile
  placement (below) chose 50 themes there, NMI 0.624 / AMI 0.552; this engine chooses
  70, NMI 0.679 / AMI 0.598 (issue 18's goal: 0.65 / 0.58). It still over-splits inputs
  with few topics (30 themes for the 20 of feedback.csv).
- Above `FIT_SAMPLE` (2,000) distinct texts, the features and themes are found on a
  random sample; up to `EXACT_ASSIGN` (2,000) other texts join the theme whose centre is
  nearest their point, and beyond that every other text joins the theme whose word
  profile it matches best (a sparse product, linear in the number of items), except the
  `EXACT_ASSIGN` least clearly decided and those with no known word, which are placed by
  their points (`_assign`); a text sharing no word and no character n-gram with the
  sample has no point, and joins a theme of its own labelled `OTHER_LABEL` (`_nearest`).
  Silhouettes, whose cost is the square of the points, are scored on `SILHOUETTE_SAMPLE`
  (1,000) of the sample. (Fitting every text up to 3,000 cost 1.5 s of CPU at 100k items
  against 1.0 s, for +0.01 AMI on 3,000 development queries: not taken.)
- Items with no words at all (only emoji, links or numbers) form a theme of their own.

With sentence embeddings (`find_themes(items, vectors=...)`, the `heard[embeddings]` extra,
`embeddings.py`): the same steps on the items' stored vectors, centred on their mean and
made unit again, instead of TF-IDF and LSA (the same averaged tree, count rule and
polish, on a sample of `FIT_SAMPLE` distinct texts, every other text joining the theme
whose centre is nearest). Labels and representatives are found as above. On the
held-out banking queries this chose 90 themes for 77 intents, NMI 0.816 / AMI 0.760
(before centring and averaging: 70 themes, 0.7996 / 0.749; README "Themes").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.llm.redact import redact_for_words

if TYPE_CHECKING:
    import numpy as np

LSA_DIMENSIONS = (15, 50)  # bounds of the LSA dimensions: one per TEXTS_PER_DIMENSION texts
TEXTS_PER_DIMENSION = 20
MAX_THEMES = 100
MIN_THEME_SIZE = 5  # themes are at most a fifth of the distinct texts (see _most_themes)
SIZE_PRIOR = 0.01  # the count's score: silhouette minus SIZE_PRIOR * ln(number of themes)
REFINE_ROUNDS = 20  # rounds of spherical k-means that polish the chosen cut of the tree
FIT_SAMPLE = 2000  # texts the features and the tree are fitted on: the tree is quadratic
SILHOUETTE_SAMPLE = 1000  # points a silhouette is scored on: quadratic
EXACT_ASSIGN = 2000  # texts outside the sample placed by their full features (see _assign)
NEIGHBOURS = 3  # each point is averaged with this many nearest ones for the tree
COINCIDENT = 1e-5  # a cosine this close to a point's own cosine with itself: the same point
LSA_SHARE = 0.3  # the part of a cosine that LSA gives; the rest is the full TF-IDF's cosine
REPRESENTATIVES = 3
# Characters of a text the themes read: feedback says what it is about early, and 200
# pasted 50 KB logs took 16 s of CPU in the character n-grams. Quotes show the whole text.
TEXT_CHARACTERS = 2000
# Read past the cut before taking personal data out, then dropped: longer than an e-mail
# address (254) or an IBAN, so a span the first cut splits cannot leave half of itself.
_DATA_MARGIN = 320
LABEL_TERMS = 3
NO_WORDS_LABEL = "No words (only emoji, links or numbers)"
OTHER_LABEL = "Other feedback"  # a theme whose items share no term

_SEED = 18
_ROWS = 256  # rows of a square matrix worked on at once (_smoothed): a few MB each
# Fine where themes are few, coarser above: a 90th theme differs little from an 80th.
_K_GRID = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 23, 26, 30, 35, 40, 45, 50, 60,
           70, 80, 90, 100)  # fmt: skip


@dataclass(frozen=True)
class Theme:
    """One theme of feedback: its label, every item's id, and the most typical items.

    `terms`, the keywords the label is made of, never hold a piece of personal data (see
    the module doc): they are shown to leaders and sent to the LLM as they are.
    """

    label: str
    item_ids: tuple[str, ...]
    representative_ids: tuple[str, ...]
    terms: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.item_ids)


def find_themes(
    items: Iterable[tuple[str, str]], *, vectors: Mapping[str, Sequence[float]] | None = None
) -> list[Theme]:
    """Group feedback items `(id, text)` into themes that partition them exactly.

    Every id appears in exactly one theme; themes are ordered largest first (ties by
    label). The number of themes is chosen from the data. Ids must be unique.

    `vectors` (item id to sentence embedding, `embeddings.ensure_vectors`) switches the
    grouping to the embeddings; when an item with words has no vector, or the vectors
    differ in length, the TF-IDF engine runs instead (and says so in the log).
    """
    ids: list[str] = []
    texts: list[str] = []
    for item_id, text in items:
        ids.append(str(item_id))
        texts.append(_readable(text or ""))
    if len(set(ids)) != len(ids):
        raise ValueError("feedback item ids must be unique")
    if not ids:
        return []
    import numpy as np

    # Duplicates (after normalising) are one point: cheaper, and a message pasted ten
    # times weighs ten but does not form a theme by itself.
    normalised = normalise_all(texts)
    position = {key: number for number, key in enumerate(dict.fromkeys(normalised))}
    item_text = np.fromiter(map(position.__getitem__, normalised), np.int64, len(texts))
    del normalised
    distinct = list(position)  # in order of first appearance, as the numbers were given
    first_item = np.unique(item_text, return_index=True)[1]
    weights = np.bincount(item_text, minlength=len(distinct)).astype(float)
    wordless = position.get("")

    theme_of_text = np.full(len(distinct), -1, dtype=np.int64)  # -1: no words
    labels: dict[int, list[str]] = {}
    ranks: dict[int, list[int]] = {}
    worded = np.arange(len(distinct), dtype=np.int64)
    if wordless is not None:
        worded = np.delete(worded, wordless)
    if len(worded):
        # scikit-learn's OpenMP runtime first: threadpool_limits reaches only the runtimes
        # already loaded, so in a fresh process (the CLI, a job's first run) the limit
        # would miss the work below (with k-means, 1k items took 9.7 s instead of 0.3 s).
        import sklearn.cluster  # noqa: F401
        from threadpoolctl import threadpool_limits

        points = _vectors_of(vectors, [ids[first_item[i]] for i in worded]) if vectors else None
        # One thread: the tree and the products on a few thousand points are over in
        # milliseconds, while OpenMP threads spinning on two shared cores made each fit
        # ten times slower (measured with k-means).
        with threadpool_limits(limits=1):
            found, labels, local_ranks = _cluster(
                [distinct[i] for i in worded], weights[worded], points
            )
        theme_of_text[worded] = found
        ranks = {theme: [int(worded[i]) for i in texts_] for theme, texts_ in local_ranks.items()}

    theme_of_item = theme_of_text[item_text]
    order = np.argsort(theme_of_item, kind="stable")  # items keep their given order
    sorted_themes = theme_of_item[order]
    bounds = np.flatnonzero(np.diff(sorted_themes)) + 1
    ordered_ids = list(map(ids.__getitem__, order.tolist()))
    themes: list[Theme] = []
    for start, end in zip([0, *bounds], [*bounds, len(order)], strict=True):
        theme = int(sorted_themes[start])
        member_ids = tuple(ordered_ids[start:end])
        if theme == -1:
            label, terms, representatives = NO_WORDS_LABEL, (), member_ids[:REPRESENTATIVES]
        else:
            terms = tuple(labels.get(theme, ()))
            label = " · ".join(terms) or OTHER_LABEL
            representatives = tuple(ids[first_item[text]] for text in ranks[theme])
        themes.append(Theme(label, member_ids, representatives, terms))
    themes.sort(key=lambda theme: (-theme.count, theme.label, theme.item_ids[0]))
    return themes


def _readable(text: str) -> str:
    """The part of `text` the themes read: its first `TEXT_CHARACTERS`, without personal data."""
    head = text[: TEXT_CHARACTERS + _DATA_MARGIN]
    readable = redact_for_words(head)
    if len(text) > len(head) and len(readable) > _DATA_MARGIN:
        readable = readable[:-_DATA_MARGIN]  # where a span cut in two would be
    return readable[:TEXT_CHARACTERS]


_SEPARATOR = "\x1e"  # ASCII record separator, between texts normalised together
_LINK = re.compile(r"https?://\S+|www\.\S+|<[^>\x1e]*>")  # Slack wraps links and mentions in <>
_NOT_A_WORD = re.compile(r"[\W\d_]+")
# ASCII letters, the separator and every byte of a multi-byte UTF-8 character are kept;
# other ASCII bytes (digits, punctuation, spaces) become a space.
_ASCII_NOT_A_WORD = bytes.maketrans(
    bytes(b for b in range(128) if not chr(b).isalpha() and b != 0x1E),
    b" " * sum(1 for b in range(128) if not chr(b).isalpha() and b != 0x1E),
)


def normalise(text: str) -> str:
    """Lower case, words only: no links, digits, punctuation or emoji."""
    return normalise_all([text])[0]


def normalise_all(texts: Sequence[str]) -> list[str]:
    """`normalise` for many texts at once: one pass over one string for the common case
    (ASCII), a regular expression only for the texts that need one. Ten times faster
    than a regular expression per text at 100k texts.

    Words are stemmed later, once per distinct word (`_word_terms`, `_assign`).
    """
    if not texts:
        return []
    # Each text lowered before joining: lower() on one string of 100k texts, one emoji
    # among them (four bytes a character), reserved three times its size at once (peak
    # memory +100 MB). The same result: the separator stops a final sigma's context.
    # Each big string is dropped once the next is made.
    joined = _SEPARATOR.join(map(str.lower, texts))
    if joined.count(_SEPARATOR) != len(texts) - 1:  # a text holds the separator itself
        joined = _SEPARATOR.join(text.replace(_SEPARATOR, " ").lower() for text in texts)
    if "http" in joined or "www." in joined or "<" in joined:
        joined = _LINK.sub(" ", joined)
    raw = joined.encode("utf-8", "surrogatepass").translate(_ASCII_NOT_A_WORD)
    del joined
    decoded = raw.decode("utf-8", "surrogatepass")
    del raw
    ascii_only = decoded.isascii()
    pieces = decoded.split(_SEPARATOR)
    del decoded
    # Runs of spaces are left inside a text (they make no word); only the ends are cut.
    parts = list(map(str.strip, pieces))
    del pieces
    if not ascii_only:
        odd = [i for i, part in enumerate(parts) if not part.isascii()]
        # One regular expression over them all (5,000 of 100k texts took 0.05 s one by
        # one), joined by "A": lowered text holds no capital, and a letter ends a run of
        # non-word characters as the end of a text does.
        joined = "A".join(parts[i] for i in odd)
        cleaned = (
            _NOT_A_WORD.sub(" ", joined).split("A")
            if joined.count("A") == len(odd) - 1
            else [_NOT_A_WORD.sub(" ", parts[i]) for i in odd]
        )
        for index, part in zip(odd, cleaned, strict=True):
            parts[index] = " ".join(part.split())
    return parts


class _Features:
    """Word and character TF-IDF, then LSA; fitted on the texts it is given."""

    def __init__(self, texts: Sequence[str]):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words = TfidfVectorizer(sublinear_tf=True, analyzer=_word_terms)
        self.chars = TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(3, 5))
        sparse = self._sparse(texts, fit=True)
        low, high = LSA_DIMENSIONS
        wanted = min(max(low, len(texts) // TEXTS_PER_DIMENSION), high)
        dimensions = min(wanted, sparse.shape[0] - 1, sparse.shape[1] - 1)
        # Two power iterations, not five: a third of the time, and mean AMI on the
        # development sets (README "Themes") 0.456 against 0.457.
        self.lsa = (
            TruncatedSVD(dimensions, n_iter=2, random_state=_SEED) if dimensions >= 2 else None
        )
        self.fitted = self._mix(sparse, self._reduce(sparse, fit=True))

    def _sparse(self, texts: Sequence[str], *, fit: bool):
        from scipy.sparse import csr_matrix, hstack

        parts = []
        for vectorizer in (self.words, self.chars):
            try:
                parts.append(
                    vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)
                )
            except ValueError:  # only stop words: no vocabulary for this analyser
                parts.append(csr_matrix((len(texts), 1)))
                vectorizer.heard_empty = True
        self.fitted_words = parts[0]
        return hstack(parts).tocsr()

    def _reduce(self, sparse, *, fit: bool):
        from sklearn.preprocessing import normalize

        if self.lsa is None:
            return normalize(sparse.toarray())
        reduced = self.lsa.fit_transform(sparse) if fit else self.lsa.transform(sparse)
        return normalize(reduced)

    def _mix(self, sparse, reduced):
        """The points the themes are found among, as two blocks of columns (`_products`):
        LSA and the full TF-IDF side by side, weighted so that a cosine between two points
        is LSA_SHARE of their LSA cosine plus the rest of their TF-IDF cosine (both parts
        unit length, so the points are too). Kept apart, not stacked: the dense block's
        products go to BLAS and the sparse block's stay sparse (2,000 texts' cosines in
        0.13 s, against 0.46 s for one stacked sparse matrix); float32 for the sparse
        block, its products a third quicker.

        Why both: LSA's few dimensions join texts that say one thing in other words (and
        absorb typos), but cannot hold 77 intents apart, while the full TF-IDF keeps every
        term that tells two close intents apart. Told the true count, on banking77's
        training queries (3,000), LSA alone scored AMI 0.53, the TF-IDF alone 0.58 but
        split small inputs into crumbs (feedback.csv: AMI 0.32 choosing the count); the
        mix 0.56, and choosing the count the best mean AMI over the development sets:
        0.536, against 0.500 for the TF-IDF alone, 0.522 for an even mix and 0.499 for
        LSA alone (README "Themes").
        """
        import math

        import numpy as np
        from sklearn.preprocessing import normalize

        if self.lsa is None:  # a handful of texts: the TF-IDF alone
            return (reduced,)
        full = normalize(sparse.astype(np.float32))
        full *= np.float32(math.sqrt(1.0 - LSA_SHARE))
        return (reduced * math.sqrt(LSA_SHARE), full)

    def transform(self, texts: Sequence[str]):
        """Points for texts outside the fit, comparable with `fitted`."""
        from scipy.sparse import csr_matrix, hstack

        parts = []
        for vectorizer in (self.words, self.chars):
            if getattr(vectorizer, "heard_empty", False):
                parts.append(csr_matrix((len(texts), 1)))
            else:
                parts.append(vectorizer.transform(texts))
        sparse = hstack(parts).tocsr()
        return self._mix(sparse, self._reduce(sparse, fit=False))


_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    """A light suffix strip ("charged", "charges" -> "charg"), at least three letters kept."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _word_terms(text: str) -> list[str]:
    """A normalised text's terms for the word TF-IDF: stems, without stop words."""
    stop = _stop_words()
    return [_stem(word) for word in text.split() if len(word) > 1 and word not in stop]


def _vectors_of(vectors: Mapping[str, Sequence[float]], ids: list[str]) -> np.ndarray | None:
    """The unit vectors of `ids` as one matrix, or None when one is missing or odd."""
    import logging

    import numpy as np

    rows = [vectors.get(item_id) for item_id in ids]
    missing = sum(1 for row in rows if row is None)
    if missing:
        logging.getLogger(__name__).info(
            "%d item(s) have no vector: themes from TF-IDF instead of embeddings", missing
        )
        return None
    try:
        points = np.array(rows, dtype=np.float32)  # float32: half the memory at 100k items
    except (ValueError, TypeError):  # vectors of different lengths, or not numbers
        logging.getLogger(__name__).warning("vectors differ in length: themes from TF-IDF")
        return None
    if points.ndim != 2 or points.shape[1] == 0 or not np.isfinite(points).all():
        logging.getLogger(__name__).warning("vectors are not usable: themes from TF-IDF")
        return None
    points /= np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    return points


def _cluster(
    distinct: list[str], weights: np.ndarray, vectors: np.ndarray | None = None
) -> tuple[np.ndarray, dict[int, list[str]], dict[int, list[int]]]:
    """Theme of every distinct text, each theme's label terms, and its texts by typicality.

    With `vectors` (one unit row per distinct text) the themes come from them, else from
    the texts' TF-IDF and LSA features; either way `_choose_themes` groups the points."""
    import numpy as np

    rng = np.random.default_rng(_SEED)
    if len(distinct) > FIT_SAMPLE:
        sample = np.sort(rng.choice(len(distinct), FIT_SAMPLE, replace=False))
    else:
        sample = np.arange(len(distinct))
    sample_texts = [distinct[i] for i in sample]
    themes = np.empty(len(distinct), dtype=int)
    rest = np.setdiff1d(np.arange(len(distinct)), sample, assume_unique=True)
    if vectors is not None:
        # Centred on the sample's mean: sentence embeddings share one common direction
        # (every text is "a customer message"), which inflates every cosine and blurs the
        # differences the themes are made of. Centring took mean AMI on the development
        # sets from 0.703 to 0.713 (feedback.csv 0.706 to 0.757, banking77 training
        # queries 0.730 to 0.738); removing further principal directions lost (0.70, 0.65).
        from sklearn.preprocessing import normalize

        mean = vectors[sample].mean(axis=0)
        points = (normalize(vectors[sample] - mean),)
        sample_themes, centres = _choose_themes(points, weights[sample])
        themes[sample] = sample_themes
        if len(rest):
            # (v - mean) . c for every text and centre without a centred copy of the rest
            # (a text's length does not change which centre is nearest); float32 like the
            # vectors: a third less time for 100k of them.
            centres_t = centres[0].T.astype(vectors.dtype)
            themes[rest] = np.argmax(vectors[rest] @ centres_t - mean @ centres_t, axis=1)
    else:
        features = _Features(sample_texts)
        points = features.fitted
        sample_themes, centres = _choose_themes(points, weights[sample])
        themes[sample] = sample_themes
        if len(rest):
            themes[rest] = _assign(features, sample_themes, centres, [distinct[i] for i in rest])

    labels = _labels([distinct[i] for i in sample], sample_themes, weights[sample])
    # Representatives: the sampled texts closest to their theme's centre (cosine).
    closeness = _products(points, centres)[np.arange(len(sample)), sample_themes]
    ranks: dict[int, list[int]] = {}
    for position in np.lexsort((sample, -closeness)):
        theme = int(sample_themes[position])
        if len(ranks.setdefault(theme, [])) < REPRESENTATIVES:
            ranks[theme].append(int(sample[position]))
    for theme in np.unique(themes):  # a theme only assigned to (never in the sample)
        ranks.setdefault(int(theme), [int(np.flatnonzero(themes == theme)[0])])
    return themes, labels, ranks


def _most_themes(count: int) -> int:
    """The most themes `count` distinct texts may be split into: a fifth of them (on
    average five texts a theme), up to six themes for small inputs (a third of them),
    and never more than MAX_THEMES."""
    return min(MAX_THEMES, max(count // MIN_THEME_SIZE, min(count // 3, 6)))


def _choose_themes(points, weights: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Ward's tree over the unit points (blocks of columns, `_products`), each averaged
    with its nearest few (`_smoothed`), cut at every k of the grid; the k whose cut has
    the best cosine silhouette less `SIZE_PRIOR * ln k` wins, and that cut is polished by
    spherical k-means (each text to its nearest theme centre, centres recomputed)."""
    import math

    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage

    count = points[0].shape[0]
    cosines = _products(points, points)
    largest = min(_most_themes(count), _distinct_points(cosines))
    if largest < 2:
        return _refine(points, weights, np.zeros(count, dtype=int), rounds=0)
    # Silhouettes cost the square of the points: above SILHOUETTE_SAMPLE they are scored
    # on a fixed random subset (the tree itself holds every point of the sample).
    scored = np.arange(count)
    if count > SILHOUETTE_SAMPLE:
        rng = np.random.default_rng(_SEED)
        scored = np.sort(rng.choice(count, SILHOUETTE_SAMPLE, replace=False))
    distances = np.clip(1.0 - cosines[np.ix_(scored, scored)], 0.0, 2.0)
    smoothed = _smoothed(cosines, NEIGHBOURS)
    condensed = _distances(smoothed, overwrite=smoothed is not cosines)
    del smoothed  # gone before the tree copies the distances
    tree = linkage(condensed, method="ward")
    best: tuple[float, np.ndarray] | None = None
    for k in [k for k in _K_GRID if k <= largest]:
        themes = fcluster(tree, k, criterion="maxclust") - 1
        themes_scored = np.unique(themes[scored], return_inverse=True)[1]
        if themes_scored.max() < 1:
            continue
        score = _silhouette(distances, themes_scored) - SIZE_PRIOR * math.log(k)
        if best is None or score > best[0]:
            best = (score, themes)
    if best is None:
        return _refine(points, weights, np.zeros(count, dtype=int), rounds=0)
    return _refine(points, weights, np.unique(best[1], return_inverse=True)[1], cosines=cosines)


def _distinct_points(cosines: np.ndarray) -> int:
    """How many different points there are among unit points with these cosines: texts
    whose points coincide (the same stems in another order, say) count once towards the
    most themes.

    A point coincides with an earlier one when their cosine is within `COINCIDENT` of the
    point's cosine with itself. Compared with 1 instead, half the points were missed: the
    TF-IDF block and sentence vectors are float32, whose self-cosines come out anywhere in
    0.9999987..1.0000009, so six unrelated texts counted as two points and formed one
    theme. Each point is at least as close to itself as the tolerance, so the first of
    every group of coinciding points counts."""
    import numpy as np

    close = cosines >= (np.diag(cosines) - COINCIDENT)[:, None]
    return int(np.sum(np.argmax(close, axis=1) == np.arange(len(cosines))))


def _smoothed(cosines: np.ndarray, neighbours: int) -> np.ndarray:
    """The cosines between points each moved halfway towards the mean of its `neighbours`
    nearest points (by the cosines given), the kernel S G S' of the averaging matrix S.

    Why: a short message is a noisy sample of what its author meant ("card not come",
    "where is my card"); averaging it with its nearest few before the tree is built joins
    paraphrases that share few terms, which Ward's greedy merges otherwise split early and
    never rejoin. Only the tree sees the averaged points: the count's silhouettes and the
    polish use the points themselves, since averaged points look tighter than they are
    (scoring silhouettes on them split feedback.csv's 20 topics into 80 themes). With 3
    neighbours mean AMI on the development sets rose from 0.530 to 0.553 (TF-IDF) and
    0.713 to 0.724 (embeddings); 1, 2, 4 and 5 neighbours scored 0.535 to 0.549 (README
    "Themes").
    """
    import numpy as np
    from scipy.sparse import csr_matrix, identity

    count = len(cosines)
    neighbours = min(neighbours, count - 1)
    if neighbours < 1:
        return cosines
    # A block of rows at a time, so that no second matrix as large as the cosines (and no
    # full table of argpartition's ranks) is ever alive: at 2,000 points each is 16-32 MB,
    # and holding several at once cost 100 MB of peak memory. Rows are independent in
    # both steps, so the result is the same to the bit.
    nearest = np.empty((count, neighbours), dtype=np.intp)
    for start in range(0, count, _ROWS):
        rows = cosines[start : start + _ROWS].astype(np.float32)  # ranks only: half the bytes
        rows[np.arange(len(rows)), np.arange(start, start + len(rows))] = -np.inf
        nearest[start : start + len(rows)] = np.argpartition(rows, count - neighbours, axis=1)[
            :, count - neighbours :
        ]
    averaging = csr_matrix(
        (np.ones(nearest.size), (np.repeat(np.arange(count), neighbours), nearest.ravel())),
        shape=(count, count),
    ) + neighbours * identity(count, format="csr")
    kernel = np.empty_like(cosines)
    for start in range(0, count, _ROWS):
        half = averaging[start : start + _ROWS] @ cosines  # those rows of S G
        kernel[:, start : start + len(half)] = averaging @ half.T  # those columns of S G S'
    lengths = np.sqrt(np.maximum(np.diag(kernel), 1e-24))
    kernel /= lengths[:, None]
    kernel /= lengths[None, :]
    return kernel


def _dense(matrix) -> np.ndarray:
    """A product's result as an array, whether its factors were sparse or not."""
    import numpy as np

    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


def _products(rows: tuple, columns: tuple) -> np.ndarray:
    """Every dot product between two sets of points, each given as blocks of columns (a
    tuple of arrays or sparse matrices with the same rows: one block for sentence
    vectors, LSA and the TF-IDF for text): the sum of the blocks' products, float64."""
    import numpy as np

    total = None
    for row_block, column_block in zip(rows, columns, strict=True):
        if total is None:
            total = _dense(row_block @ column_block.T).astype(np.float64, copy=False)
        elif hasattr(row_block, "tocsr") and hasattr(column_block, "tocsr"):
            # Both sparse: a block of rows at a time, added in place (float32 widened as it
            # goes), so neither the sparse product of 2,000 texts (mostly non-zero, with
            # its indices) nor a dense float64 copy of it is ever whole in memory. Rows
            # are independent: the sums are the same to the bit.
            transposed = column_block.T.tocsr()
            for start in range(0, row_block.shape[0], _ROWS):
                total[start : start + _ROWS] += _dense(
                    row_block[start : start + _ROWS] @ transposed
                )
        else:
            total += _dense(row_block @ column_block.T)
    return total


def _distances(cosines: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """The condensed Euclidean distance matrix (as scipy's pdist gives it) of unit points
    from their cosines (|a - b|^2 = 2 - 2 a.b), so one matrix product serves the tree,
    the silhouettes and the count of distinct points: pdist's loop took 0.45 s for 2,000
    vectors of 384 numbers, and cannot take sparse points. With `overwrite`, the cosines
    are worked on in place (a square matrix less in memory)."""
    import numpy as np
    from scipy.spatial.distance import squareform

    squared = cosines if overwrite else cosines.copy()
    squared *= -2.0
    squared += 2.0
    np.clip(squared, 0.0, None, out=squared)
    np.sqrt(squared, out=squared)
    np.fill_diagonal(squared, 0.0)
    return squareform(squared, checks=False)


def _refine(
    points,
    weights: np.ndarray,
    themes: np.ndarray,
    rounds: int = REFINE_ROUNDS,
    cosines: np.ndarray | None = None,
):
    """Spherical k-means from a partition: every point to the theme whose centre (its
    weighted mean direction) is nearest, until nothing moves or `rounds` have run. Themes
    left empty disappear. Returns the themes and their unit centres; points are an array
    of rows or a tuple of blocks of columns (`_products`), and the centres come alike.

    Given the points' `cosines`, the rounds need no centres: a point's cosine to a
    centre is its summed cosine to the theme's points over the length of their sum
    (itself a sum of cosines), a product with the theme memberships; with the TF-IDF
    block's centres as wide as the vocabulary, that is several times quicker.
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    blocks = points if isinstance(points, tuple) else (points,)
    size = blocks[0].shape[0]
    for _ in range(rounds):
        if cosines is None:
            scores = _products(blocks, _centres(blocks, weights, themes))
        else:
            count = int(themes.max()) + 1
            membership = csr_matrix((weights, (themes, np.arange(size))), shape=(count, size))
            sums = np.asarray(membership @ cosines)  # themes x points
            lengths = np.sqrt(np.maximum(np.asarray(membership.multiply(sums).sum(axis=1)), 0))
            scores = (sums / np.maximum(lengths, 1e-12)).T
        moved = np.argmax(scores, axis=1)
        if np.array_equal(moved, themes):
            break
        themes = np.unique(moved, return_inverse=True)[1]
    centres = _centres(blocks, weights, themes)
    return themes, (centres if isinstance(points, tuple) else centres[0])


def _centres(blocks: tuple, weights: np.ndarray, themes: np.ndarray) -> tuple:
    """Each theme's weighted mean direction, unit length across the blocks together."""
    import numpy as np
    from scipy.sparse import csr_matrix

    size = blocks[0].shape[0]
    count = int(themes.max()) + 1
    membership = csr_matrix((weights, (themes, np.arange(size))), shape=(count, size))
    sums = [_dense(membership @ block).astype("float64") for block in blocks]
    lengths = np.sqrt(sum(np.einsum("ij,ij->i", part, part) for part in sums))
    return tuple(part / np.maximum(lengths, 1e-12)[:, None] for part in sums)


def _silhouette(distances: np.ndarray, themes: np.ndarray) -> float:
    """The mean silhouette (as sklearn.metrics.silhouette_score, a point alone scoring 0),
    from one matrix product per k instead of sklearn's pass over all distances per k."""
    import numpy as np

    count = themes.max() + 1
    membership = np.zeros((len(themes), count))
    membership[np.arange(len(themes)), themes] = 1.0
    sums = distances @ membership
    sizes = membership.sum(axis=0)
    own = sizes[themes]
    rows = np.arange(len(themes))
    within = sums[rows, themes] / np.maximum(own - 1, 1)
    means = sums / np.maximum(sizes, 1)
    means[:, sizes == 0] = np.inf
    means[rows, themes] = np.inf
    nearest = means.min(axis=1)
    scores = (nearest - within) / np.maximum(np.maximum(within, nearest), 1e-12)
    scores[own == 1] = 0.0
    return float(scores.mean())


def _assign(features: _Features, sample_themes, centres, texts: list[str]):
    """The theme of every text outside the sample, in time linear in their number.

    Exactly, a text joins the theme whose centre is nearest its point (`_Features.
    transform`: characters, LSA and all): 0.2 s of CPU for 10,000 texts, so up to
    `EXACT_ASSIGN` texts are placed so. Beyond, a text's cosine to a theme's word profile
    is a sum over its words, so one sparse product scores every text against every theme
    (100k texts in 0.07 s); then the `EXACT_ASSIGN` texts whose words decide least
    clearly between their two best themes, and those none of whose words the sample
    knew, are placed exactly. Development figures (README "Themes"): on 3,000 banking77
    training queries (1,000 outside the sample) word profiles alone scored AMI 0.569,
    all placed exactly 0.583; on all 10,003 (8,003 outside), word profiles 0.585, the
    2,000 least decided placed exactly 0.599, 5,000 of them 0.605, all 0.606.
    """
    import numpy as np
    from scipy.sparse import coo_matrix, csr_matrix

    words = features.words
    theme_count = centres[0].shape[0]
    if getattr(words, "heard_empty", False) or len(texts) <= EXACT_ASSIGN or theme_count < 2:
        return _nearest(features, centres, texts)
    vocabulary = words.vocabulary_
    idf = words.idf_
    # Each theme's mean TF-IDF word vector, as a words x themes matrix weighted by idf.
    fitted = features.fitted_words
    membership = csr_matrix(
        (np.ones(len(sample_themes)), (sample_themes, np.arange(len(sample_themes)))),
        shape=(theme_count, len(sample_themes)),
    )
    profiles = np.asarray((membership @ fitted).todense()).T  # words x themes
    profiles /= np.maximum(np.bincount(sample_themes, minlength=theme_count), 1)
    profiles *= idf[:, None]

    # The texts are normalised already: words are what split() gives, and a word outside
    # the vocabulary (a stop word, or one the sample never saw) has no index. Done with
    # map() and numpy rather than the vectorizer's analyser, for speed at 100k texts.
    # "0" separates texts: normalised text has no digits (and split() would treat the
    # record separator as whitespace).
    tokens = " 0 ".join(texts).split()
    lookup = {word: vocabulary.get(_stem(word), -1) for word in set(tokens)}  # ~20k words
    lookup["0"] = -2
    flat = np.fromiter(map(lookup.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    rows = np.cumsum(flat == -2)
    known = flat >= 0
    counts = coo_matrix(
        (np.ones(int(known.sum())), (rows[known], flat[known])),
        shape=(len(texts), len(vocabulary)),
    ).tocsr()
    scores = np.asarray(counts @ profiles)
    themes = np.argmax(scores, axis=1)
    every = np.arange(len(texts))
    best = scores[every, themes]
    scores[every, themes] = -np.inf  # in place, not a sorted copy: 100k x 100 scores
    second = scores.max(axis=1)
    # How clearly the words decide: the lead of the best theme, relative to its score;
    # texts with no known word (best score 0) come first.
    lead = np.where(best > 0, (best - second) / np.maximum(best, 1e-12), -1.0)
    least = np.argsort(lead, kind="stable")[:EXACT_ASSIGN]
    exact = np.union1d(least, np.flatnonzero(lead < 0))
    themes[exact] = _nearest(features, centres, [texts[i] for i in exact])
    return themes


def _nearest(features: _Features, centres: tuple, texts: list[str]) -> np.ndarray:
    """The theme whose centre is nearest each text's point; a text that shares no word and
    no character n-gram with the sample (another script, say) has no point at all, and
    gets the theme count (`centres[0].shape[0]`): a theme of its own ("Other feedback",
    `OTHER_LABEL`), rather than theme 0, which the argmax of nothing but zeros would give it."""
    import numpy as np

    points = features.transform(texts)
    themes = np.argmax(_products(points, centres), axis=1)
    last = points[-1]  # the full TF-IDF (or, for a handful of texts, all there is)
    empty = np.diff(last.indptr) == 0 if hasattr(last, "indptr") else ~np.any(last, axis=1)
    themes[empty] = centres[0].shape[0]
    return themes


def _labels(texts: list[str], themes, weights) -> dict[int, list[str]]:
    """Each theme's top terms: words frequent in it and rare elsewhere (weighted by copies)."""
    import math

    stop = _stop_words()
    in_theme: dict[int, Counter[str]] = {}
    overall: Counter[str] = Counter()
    sizes: Counter[int] = Counter()
    for text, theme, weight in zip(texts, themes, weights, strict=True):
        words = {w for w in text.split() if len(w) > 2 and w not in stop}
        in_theme.setdefault(int(theme), Counter()).update(dict.fromkeys(words, weight))
        overall.update(dict.fromkeys(words, weight))
        sizes[int(theme)] += weight
    total = sum(sizes.values())
    labels: dict[int, list[str]] = {}
    for theme, counter in in_theme.items():
        scored = sorted(counter, key=lambda w: (-counter[w] * math.log(1 + total / overall[w]), w))
        enough = min(2, sizes[theme])  # a term said once is not a theme's name
        chosen = [w for w in scored if counter[w] >= enough][:LABEL_TERMS]
        labels[theme] = chosen
    return labels


_STOP: frozenset[str] | None = None


def _stop_words() -> frozenset[str]:
    """English stop words plus the courtesies every message carries."""
    global _STOP
    if _STOP is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        courtesies = {"please", "thanks", "thank", "just", "hello", "team", "hey"}
        _STOP = frozenset(ENGLISH_STOP_WORDS | courtesies)
    return _STOP
