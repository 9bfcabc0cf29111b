"""The offline theme engine: an exact partition, sensible themes, every awkward input.

Quality is measured on tests/data/themes/feedback.csv: 449 customer messages in 20 topics
with human labels, written for Heard (not real customers' words), by NMI and adjusted
mutual information (AMI) with the engine choosing the number of themes itself. Figures on
real customer queries (public labelled sets, not in this repository) come from
`benchmarks/themes.py quality` and are in the README ("Themes").
"""

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

from bot.features.digest import themes as engine
from bot.features.digest.themes import NO_WORDS_LABEL, find_themes

CORPUS = Path(__file__).resolve().parents[2] / "data" / "themes" / "feedback.csv"
# A second check in another domain and style: 216 short banking requests in 21 intents
# (5 to 19 each) and an "other" of odds and ends, near-paraphrases as real support
# queues get them, typos, four in other languages. Also written for Heard, and not tuned on.
BANKING = CORPUS.with_name("banking.csv")


def corpus(path: Path = CORPUS) -> list[tuple[str, str]]:
    return [(row["text"], row["label"]) for row in csv.DictReader(path.open(encoding="utf-8"))]


def assert_partition(themes, ids):
    found = [item_id for theme in themes for item_id in theme.item_ids]
    assert sorted(found) == sorted(ids)  # every id, each exactly once
    assert [theme.count for theme in themes] == sorted((t.count for t in themes), reverse=True)
    for theme in themes:
        assert theme.count >= 1 and theme.label
        assert 1 <= len(theme.representative_ids) <= 3
        assert set(theme.representative_ids) <= set(theme.item_ids)


def scores(rows):
    items = [(str(n), text) for n, (text, _) in enumerate(rows)]
    themes = find_themes(items)
    assert_partition(themes, [item_id for item_id, _ in items])
    theme_of = {item_id: n for n, theme in enumerate(themes) for item_id in theme.item_ids}
    truth = [label for _, label in rows]
    found = [theme_of[item_id] for item_id, _ in items]
    return normalized_mutual_info_score(truth, found), adjusted_mutual_info_score(truth, found)


def test_the_corpus_is_what_the_readme_says():
    rows = corpus()
    assert len(rows) == 449 and len({label for _, label in rows}) == 20


def test_quality_on_the_whole_corpus_choosing_the_count():
    nmi, ami = scores(corpus())
    # Measured 0.603 / 0.498 with 30 themes (README "Themes"): issue 18's goal, NMI 0.65
    # and AMI 0.58, is not met on this corpus (it is on the public banking queries). The
    # engine is deterministic; the floors sit just under the figures so a change that
    # costs quality fails here. (A rule once tuned on this corpus scored 0.579 / 0.516
    # here but AMI 0.46 on real banking queries.)
    assert nmi >= 0.59
    assert ami >= 0.49


def test_quality_on_the_banking_corpus_choosing_the_count():
    rows = corpus(BANKING)
    assert len(rows) == 216 and len({label for _, label in rows}) == 22  # 21 + "other"
    nmi, ami = scores(rows)
    # Measured 0.661 / 0.510 with 21 themes for 22 labels: under issue 18's AMI 0.58.
    assert nmi >= 0.65
    assert ami >= 0.50


# Means over three samples, measured 0.692 / 0.408 (60 messages, ~18 topics of 1 to 7
# each, at most 12 themes) and 0.616 / 0.438 (200, 22 themes for 20 topics): the rule is
# not tuned to one size. The NMI of 200 fell from 0.661 when the engine stopped cutting
# them into 40 themes (NMI rewards crumbs; AMI, which does not, rose from 0.414).
@pytest.mark.parametrize(("size", "nmi_floor", "ami_floor"), [(60, 0.68, 0.40), (200, 0.60, 0.43)])
def test_quality_on_subsamples_choosing_the_count(size, nmi_floor, ami_floor):
    rows = corpus()
    results = [scores(random.Random(seed).sample(rows, size)) for seed in range(3)]
    assert sum(nmi for nmi, _ in results) / len(results) >= nmi_floor
    assert sum(ami for _, ami in results) / len(results) >= ami_floor


def invented_word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4))


def test_many_topics_get_many_themes():
    """70 topics of 8 messages, each saying three of its topic's four words and one of 40
    shared filler words: the count follows the topics, past the 40 themes the engine once
    stopped at."""
    rng = random.Random(7)
    filler = [invented_word(rng) for _ in range(40)]
    topics = [[invented_word(rng) for _ in range(4)] for _ in range(70)]
    items, truth = [], []
    for topic, topic_words in enumerate(topics):
        for _ in range(8):
            words = [*rng.sample(topic_words, 3), rng.choice(filler)]
            rng.shuffle(words)
            items.append((str(len(items)), " ".join(words)))
            truth.append(topic)
    themes = find_themes(items)
    assert_partition(themes, [item_id for item_id, _ in items])
    theme_of = {item_id: n for n, theme in enumerate(themes) for item_id in theme.item_ids}
    found = [theme_of[item_id] for item_id, _ in items]
    assert 60 <= len(themes) <= 80
    assert adjusted_mutual_info_score(truth, found) > 0.9


def test_the_most_themes_a_count_allows():
    assert [engine._most_themes(n) for n in (1, 2, 3, 6, 9, 18, 20, 30, 60, 449)] == [
        0, 0, 1, 2, 3, 6, 6, 6, 12, 89]  # fmt: skip
    assert engine._most_themes(3_000) == engine.MAX_THEMES == 100


UNRELATED = [
    "The invoice shows 14 seats but we only have 9 active users",
    "Our execs finally read the reports because they look so good",
    "Our visually impaired colleague can't use the dashboard at all",
    "apple pay is not working with my card",
    "took forever to figure out how to add users during setup",
    "unauthorised transaction from an online store",
]


def test_distinct_points_are_counted_though_float32_self_cosines_miss_one():
    """The TF-IDF block is float32: a point's cosine with itself comes out a little under
    or over 1, and compared with 1 - 1e-9 half the points went uncounted, so six unrelated
    texts were allowed one theme. Texts whose points coincide (the same words in another
    order, runs of spaces) still count once."""
    texts = [engine.normalise(text) for text in UNRELATED]
    features = engine._Features(texts)
    cosines = engine._products(features.fitted, features.fitted)
    assert not np.all(np.diag(cosines) > 1.0 - 1e-9)  # what made the old count miss points
    assert engine._distinct_points(cosines) == 6
    themes = find_themes((str(n), text) for n, text in enumerate(UNRELATED))
    assert_partition(themes, [str(n) for n in range(6)])
    assert len(themes) == engine._most_themes(6) == 2

    same = ["card lost abroad", "abroad card lost", "lost  abroad card", "Lost: card, abroad!"]
    texts = list(dict.fromkeys(engine.normalise(text) for text in [*same, *UNRELATED[:3]]))
    assert len(texts) == 7  # distinct texts, but the first four are one point
    features = engine._Features(texts)
    assert engine._distinct_points(engine._products(features.fitted, features.fitted)) == 4


def test_refining_moves_a_point_to_its_nearest_centre():
    points = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.8, 0.2]])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    start = np.array([0, 0, 1, 1, 1])  # the last point sits with the wrong group
    themes, centres = engine._refine(points, np.ones(5), start)
    assert themes.tolist() == [0, 0, 1, 1, 0]
    assert np.allclose(np.linalg.norm(centres, axis=1), 1.0)
    # a theme every point leaves disappears, and the numbers stay dense
    same = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    themes, centres = engine._refine(same, np.ones(3), np.array([0, 1, 2]))
    assert themes.tolist() == [0, 0, 1] and len(centres) == 2


def test_refining_from_cosines_moves_points_as_refining_from_centres():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(300, 8)) + np.repeat(rng.normal(size=(6, 8)) * 2, 50, axis=0)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    weights = rng.integers(1, 4, size=300).astype(float)
    start = rng.integers(0, 9, size=300)  # a poor start: most points must move
    start = np.unique(start, return_inverse=True)[1]
    themes, centres = engine._refine(points, weights, start)
    again, centres_again = engine._refine(points, weights, start, cosines=points @ points.T)
    assert themes.tolist() == again.tolist() and np.allclose(centres, centres_again)
    assert not np.array_equal(themes, start)


def test_points_are_lsa_and_tf_idf_side_by_side():
    """A cosine between two texts is LSA_SHARE of their LSA cosine plus the rest of their
    full TF-IDF cosine, and every point stays unit length."""
    from sklearn.preprocessing import normalize

    texts = [engine.normalise(text) for text, _ in corpus()[:300]]
    features = engine._Features(texts)
    lsa, _ = features.fitted
    cosines = engine._products(features.fitted, features.fitted)
    assert np.allclose(np.diag(cosines), 1.0, atol=1e-5)
    sparse = features._sparse(texts, fit=False)
    expected = (
        engine.LSA_SHARE * (normalize(lsa) @ normalize(lsa).T)
        + (1 - engine.LSA_SHARE) * (normalize(sparse) @ normalize(sparse).T).toarray()
    )
    assert np.allclose(cosines, expected, atol=1e-5)
    # texts outside the fit land in the same space
    again = engine._products(features.transform(texts[:5]), features.fitted)
    assert np.allclose(again, cosines[:5], atol=1e-5)


def test_the_tree_sees_each_point_averaged_with_its_nearest():
    angles = np.radians([0, 10, 20, 90, 100, 110])
    points = np.column_stack([np.cos(angles), np.sin(angles)])
    cosines = points @ points.T
    smoothed = engine._smoothed(cosines, 2)
    assert np.allclose(np.diag(smoothed), 1.0) and np.allclose(smoothed, smoothed.T)
    # the two ends of a group come closer; the groups stay apart
    assert smoothed[0, 2] > cosines[0, 2]
    assert smoothed[0, 5] < smoothed[0, 2] - 0.5
    # one point alone, or no neighbours asked for: nothing to average
    assert np.array_equal(engine._smoothed(cosines[:1, :1], 3), cosines[:1, :1])
    assert np.array_equal(engine._smoothed(cosines, 0), cosines)


def test_themes_are_labelled_by_what_customers_said():
    themes = find_themes((str(n), text) for n, (text, _) in enumerate(corpus()))
    words = {word for theme in themes for word in theme.label.split(" · ")}
    assert {"export", "search", "dark", "support"} <= words


def test_no_items_no_themes():
    assert find_themes([]) == []


def test_one_item_is_one_theme():
    [theme] = find_themes([("F1", "The export to CSV is broken")])
    assert theme.item_ids == ("F1",) and theme.representative_ids == ("F1",)
    assert "export" in theme.label


def test_two_items():
    themes = find_themes([("a", "login fails"), ("b", "invoice charged twice")])
    assert_partition(themes, ["a", "b"])


def test_emoji_and_links_only_have_a_theme_of_their_own():
    items = [
        ("e1", "🔥🔥🔥"),
        ("e2", "https://example.com/ticket/123"),
        ("e3", "<https://acme.example/x|link> 👍"),
        ("e4", "12345 !!!"),
        ("e5", ""),
        ("w1", "search results are wrong"),
        ("w2", "search does not find my document"),
    ]
    themes = find_themes(items)
    assert_partition(themes, [item_id for item_id, _ in items])
    no_words = next(theme for theme in themes if theme.label == NO_WORDS_LABEL)
    assert set(no_words.item_ids) == {"e1", "e2", "e3", "e4", "e5"}


def test_duplicates_stay_together_and_each_is_counted():
    items = [(f"d{n}", "Charged twice this month!") for n in range(30)]
    items += [(f"x{n}", text) for n, (text, _) in enumerate(corpus()[:40])]
    themes = find_themes(items)
    assert_partition(themes, [item_id for item_id, _ in items])
    holding = {theme.label for theme in themes if {"d0", "d29"} & set(theme.item_ids)}
    assert len(holding) == 1
    theme = next(t for t in themes if "d0" in t.item_ids)
    assert {f"d{n}" for n in range(30)} <= set(theme.item_ids)


def test_five_languages():
    texts = [
        "I can't log in since this morning",
        "Ich kann mich seit heute Morgen nicht anmelden",
        "No puedo iniciar sesión desde esta mañana",
        "Je ne peux pas me connecter depuis ce matin",
        "Non riesco ad accedere da stamattina",
        "La facture est arrivée deux fois",
        "Die Rechnung kam zweimal",
        "La factura llegó dos veces",
        "The invoice arrived twice",
        "La fattura è arrivata due volte",
        "日本語のフィードバック：検索が遅い",
    ]
    items = [(str(n), text) for n, text in enumerate(texts)]
    assert_partition(find_themes(items), [str(n) for n in range(len(texts))])


def test_only_stop_words():
    items = [("a", "the and of"), ("b", "is it"), ("c", "why not")]
    assert_partition(find_themes(items), ["a", "b", "c"])


def test_ids_must_be_unique():
    with pytest.raises(ValueError):
        find_themes([("a", "one"), ("a", "two")])


@pytest.mark.parametrize("exact", [2000, 100])  # all placed exactly, or most by words
def test_many_items_are_fitted_on_a_sample_and_all_assigned(monkeypatch, exact):
    monkeypatch.setattr(engine, "FIT_SAMPLE", 150)
    monkeypatch.setattr(engine, "SILHOUETTE_SAMPLE", 100)  # scored on part of the sample
    monkeypatch.setattr(engine, "EXACT_ASSIGN", exact)
    rows = corpus()
    rng = random.Random(1)
    items = [(f"i{n}", f"{rng.choice(rows)[0]} #{n}") for n in range(1200)]
    items.append(("unknown", "zzqx vvbrm"))  # no word the sample knew
    found = find_themes(items)
    assert_partition(found, [item_id for item_id, _ in items])
    assert 2 <= len(found) <= engine.MAX_THEMES


def word_leads(features, themes, texts):
    """How clearly each text's words decide between its two best themes, computed here
    from the definition (`_assign`): the text's word counts against each theme's mean
    TF-IDF word vector weighted by idf, the best score's lead over the second relative to
    it, -1 for a text none of whose words the sample knew. Returns the leads and the best
    theme by words."""
    vocabulary, idf = features.words.vocabulary_, features.words.idf_
    counts = np.zeros((len(texts), len(vocabulary)))
    for row, text in enumerate(texts):
        for word in text.split():
            if engine._stem(word) in vocabulary:
                counts[row, vocabulary[engine._stem(word)]] += 1
    fitted = features.fitted_words.toarray()
    profiles = np.stack([fitted[themes == t].mean(axis=0) for t in range(themes.max() + 1)])
    scores = counts @ (profiles * idf).T
    ranked = np.sort(scores, axis=1)
    best, second = ranked[:, -1], ranked[:, -2]
    lead = np.where(best > 0, (best - second) / np.maximum(best, 1e-12), -1.0)
    return lead, np.argmax(scores, axis=1)


def test_texts_outside_the_sample_join_the_nearest_theme(monkeypatch):
    """Up to EXACT_ASSIGN texts outside the sample are placed by their full features; past
    that, by word profiles, except the EXACT_ASSIGN the words decide least clearly (and
    those with no known word), which are placed by their full features."""
    texts = [engine.normalise(text) for text, _ in corpus()]
    sample, rest = texts[:200], texts[200:]
    features = engine._Features(sample)
    themes, centres = engine._choose_themes(features.fitted, np.ones(len(sample)))
    nearest = np.argmax(engine._products(features.transform(rest), centres), axis=1)
    lead, by_profile = word_leads(features, themes, rest)

    def assigned(budget):
        monkeypatch.setattr(engine, "EXACT_ASSIGN", budget)
        return engine._assign(features, themes, centres, rest)

    assert np.array_equal(assigned(len(rest)), nearest)
    by_words, mixed = assigned(0), assigned(40)
    unknown = lead < 0  # placed exactly whatever the budget
    assert np.array_equal(by_words[unknown], nearest[unknown])
    assert np.array_equal(by_words[~unknown], by_profile[~unknown])
    # With a budget of 40, the texts placed exactly are the 40 least decided (those with
    # no known word first): each text whose placement changed is among them, and each of
    # them sits at its nearest theme (leads within 1e-9 of the 40th are ties either way).
    assert 0 < np.sum(unknown) < 20
    cut = np.sort(lead)[40 - 1]
    changed = np.flatnonzero(mixed != by_words)
    assert 0 < len(changed) <= 40
    assert np.all(lead[changed] <= cut + 1e-9)
    assert np.array_equal(mixed[changed], nearest[changed])
    surely_least = np.flatnonzero(lead < cut - 1e-9)
    assert len(surely_least) >= 30
    assert np.array_equal(mixed[surely_least], nearest[surely_least])
    assert np.sum(mixed == nearest) > np.sum(by_words == nearest)


ALIENS = ["жжж щщщ ъъъ", "ыыы эээ юююю", "ёёё ффф жжж", "ʃʃʃ ʒʒʒ ŋŋŋ", "ǂǂǂ ǁǁǁ"]


@pytest.mark.parametrize("exact", [2000, 0])  # placed exactly, or by words first
def test_texts_sharing_nothing_with_the_sample_are_other_feedback(monkeypatch, exact):
    """A text outside the sample with no word and no character n-gram the sample knew has
    no point: it once landed in theme 0 (the argmax of zeros), among unrelated feedback.
    It goes to a theme of its own, labelled as feedback that shares no term."""
    monkeypatch.setattr(engine, "EXACT_ASSIGN", exact)
    texts = [engine.normalise(text) for text, _ in corpus()]
    sample, rest = texts[:200], [*texts[200:260], *ALIENS]
    features = engine._Features(sample)
    themes, centres = engine._choose_themes(features.fitted, np.ones(len(sample)))
    placed = engine._assign(features, themes, centres, rest)
    assert placed[-len(ALIENS) :].tolist() == [len(centres[0])] * len(ALIENS)
    assert np.all(placed[: -len(ALIENS)] < len(centres[0]))

    # The same through find_themes: the aliens at distinct positions the sample leaves out.
    monkeypatch.setattr(engine, "FIT_SAMPLE", 150)
    monkeypatch.setattr(engine, "SILHOUETTE_SAMPLE", 100)
    english = [text for text, _ in corpus()]
    total = len(english) + len(ALIENS)
    sampled = set(np.random.default_rng(engine._SEED).choice(total, 150, replace=False).tolist())
    outside = [p for p in range(total) if p not in sampled][: len(ALIENS)]
    given = iter(english)
    items = [
        (f"alien{outside.index(p)}", ALIENS[outside.index(p)])
        if p in outside
        else (f"e{p}", next(given))
        for p in range(total)
    ]
    found = find_themes(items)
    assert_partition(found, [item_id for item_id, _ in items])
    [other] = [theme for theme in found if {"alien0"} & set(theme.item_ids)]
    assert set(other.item_ids) == {f"alien{n}" for n in range(len(ALIENS))}
    assert other.label == engine.OTHER_LABEL


def test_the_same_input_gives_the_same_themes():
    items = [(str(n), text) for n, (text, _) in enumerate(corpus()[:120])]
    assert find_themes(items) == find_themes(items)


words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(words, max_size=40))
def test_any_texts_are_partitioned_exactly(texts):
    items = [(f"id{n}", text) for n, text in enumerate(texts)]
    assert_partition(find_themes(items), [item_id for item_id, _ in items])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([t for t, _ in corpus()[:60]] + ["", "🙂", "ok"]), max_size=80))
def test_corpus_mixtures_with_repeats_are_partitioned_exactly(texts):
    items = [(f"id{n}", text) for n, text in enumerate(texts)]
    assert_partition(find_themes(items), [item_id for item_id, _ in items])


def test_only_the_start_of_a_long_text_is_read_and_its_item_keeps_its_place(monkeypatch):
    # 200 pasted 50 KB logs took 16 s in the character n-grams; a text's first
    # TEXT_CHARACTERS say what it is about.
    from bot.features.digest import themes

    seen: list[int] = []
    real = themes.normalise_all

    def recording(texts):
        seen.extend(map(len, texts))
        return real(texts)

    monkeypatch.setattr(themes, "normalise_all", recording)
    long_texts = [(f"log{i}", f"Export fails with timeout {i % 3} " + "x" * 50_000) for i in range(12)]
    short = [(f"s{i}", f"The mobile app crashes on login {i}") for i in range(12)]
    found = themes.find_themes(long_texts + short)
    assert max(seen) == themes.TEXT_CHARACTERS
    assert sorted(i for theme in found for i in theme.item_ids) == sorted(i for i, _ in long_texts + short)


def test_no_keyword_is_a_piece_of_personal_data():
    # Every item of a theme names the same domain, bank and Slack user: without taking
    # them out first, "hooli", "west" and "abcd" are the words the theme has most in common.
    rows = [row for row, _ in corpus()[:60]]
    data = ["jane.doe@hooli.example", "GB82-WEST-1234-5698-7654-32", "U0123ABCD", "<@U0456ABCD|hooli>",
            "bob@例え.hooli.jp"]  # fmt: skip
    items = [(f"i{n}", f"{text} (from {data[n % len(data)]})") for n, text in enumerate(rows)]

    terms = {term for theme in find_themes(items) for term in (*theme.terms, *theme.label.split())}

    assert not terms & {"hooli", "west", "abcd", "jane", "doe", "bob", "example", "email", "iban", "user"}


def test_personal_data_cut_in_two_by_the_reading_limit_leaves_no_word():
    for cut in range(0, 40, 3):
        text = "x " * ((engine.TEXT_CHARACTERS + engine._DATA_MARGIN - cut) // 2) + "jane.doe@hooli.example"
        assert "hooli" not in engine._readable(text) and "jane" not in engine._readable(text)


def test_a_long_text_made_mostly_of_personal_data_keeps_its_words():
    """The margin read past the cut is dropped again from the redacted text: when redaction
    had left less than the margin (a pasted list of addresses), nothing was left at all, and
    the item fell among the texts with no words."""
    text = "refund broken for " + "ann@hooli.example " * 200
    assert engine._readable(text).split() == ["refund", "broken", "for"]
