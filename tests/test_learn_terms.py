"""Tests for learning issues from example articles: the issue model, its file, and its cache keyed by the examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks.issue_model import (IssueModel, ModelSet, analyse, char_grams, examples_digest, fit_model, load_model,
                               word_grams)
from tasks.learn_terms import learn_from_examples, read_example

SPORT = [
    "The goalkeeper saved a penalty shootout kick as the club reached the final on Saturday.",
    "A late goal from the striker gave the club victory; the goalkeeper kept a clean sheet.",
    "The goalkeeper was injured before the penalty shootout, and the club coach made changes.",
    "Fans cheered the goalkeepers of both sides after the penalty shootout at the stadium.",
    "The club signed a new goalkeeper, and the council approved plans for a bigger stadium.",
    "After the match the striker thanked the fans of the club and the town council.",
]
ECONOMY = [
    "The central bank raised interest rates as inflation rose faster than economists expected.",
    "Shares fell after the bank warned that interest rates would stay high, the council said.",
    "Economists said inflation and interest rates weighed on households and the town council.",
    "The bank's profits rose as interest rates climbed; economists expect a slowdown next year.",
    "Inflation eased in March, and the council said the bank would hold interest rates.",
    "A sports club reported a loss as inflation pushed up costs and the bank cut lending.",
]
LABELS = [frozenset({"sport"})] * len(SPORT) + [frozenset({"economy"})] * len(ECONOMY)


@pytest.fixture(scope="module")
def model() -> IssueModel:
    return fit_model(SPORT + ECONOMY, LABELS, ["economy", "sport"])


def test_terms_are_words_bigrams_and_stems_without_stop_words() -> None:
    terms = analyse("The customers' customs-free purchases of the 2 shops")
    assert {"customers", "customs", "free", "customers customs", "~custom"} <= set(terms)
    assert "the" not in terms and "2" not in terms and "of" not in terms
    assert "customers" != "customs" and terms.count("~custom") == 2, "words stay apart, their stems are shared"


def test_model_scores_each_issue_with_calibrated_probabilities(model: IssueModel) -> None:
    sport = model.predict("The striker and the goalkeeper won the penalty shootout for the club.")
    economy = model.predict("Economists expect the bank to raise interest rates as inflation climbs.")
    s, e = model.issues.index("sport"), model.issues.index("economy")
    assert sport.probabilities[s] > 0.5 > sport.probabilities[e]
    assert economy.probabilities[e] > 0.5 > economy.probabilities[s]
    assert all(0 < p < 1 for p in [*sport.probabilities, *economy.probabilities])
    unknown = model.predict("Nothing here is known to the model.")
    assert unknown.columns.size == 0 and np.all(unknown.probabilities < 0.9)


def test_evidence_is_the_terms_of_the_text_that_pushed_the_score(model: IssueModel) -> None:
    text = "The goalkeepers and the club won the penalty shootout."
    prediction = model.predict(text)
    evidence = model.evidence(model.issues.index("sport"), prediction)
    terms = [t for t, _ in evidence]
    assert "goalkeepers" in terms and "club" in terms
    assert all(push > 0 for _, push in evidence)
    assert [p for _, p in evidence] == sorted((p for _, p in evidence), reverse=True)
    words = set(analyse(text))
    assert all(term in words for term in terms), "a stem feature is shown as the text's own word"
    assert not model.evidence(model.issues.index("economy"), prediction) or \
        all(t in words for t, _ in model.evidence(model.issues.index("economy"), prediction))


def test_scores_match_scikit_learn_on_the_same_features(model: IssueModel) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=analyse, sublinear_tf=True, vocabulary=list(model.terms))
    vectorizer.fit(SPORT + ECONOMY)
    vectorizer.idf_ = model.idf
    text = "Inflation and interest rates hit the club's budget, economists said."
    dense = vectorizer.transform([text]).toarray()[0]
    columns, values = model.vector(text)
    assert np.allclose(dense[columns], values) and np.isclose(dense.sum(), values.sum())


def test_model_file_round_trips_without_pickle(tmp_path: Path, model: IssueModel) -> None:
    path = tmp_path / "models" / "m.npz"
    model.save(path)
    again = load_model(path)
    assert again.issues == model.issues and again.terms == model.terms
    text = "The club's goalkeeper saved a penalty."
    # weights are stored in half precision
    assert np.allclose(again.predict(text).probabilities, model.predict(text).probabilities, atol=1e-3)
    (tmp_path / "broken.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an issue model"):
        load_model(tmp_path / "broken.npz")


def test_an_issue_needs_examples_on_both_sides() -> None:
    with pytest.raises(ValueError, match="'lonely'"):
        fit_model(SPORT + ECONOMY[:1], [*LABELS[:len(SPORT)], frozenset({"lonely"})], ["lonely", "sport"])


def test_texts_of_one_item_count_as_one_example_for_calibration() -> None:
    # the lonely issue has two texts, both readings of one item: one example, so it cannot be calibrated
    texts = SPORT + ECONOMY + ["The bishop blessed the new bells.", "The bishop blessed the bells."]
    labels = [*LABELS, frozenset({"lonely"}), frozenset({"lonely"})]
    issues = ["economy", "lonely", "sport"]
    assert fit_model(texts, labels, issues).issues == tuple(issues), "as separate examples it is learned"
    groups = [*range(len(LABELS)), "bells", "bells"]
    with pytest.raises(ValueError, match="'lonely'"):
        fit_model(texts, labels, issues, groups=groups)
    # two items of two readings each: learned, and each reading scores it above the others
    more = texts + ["The vicar rang the church bells.", "The vicar rang the bells."]
    model = fit_model(more, [*labels, frozenset({"lonely"}), frozenset({"lonely"})], issues,
                      groups=[*groups, "vicar", "vicar"])
    bells = model.predict("The vicar and the bishop rang the bells.").probabilities
    assert bells.argmax() == model.issues.index("lonely")


def _examples(root: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for issue, texts in (("sport", SPORT), ("economy", ECONOMY)):
        (root / issue).mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(texts):
            path = root / issue / f"{i}.txt"
            path.write_text(f"Headline {i}\n\n{text}\n", encoding="utf-8")
            files.setdefault(issue, []).append(path)
    return files


def test_fitted_model_is_cached_by_a_hash_of_the_example_files(tmp_path: Path) -> None:
    files = _examples(tmp_path / "examples")
    cache = tmp_path / "cache"
    first = learn_from_examples(files, cache)
    [cached] = list(cache.iterdir())
    assert cached.name == f"{examples_digest([(i, p) for i, ps in files.items() for p in ps])}.npz"
    inode = cached.stat().st_ino
    again = learn_from_examples(files, cache)
    assert cached.stat().st_ino == inode and again.meta["digest"] == first.meta["digest"], "read, not refitted"
    files["sport"][0].write_text("Headline\n\nThe striker scored twice in the derby.\n", encoding="utf-8")
    changed = learn_from_examples(files, cache)
    assert changed.meta["digest"] != first.meta["digest"] and len(list(cache.iterdir())) == 2


def test_the_cache_keeps_the_most_recently_used_models(tmp_path: Path) -> None:
    import os

    from tasks.learn_terms import KEEP_CACHED

    files = _examples(tmp_path / "examples")
    cache = tmp_path / "cache"
    first = cache / f"{learn_from_examples(files, cache).meta['digest']}.npz"
    os.utime(first, (1_000, 1_000))
    learn_from_examples(files, cache)  # a hit: marked as used now
    assert first.stat().st_mtime > 1_000
    for n in range(KEEP_CACHED + 3):  # models of earlier example sets, none used lately
        (cache / f"old{n}.npz").write_bytes(b"x")
        os.utime(cache / f"old{n}.npz", (2_000 + n, 2_000 + n))
    (cache / ".tmp-being-written.npz").write_bytes(b"x")  # another process's model, half written
    os.utime(cache / ".tmp-being-written.npz", (1_000, 1_000))
    files["sport"][0].write_text("Headline\n\nThe striker scored twice in the derby.\n", encoding="utf-8")
    changed = cache / f"{learn_from_examples(files, cache).meta['digest']}.npz"
    kept = {p.name for p in cache.iterdir()}
    newest_old = {f"old{n}.npz" for n in range(5, KEEP_CACHED + 3)}  # 6 of them, beside the 2 used lately
    assert kept == {first.name, changed.name, *newest_old, ".tmp-being-written.npz"}, sorted(kept)


def test_an_unreadable_cache_entry_is_fitted_again(tmp_path: Path) -> None:
    files = _examples(tmp_path / "examples")
    cache = tmp_path / "cache"
    learn_from_examples(files, cache)
    [cached] = list(cache.iterdir())
    cached.write_bytes(b"garbage")
    model = learn_from_examples(files, cache)
    assert set(model.issues) == {"sport", "economy"} and load_model(cached).issues == model.issues


def test_a_cached_model_is_checked_as_a_fitted_one_is(tmp_path: Path, model: IssueModel) -> None:
    # a model cached before the check (here: any model under the examples' digest) for examples one issue of
    # which holds no words used to be read back as it was, and that issue could never be tagged
    files = _examples(tmp_path / "examples")
    for index, path in enumerate(files["economy"]):
        path.write_text("!!! ---\n" if index % 2 else "?? ...\n", encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="no word of issue 'economy'"):
        learn_from_examples(files, cache)
    assert not cache.exists() or not list(cache.iterdir()), "not cached"
    model.save(cache / f"{examples_digest([(i, p) for i, ps in files.items() for p in ps])}.npz")
    with pytest.raises(ValueError, match="no word of issue 'economy'"):
        learn_from_examples(files, cache)


def test_examples_are_read_as_utf8_or_latin1(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes("Müller's goal".encode("latin-1"))
    assert read_example(path) == "Müller's goal"


def test_fitting_works_beside_the_warehouse_absent_pandas_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    # warehouse/connect.py marks pandas absent with sys.modules["pandas"] = None; scikit-learn trips on that
    import sys

    import warehouse.connect  # noqa: F401  (sets the mark when pandas is not installed)

    monkeypatch.setitem(sys.modules, "pandas", None)
    model = fit_model(SPORT + ECONOMY, LABELS, ["economy", "sport"])
    assert set(model.issues) == {"economy", "sport"}
    assert "pandas" in sys.modules and sys.modules["pandas"] is None, "the mark is put back"


def test_an_issue_scores_as_the_best_of_its_own_row_and_its_parts() -> None:
    # rows: economy's own, sport's own, and a fisheries part of economy; p = sigmoid(w . x)
    model = IssueModel(("economy", "sport"), ("cod", "goal"), np.ones(2), np.array([[0.5, -1.0], [-1.0, 2.0], [3.0, -1.0]]),
                       np.zeros(3), np.array([[-1.0, 0.0]] * 3), np.array([0, 1, 0]))
    cod = model.predict("cod")
    assert list(cod.rows) == [2, 1] and np.allclose(cod.probabilities, [1 / (1 + np.exp(-3)), 1 / (1 + np.exp(1))])
    assert model.evidence(0, cod) == [("cod", 3.0)], "evidence comes from the row that gave the score"
    goal = model.predict("goal")
    assert list(goal.rows) == [0, 1] and np.isclose(goal.probabilities[0], 1 / (1 + np.exp(1)))
    for owners in ([0, 0, 1], [0, 1, -1], [0, 1, 2]):
        with pytest.raises(ValueError, match="own rows must come first"):
            IssueModel(("economy", "sport"), ("cod", "goal"), np.ones(2), np.zeros((3, 2)), np.zeros(3),
                       np.zeros((3, 2)), np.array(owners))
    with pytest.raises(ValueError, match="whole numbers"):
        IssueModel(("economy", "sport"), ("cod", "goal"), np.ones(2), np.zeros((3, 2)), np.zeros(3),
                   np.zeros((3, 2)), np.array([0, 1, 0.5]))
    with pytest.raises(ValueError, match="shapes"):
        IssueModel(("economy", "sport"), ("cod", "goal"), np.ones(2), np.zeros((3, 2)), np.zeros(3),
                   np.zeros((3, 2)), np.array([0, 1]))


def test_parts_with_enough_examples_get_rows_and_survive_the_file(tmp_path: Path) -> None:
    texts = SPORT + ECONOMY
    parts = [("sport", "goalkeeping") if "goalkeeper" in t else None for t in SPORT] + [None] * len(ECONOMY)
    assert parts.count(("sport", "goalkeeping")) == 5
    model = fit_model(texts, LABELS, ["economy", "sport"], parts=parts)
    assert len(model.coef) == 3 and list(model.owners) == [0, 1, 1] and model.meta["parts"] == ["sport goalkeeping"]
    text = "The goalkeeper saved a penalty."
    prediction = model.predict(text)
    s = model.issues.index("sport")
    assert prediction.probabilities[s] > 0.5 and prediction.rows[s] == 2, "the goalkeeping part scores it"
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert list(again.owners) == [0, 1, 1]
    assert np.allclose(again.predict(text).probabilities, prediction.probabilities, atol=1e-3)
    assert len(fit_model(texts, LABELS, ["economy", "sport"], parts=parts, min_part=6).coef) == 2, \
        "a part with fewer examples than min_part is left to its issue's own classifier"
    # texts of one item count once: five goalkeeping texts from two items are two examples of the part
    groups = [*(("a" if i < 3 else "b") if p else i for i, p in enumerate(parts[:len(SPORT)])), *range(6, 12)]
    assert len(fit_model(texts, LABELS, ["economy", "sport"], groups=groups, parts=parts, min_part=3).coef) == 2
    with pytest.raises(ValueError, match="not labelled with"):
        fit_model(texts, LABELS, ["economy", "sport"], parts=[("economy", "x")] * len(texts))
    with pytest.raises(ValueError, match="12 parts for 13 examples"):
        fit_model([*texts, "One more."], [*LABELS, frozenset()], ["economy", "sport"], parts=parts)


def test_words_that_say_when_are_no_feature_of_either_kind() -> None:
    assert "today" not in analyse("Nothing much happened today") and "happened" in analyse("Nothing much happened today")
    assert not any("tod" in g or "sunday" in g for g in char_grams("Today, and on Sunday"))
    assert word_grams("cat") == (" ca", "cat", "at ", " cat", "cat ", " cat "), "3-, 4-grams, then the whole padded word"
    grams = char_grams("The cat's")
    assert " the " in grams and " cat " in grams and "at' " not in grams, "stop words kept, possessives dropped"


def test_a_character_model_reads_misspelt_words_and_shows_words_as_evidence(tmp_path: Path) -> None:
    model = fit_model(SPORT + ECONOMY, LABELS, ["economy", "sport"], features="chars")
    assert model.features == "chars" and all(" " in t or len(t) <= 6 for t in model.terms)
    s, e = model.issues.index("sport"), model.issues.index("economy")
    misspelt = model.predict("The goalkeeperr saved the penallty in the shootoutt.")
    assert misspelt.probabilities[s] > 0.5 > misspelt.probabilities[e]
    assert fit_model(SPORT + ECONOMY, LABELS, ["economy", "sport"]).predict(
        "goalkeeperr penallty shootoutt").columns.size == 0, "the word model knows none of these words"
    evidence = model.evidence(s, misspelt)
    words = [w for w, _ in evidence]
    assert words and set(words) <= {"goalkeeperr", "saved", "penallty", "shootoutt"}, "content words only"
    assert "goalkeeperr" in words[:3] and [v for _, v in evidence] == sorted((v for _, v in evidence), reverse=True)
    model.save(tmp_path / "chars.npz")
    again = load_model(tmp_path / "chars.npz")
    assert again.features == "chars"
    assert np.allclose(again.predict("penallty").probabilities, model.predict("penallty").probabilities, atol=1e-3)
    with pytest.raises(ValueError, match="features must be one of"):
        fit_model(SPORT + ECONOMY, LABELS, ["economy", "sport"], features="letters")


def test_a_model_set_scores_each_issue_as_the_best_of_its_models() -> None:
    words = IssueModel(("economy", "sport"), ("cod", "goal"), np.ones(2), np.array([[2.0, -1.0], [-1.0, 1.0]]),
                       np.zeros(2), np.array([[-1.0, 0.0]] * 2))
    other = IssueModel(("sport", "weather"), ("goal", "rain"), np.ones(2), np.array([[3.0, 0.0], [0.0, 1.0]]),
                       np.zeros(2), np.array([[-1.0, 0.0]] * 2))
    both = ModelSet((words, other))
    assert both.issues == ("economy", "sport", "weather")
    goal = both.predict("goal")
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert np.allclose(goal.probabilities, [sigmoid(-1), sigmoid(3), sigmoid(0)]) and list(goal.chosen) == [0, 1, 1]
    assert both.evidence(1, goal) == [("goal", 3.0)], "from the model that gave sport its probability"
    cod = both.predict("cod")
    assert np.allclose(cod.probabilities, [sigmoid(2), 0.5, 0.5]) and both.evidence(0, cod) == [("cod", 2.0)]
    assert both.evidence(1, cod) == [], "a model that knows none of the words gives its prior, with no evidence"
    with pytest.raises(ValueError, match="at least one model"):
        ModelSet(())
