"""Tests for issue tagging: the default taxonomy, stemmed matching, scoring and taxonomy validation."""

from __future__ import annotations

import os
from pathlib import Path

import math

import pytest

from config.settings import ConfigError, TagSettings
from tasks.records import Article, CleanedArticle, RawDocument, Tag
from tasks.s6_tag import load_taxonomy, tag_articles, tag_text, taxonomy_files
from tasks.text.sentences import match_terms

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAXONOMY = ROOT / "config" / "issues.toml"
SEED_WIRE = ROOT / "seeds" / "002_cc2e266a8b9d55b3.txt"

CAP_TOPICS = {
    "macroeconomics", "civil_rights", "health", "agriculture", "labour", "education", "environment", "energy",
    "immigration", "transportation", "law_and_crime", "social_welfare", "housing", "business", "defence",
    "technology", "foreign_trade", "international_affairs", "government_operations", "public_lands", "culture",
}
CURRENT_ISSUES = {
    "security_guarantees", "ceasefire_and_peace_talks", "territorial_dispute", "sanctions", "elections",
    "climate_change", "inflation", "artificial_intelligence", "cybersecurity", "sport", "entertainment_and_arts",
}
NEWSPAPER_ISSUES = {"state_and_local_government", "weather_and_disasters", "fires_and_accidents", "obituaries",
                    "religion"}

MATCH_REPORT = """United held on to win the derby 2-1 on Saturday after a tense second half at a packed stadium.
The striker opened the scoring with a header before the break, and the captain added a second from the penalty spot.
City pulled a goal back and pressed hard, but the home defence held firm under constant attack.
The coach praised his goalkeeper, who made three fine saves in the closing minutes.
The win lifts United to third in the league with ten matches of the season left to play."""

SMALL_TAXONOMY = """
[issues.elections]
description = "Elections and votes"
keywords = { "election" = 1.0, "polling station" = 2.0 }

[issues.defence]
description = "Armed forces"
keywords = { "armed forces" = 1.5, "forces" = 0.5, "military" = 1.0 }
"""


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(DEFAULT_TAXONOMY)


@pytest.fixture()
def small(tmp_path: Path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL_TAXONOMY, encoding="utf-8")
    return load_taxonomy(path)


def _p(evidence: float) -> float:
    """The probability keyword evidence counts as (see tasks/tag.py KEYWORD_SCALE)."""
    return round(1 - math.exp(-evidence / 4.0), 4)


def test_default_taxonomy_loads_with_every_topic(taxonomy) -> None:
    names = {issue.name for issue in taxonomy.issues}
    assert CAP_TOPICS | CURRENT_ISSUES | NEWSPAPER_ISSUES <= names
    [model] = taxonomy.models
    assert set(model.issues) == CAP_TOPICS | NEWSPAPER_ISSUES | {"elections", "sport"}
    for issue in taxonomy.issues:
        assert issue.description, issue.name
        assert 15 <= len(issue.keywords) <= 40, (issue.name, len(issue.keywords))
        assert all(0 < w <= 5 for w in issue.keywords.values()), issue.name


def test_seed_report_is_tagged_defence_or_international_affairs(taxonomy) -> None:
    text = SEED_WIRE.read_text(encoding="utf-8")
    tags = tag_text("US offers 'NATO-like' security to Ukraine", text, taxonomy)
    assert 1 <= len(tags) <= 5
    assert [t.score for t in tags] == sorted((t.score for t in tags), reverse=True)
    assert all(0.3 <= t.score <= 1.0 for t in tags)
    by_issue = {t.issue: t for t in tags}
    assert {"defence", "international_affairs"} & by_issue.keys()
    evidence = {term for t in tags for term in t.evidence}
    assert {"nato", "security guarantees"} & evidence
    assert "security_guarantees" in by_issue
    assert by_issue["security_guarantees"].evidence[0] == "security guarantees"
    assert not {"sport", "entertainment_and_arts", "agriculture"} & by_issue.keys()


def test_sports_report_is_sport_not_defence(taxonomy) -> None:
    tags = tag_text("United edge City in derby", MATCH_REPORT, taxonomy)
    issues = [t.issue for t in tags]
    assert issues and issues[0] == "sport"
    assert "defence" not in issues
    assert {"striker", "goalkeeper", "stadium"} <= set(tags[0].evidence)


def test_stemmed_matching_of_words_and_phrases(small) -> None:
    tags = tag_text(None, "The elections were held peacefully across the country.", small, min_score=0.1)
    assert tags == [Tag("elections", _p(1.0), ("election",))]
    tags = tag_text(None, "Queues formed at polling stations before the armed-forces parade.", small, min_score=0.1)
    assert {t.issue: t.evidence for t in tags} == {"elections": ("polling station",), "defence": ("armed forces",)}


def test_phrase_is_not_also_counted_as_its_words(small) -> None:
    [tag] = tag_text(None, "The armed forces were put on alert.", small, min_score=0.1)
    assert tag.evidence == ("armed forces",) and tag.score == pytest.approx(_p(1.5))


def test_repeats_title_and_length_change_the_score(small) -> None:
    once = tag_text(None, "The military said little.", small, min_score=0)[0].score
    thrice = tag_text(None, "The military said the military and the military agreed.", small, min_score=0)[0].score
    titled = tag_text("Military on alert", "The military said little.", small, min_score=0)[0].score
    long_text = "The military said little. " + "Nothing else happened in town that day. " * 200
    diluted = tag_text(None, long_text, small, min_score=0)[0].score
    assert once == pytest.approx(_p(1.0)) and thrice > once and titled > once and diluted < once


def test_min_score_and_max_tags(taxonomy) -> None:
    text = SEED_WIRE.read_text(encoding="utf-8")
    assert len(tag_text(None, text, taxonomy, max_tags=2)) == 2
    loose = tag_text(None, text, taxonomy, min_score=0.05, max_tags=40)
    strict = tag_text(None, text, taxonomy, min_score=0.6, max_tags=40)
    assert strict and all(t.score >= 0.6 for t in strict) and len(strict) < len(loose)
    assert [t.issue for t in strict] == [t.issue for t in loose][:len(strict)]
    assert all(t.score >= 0.05 for t in loose)
    assert tag_text(None, "", taxonomy) == []


def _article(text: str, default_tags: tuple[str, ...]) -> Article:
    doc = RawDocument(source="s", locator="mem://x", content_hash="h", raw=b"", media_type="text/plain",
                      default_tags=default_tags)
    return Article(article_id="x", doc=doc, cleaned=CleanedArticle(title=None, text=text, language="en"))


def test_the_lead_is_read_once_when_the_title_is_its_own_opening(taxonomy) -> None:
    # a title derived from the lead, or a headline the text repeats as its first paragraph, used to be read
    # twice (as the title, and again in the text), and weighed three times over as a title's words
    from tasks.s2_clean import clean_text

    lead = ("Inflation rose to 3 percent in May as food and energy prices climbed, the statistics office "
            "said, and economists expect the central bank to raise interest rates again next month.")
    derived = clean_text(lead + "\n\nShops said customers were buying less, and the council warned of hardship.")
    repeated = clean_text("Plea to I.M.F.\n\nPlea to I.M.F.\n\nRussia makes a plea to the I.M.F. as it "
                          "confronts a financial crisis and its currency falls.")
    assert derived.title_derived and derived.text.startswith(derived.title[:40])
    for cleaned in (derived, repeated):
        article = Article(article_id="x", doc=_article("", ()).doc, cleaned=cleaned)
        tag_articles([article], taxonomy, TagSettings(min_score=0.05, max_tags=5))
        once = tag_text(None, cleaned.text, taxonomy, min_score=0.05, max_tags=5)
        assert [(t.issue, round(t.score, 6)) for t in article.tags] == [(t.issue, round(t.score, 6)) for t in once]
    # a headline the text does not repeat still counts as the title
    headed = clean_text("Central bank raises interest rates\n\n" + lead)
    article = Article(article_id="x", doc=_article("", ()).doc, cleaned=headed)
    tag_articles([article], taxonomy, TagSettings(min_score=0.05, max_tags=5))
    assert article.tags == tag_text(headed.title, headed.text, taxonomy, min_score=0.05, max_tags=5)
    assert article.tags != tag_text(None, headed.text, taxonomy, min_score=0.05, max_tags=5)


def test_a_title_cut_short_from_the_texts_opening_is_read_once(taxonomy) -> None:
    # a feed whose entries have no headline of their own titles each with its text's opening, cut short with an
    # ellipsis ('The goal of the Trump Action Tracker is to...', 'a friend just tipped me off about … and…'):
    # that opening was read twice, once as the title whose words weigh three times over
    lead = ("Inflation rose to 3 percent in May as food and energy prices climbed, the statistics office "
            "said, and economists expect the central bank to raise interest rates again next month.")
    text = lead + "\n\nShops said customers were buying less, and the council warned of hardship."
    for title in ("Inflation rose to 3 percent in May as food and energy prices\u2026",
                  "Inflation rose to 3 percent in May as food and energy prices...",
                  "INFLATION ROSE TO 3 PERCENT IN MAY AS FOOD AND ENERGY PRICES \u2026"):
        article = Article(article_id="x", doc=_article("", ()).doc, cleaned=CleanedArticle(title, text, language="en"))
        tag_articles([article], taxonomy, TagSettings(min_score=0.05, max_tags=5))
        assert article.tags == tag_text(None, text, taxonomy, min_score=0.05, max_tags=5)
    assert tag_text(title, text, taxonomy, min_score=0.05, max_tags=5) != article.tags  # the title would count
    # a headline that the text's opening only begins with, or one cut short from elsewhere, is the title still
    for title in ("Inflation rose", "Inflation fell to 2 percent in May...", "Central bank to raise rates\u2026"):
        article = Article(article_id="x", doc=_article("", ()).doc, cleaned=CleanedArticle(title, text, language="en"))
        tag_articles([article], taxonomy, TagSettings(min_score=0.05, max_tags=5))
        assert article.tags == tag_text(title, text, taxonomy, min_score=0.05, max_tags=5)


def test_tag_articles_adds_source_defaults(taxonomy) -> None:
    sports = _article(MATCH_REPORT, ("sport", "local"))
    plain = _article("Nothing much happened today.", ("local",))
    tag_articles([sports, plain], taxonomy, TagSettings(min_score=0.3, max_tags=3))
    assert sports.tags[0].issue == "sport" and sports.tags[0].score > 0
    assert [t.issue for t in sports.tags].count("sport") == 1
    assert sports.tags[-1] == Tag("local", 0.0, ("source default",))
    assert plain.tags == [Tag("local", 0.0, ("source default",))]


@pytest.mark.parametrize(("body", "where"), [
    ('[issues.defence]\ndescription = "x"\nkeywords = { "nato" = "high" }\n', 'issues.defence.keywords'),
    ('[issues.defence]\ndescription = "x"\nkeywords = { "nato" = true }\n', 'issues.defence.keywords'),
    ('[issues.defence]\ndescription = "x"\nkeywords = { "nato" = -1 }\n', 'issues.defence.keywords'),
    ('[issues.defence]\ndescription = "Armed forces"\n', 'issues.defence.keywords'),
    ('[issues.defence]\nkeywords = {}\n', 'issues.defence.keywords'),
    ('[issues.defence]\ndescription = "x"\nkeywords = { "nato" = 1 }\ncolour = "red"\n', 'issues.defence.colour'),
    ('[issues.defence]\ndescription = 3\nkeywords = { "nato" = 1 }\n', 'issues.defence.description'),
    ('[issues.Defence]\nkeywords = { "nato" = 1 }\n', 'issues.Defence'),
    ('[issues.defence]\nkeywords = { "--" = 1 }\n', 'issues.defence.keywords'),
    ('[topics.defence]\nkeywords = { "nato" = 1 }\n', 'topics'),
    ('', 'issues'),
    ('[issues.defence\nkeywords = 1\n', 'not valid TOML'),
])
def test_bad_taxonomy_is_one_line_naming_file_and_key(tmp_path: Path, body: str, where: str) -> None:
    path = tmp_path / "issues.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and where in message and "\n" not in message


def test_missing_taxonomy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_taxonomy(tmp_path / "nope.toml")


# --- issues learned from example articles ------------------------------------------------------

MATCH_REPORTS = [
    "The goalkeeper saved a penalty in the shootout and the club reached the cup final.",
    "A late header from the striker won the derby; the goalkeeper kept a clean sheet for the club.",
    "The club's goalkeeper was injured before the cup tie, and the manager changed the defence.",
    "The striker scored twice in the league match as the club climbed to third in the table.",
    "Fans of the club sang for the goalkeeper after a penalty shootout win in the cup.",
    "The manager praised the striker, the goalkeeper and the fans after the league win.",
]
MARKET_REPORTS = [
    "The central bank raised interest rates as inflation rose faster than economists expected.",
    "Shares fell after the bank warned that interest rates would stay high into next year.",
    "Economists said inflation and higher interest rates weighed on shares and the currency.",
    "The bank's profits rose as interest rates climbed; shares in the lender jumped.",
    "Inflation eased in March, and economists expect the bank to hold interest rates.",
    "The currency fell as shares slid and economists cut their growth forecasts.",
]
LEARNED_TAXONOMY = """
[issues.football]
description = "Football"
examples = ["examples/football", "examples/extra_match.txt"]

[issues.markets]
description = "Markets and rates"
keywords = { "interest rates" = 0.7, "stock exchange" = 1.5 }
examples = ["examples/markets"]

[issues.elections]
keywords = { "election" = 1.0 }
"""


def _write_examples(root: Path) -> None:
    for folder, texts in (("football", MATCH_REPORTS[:-1]), ("markets", MARKET_REPORTS)):
        (root / "examples" / folder / "nested").mkdir(parents=True)
        for i, text in enumerate(texts):
            where = root / "examples" / folder / ("nested" if i % 2 else "") / f"{i}.txt"
            where.write_text(f"Headline {i}\n\n{text}\n", encoding="utf-8")
    (root / "examples" / "markets" / "notes.csv").write_text("goalkeeper,goalkeeper,goalkeeper\n", encoding="utf-8")
    # one example is Latin-1, not UTF-8
    (root / "examples" / "extra_match.txt").write_bytes(f"Müller's night\n\n{MATCH_REPORTS[-1]}".encode("latin-1"))


@pytest.fixture()
def learned(tmp_path: Path):
    _write_examples(tmp_path)
    path = tmp_path / "config" / "issues.toml"
    path.parent.mkdir()
    path.write_text(LEARNED_TAXONOMY, encoding="utf-8")
    return load_taxonomy(path, root=tmp_path)


def test_examples_teach_an_issue_model(learned) -> None:
    [model] = learned.models
    assert set(model.issues) == {"football", "markets"}, "an issue without examples is not modelled"
    issues = {issue.name: issue for issue in learned.issues}
    assert set(issues["elections"].surface.values()) == {"election"}
    assert set(issues["markets"].surface.values()) == {"interest rates", "stock exchange"}
    assert "goalkeeper" in model.terms and "interest rates" in model.terms
    assert model.predict("goalkeeper goalkeeper").probabilities[model.issues.index("football")] > 0.5


def test_learned_issue_tags_a_new_article_with_evidence_found_in_it(learned) -> None:
    text = "The goalkeeper and the striker were the heroes as the club won the cup on penalties."
    tags = tag_text("Club wins the cup", text, learned, min_score=0.5)
    assert tags and tags[0].issue == "football"
    words_in_text = set(match_terms("Club wins the cup " + text))
    for term in tags[0].evidence:
        assert set(match_terms(term)) <= words_in_text, term
    assert "goalkeeper" in tags[0].evidence


PORTUGUESE_MATCH = ("O time de futebol da cidade venceu o campeonato estadual no domingo depois de uma temporada "
                    "difícil. O treinador disse que os jogadores mostraram coragem e que a torcida fez a diferença "
                    "no estádio lotado. A prefeitura prometeu uma festa na praça central na próxima semana.")


def test_a_model_reads_only_the_language_of_its_examples(taxonomy) -> None:
    # the shipped models are English: read as English, Portuguese "de" and "time" make a sports story
    assert [t.issue for t in tag_text(None, PORTUGUESE_MATCH, taxonomy, language="en")] == ["sport"]
    assert tag_text(None, PORTUGUESE_MATCH, taxonomy, language="pt") == []


GERMAN_WEDDING = ("Unsere Hochzeit war ein Traum", "Der Tag war sonnig, die Feier war lang und das Essen war "
                  "wunderbar. Der Wagen der Braut war mit Blumen geschmückt, die Gäste lagen sich in den Armen, "
                  "und die Arme der Tante waren voller Geschenke. Es war die Art Fest, an das man sich lange "
                  "erinnert.")
GERMAN_NATO = ("Nato verstärkt die Ostflanke", "Die Nato schickt mehr Truppen an die Ostflanke. Die Migranten an der "
               "Grenze und die Sanktionen gegen Russland standen beim Gipfel der Nato ebenfalls auf der Tagesordnung.")


SPANISH_PARKS = ("Nuevo plan de parques", "El Ayuntamiento presentó ayer el nuevo plan de parques. Es importante, dijo "
                 "la alcaldesa, que los vecinos participen. Lo más importante es la sombra en verano. También es "
                 "importante el agua, y una parte importante del dinero irá a los árboles.")


def test_english_keywords_meet_no_false_friends_in_another_language(taxonomy) -> None:
    # German "war" is "was", "Art" a kind, "Wagen" a car (stemmed as "wage"), "Arme" arms of the body
    # (stemmed as "arms"): read as keywords they made a wedding post defence and labour news
    assert tag_text(*GERMAN_WEDDING, taxonomy, language="de") == []
    # a phrase with a common word of the language in it is still the phrase ("premier" is common in French)
    french = tag_text("Arsenal en tête", "Arsenal domine la Premier League après sa victoire à Londres.", taxonomy,
                      language="fr")
    assert "sport" in [t.issue for t in french] and "premier league" in french[0].evidence
    # a common word of the language is not stemmed onto a keyword: Spanish "importante" is no "import"
    assert tag_text(*SPANISH_PARKS, taxonomy, language="es") == []
    # "sin embargo" is Spanish for "however" (jusText lists it as "embargo,"), no embargo
    assert tag_text("Victoria del equipo local", "El equipo local ganó el partido, sin embargo el entrenador no "
                    "estaba contento. Sin embargo, los aficionados celebraron hasta tarde.", taxonomy, language="es") == []
    # names and words the languages share still match
    tags = tag_text(*GERMAN_NATO, taxonomy, language="de")
    assert tags and tags[0].issue == "defence" and "nato" in tags[0].evidence
    assert "immigration" in [t.issue for t in tags]


GERMAN_MATCHES = ["Der Torwart hielt den Elfmeter und der Verein erreichte das Pokalfinale.",
                  "Ein spätes Kopfballtor des Stürmers entschied das Derby für den Verein.",
                  "Der Torwart des Vereins verletzte sich vor dem Pokalspiel, der Trainer stellte um.",
                  "Der Stürmer traf zweimal im Ligaspiel, und der Verein kletterte auf Platz drei.",
                  "Die Fans feierten den Torwart nach dem Sieg im Elfmeterschießen im Pokal."]
GERMAN_MARKETS = ["Die Zentralbank erhöhte die Zinsen, weil die Inflation schneller stieg als erwartet.",
                  "Die Aktien fielen, nachdem die Bank vor dauerhaft hohen Zinsen gewarnt hatte.",
                  "Ökonomen sagten, Inflation und höhere Zinsen belasteten Aktien und Währung.",
                  "Die Gewinne der Bank stiegen mit den Zinsen, die Aktie des Kreditgebers sprang.",
                  "Die Inflation ließ im März nach, Ökonomen erwarten, dass die Bank die Zinsen hält."]


def test_a_model_learned_from_examples_in_another_language_reads_that_language(tmp_path: Path) -> None:
    for folder, texts in (("spiel", GERMAN_MATCHES), ("markt", GERMAN_MARKETS)):
        (tmp_path / "examples" / folder).mkdir(parents=True)
        for i, text in enumerate(texts):
            (tmp_path / "examples" / folder / f"{i}.txt").write_text(f"{text} {text}\n", encoding="utf-8")
    path = tmp_path / "issues.toml"
    path.write_text('[issues.fussball]\nexamples = ["examples/spiel"]\n[issues.maerkte]\nexamples = ["examples/markt"]\n',
                    encoding="utf-8")
    learned = load_taxonomy(path, root=tmp_path, cache_dir=tmp_path / "cache")
    assert [m.language for m in learned.models] == ["german"]
    text = "Der Torwart hielt zwei Elfmeter, und der Verein gewann das Pokalspiel vor seinen Fans."
    assert tag_text(None, text, learned, min_score=0.2, language="de")[0].issue == "fussball"
    assert tag_text(None, text, learned, min_score=0.2, language="en") == []


def test_example_paths_are_read_from_the_project_root_wherever_the_taxonomy_is(tmp_path: Path) -> None:
    from config.settings import PROJECT_ROOT

    _write_examples(tmp_path)
    relative = os.path.relpath(tmp_path / "examples", PROJECT_ROOT)  # the project's config/ is not beside them
    path = tmp_path / "config" / "issues.toml"
    path.parent.mkdir()
    path.write_text(LEARNED_TAXONOMY.replace('"examples/', f'"{relative}/'), encoding="utf-8")
    [model] = load_taxonomy(path, cache_dir=tmp_path / "cache").models
    assert "goalkeeper" in model.terms
    path.write_text(LEARNED_TAXONOMY, encoding="utf-8")  # examples/ beside config/: not the project root
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(path, cache_dir=tmp_path / "cache")
    assert f"does not exist: {PROJECT_ROOT / 'examples' / 'football'} (a relative path is read from the project " \
           f"root, {PROJECT_ROOT}; an absolute one as given)" in str(caught.value)


def test_hand_written_keywords_still_count_beside_the_model(learned) -> None:
    # "stock exchange" is a keyword of markets and in none of its examples
    text = "The stock exchange opened late on Tuesday after a fault in its computer systems."
    markets = next(t for t in tag_text(None, text, learned, min_score=0.0, max_tags=5) if t.issue == "markets")
    [model] = learned.models
    alone = model.predict(text).probabilities[model.issues.index("markets")]
    assert "stock exchange" in markets.evidence and "stock exchange" not in model.terms
    # the model reads 0.43 into a text none of whose words it raised: the score is the keyword's
    assert not model.evidence(model.issues.index("markets"), model.predict(text)) and alone > _p(1.5)
    assert markets.score == pytest.approx(_p(1.5), abs=1e-4)
    many = "The stock exchange said the stock exchange and the stock exchange index opened late. " * 3
    strong = next(t for t in tag_text("Stock exchange delay", many, learned, min_score=0.0) if t.issue == "markets")
    assert strong.score > model.predict("Stock exchange delay\n" + many).probabilities[model.issues.index("markets")]
    assert strong.evidence[0] == "stock exchange", "a keyword that decides the score leads the evidence"
    tags = tag_text(None, "The election was held on Sunday.", learned, min_score=0.0)
    assert Tag("elections", _p(1.0), ("election",)) in tags, "keyword-only issues score as before"


def test_learned_tags_honour_min_score_and_max_tags(learned) -> None:
    text = "The goalkeeper saved a penalty as shares fell and the bank raised interest rates."
    every = tag_text(None, text, learned, min_score=0.0, max_tags=10)
    assert {"football", "markets"} <= {t.issue for t in every} <= {"football", "markets", "elections"}
    assert len(tag_text(None, text, learned, min_score=0.0, max_tags=1)) == 1
    cut = sorted(t.score for t in every)[len(every) // 2]
    assert all(t.score >= cut for t in tag_text(None, text, learned, min_score=cut, max_tags=10))
    assert tag_text(None, text, learned, min_score=0.9999, max_tags=10) == [t for t in every if t.score >= 0.9999]


def test_fitted_model_is_cached_and_refitted_when_examples_change(tmp_path: Path) -> None:
    _write_examples(tmp_path)
    path = tmp_path / "config" / "issues.toml"
    path.parent.mkdir()
    path.write_text(LEARNED_TAXONOMY, encoding="utf-8")
    first = load_taxonomy(path, root=tmp_path).models[0]
    cache = tmp_path / ".cache" / "issue-models"
    [cached] = list(cache.iterdir())
    inode = cached.stat().st_ino
    assert load_taxonomy(path, root=tmp_path).models[0].meta["digest"] == first.meta["digest"]
    assert cached.stat().st_ino == inode, "the second load reads the cache (a refit would write a new file)"
    (tmp_path / "examples" / "markets" / "0.txt").write_text("Headline\n\nBond yields rose.\n", encoding="utf-8")
    assert load_taxonomy(path, root=tmp_path).models[0].meta["digest"] != first.meta["digest"]
    assert len(list(cache.iterdir())) == 2


def test_the_model_cache_goes_where_it_is_told(tmp_path: Path) -> None:
    _write_examples(tmp_path)
    path = tmp_path / "issues.toml"
    path.write_text(LEARNED_TAXONOMY, encoding="utf-8")
    [model] = load_taxonomy(path, root=tmp_path, cache_dir=tmp_path / "c").models
    assert "goalkeeper" in model.terms and (tmp_path / "c").is_dir()


def test_default_taxonomy_has_no_examples_and_ships_a_model() -> None:
    import tomllib

    data = tomllib.loads(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
    assert not any("examples" in table for table in data["issues"].values())
    paths = data["model"]["path"]
    assert paths and all((ROOT / p).is_file() for p in ([paths] if isinstance(paths, str) else paths))


@pytest.mark.parametrize(("body", "reason"), [
    ('[model]\npath = "nope.npz"\n', "is not a usable model"),
    ('[model]\npath = 3\n', "must be the path of a model file"),
    ('[model]\npath = "config/models/issues_nyt_cap.npz"\ncolour = "red"\n', "model.colour"),
    ('[model]\npath = "config/models/issues_nyt_cap.npz"\n', "scores issues the taxonomy lacks: agriculture"),
    ('[model]\npath = []\n', "must be the path of a model file, or a list of them"),
    ('[model]\npath = ["config/models/issues_nyt_cap.npz", 3]\n', "must be the path of a model file"),
    ('[model]\npath = ["nope.npz", "config/models/issues_nyt_cap.npz"]\n', "nope.npz is not a usable model"),
])
def test_bad_model_table_is_one_line(tmp_path: Path, body: str, reason: str) -> None:
    (tmp_path / "config" / "models").mkdir(parents=True)
    shipped = ROOT / "config" / "models" / "issues_nyt_cap.npz"
    (tmp_path / "config" / "models" / "issues_nyt_cap.npz").write_bytes(shipped.read_bytes())
    path = tmp_path / "config" / "issues.toml"
    path.write_text(body + '[issues.elections]\nkeywords = { "election" = 1.0 }\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(path, root=tmp_path)
    assert str(caught.value).startswith(f"{path}: ") and reason in str(caught.value) and "\n" not in str(caught.value)


# --- the default taxonomy on ordinary local news: what used to go wrong --------------------------

FERRY = ("Ferry runs aground with pupils on board", "A ferry carrying 40 pupils and their teachers on a school trip "
         "ran aground off Harris on Tuesday morning. The coastguard said the vessel was refloated on the rising tide "
         "and reached port two hours late. The operator said its ferries on the route would run to the normal "
         "timetable from Wednesday, and the harbour master has begun an inquiry into the grounding.")
CUSTOMERS = ("Corner shop owner thanks customers", "Customers packed the corner shop on Mill Street on its last day "
             "of trading after 42 years. The owner said her customers had become friends and thanked them for "
             "their loyalty. Regular customers brought flowers and cards, and many shared memories of the shop.")
RIVER_BANKS = ("Walkers asked to keep off river banks", "Walkers have been asked to keep away from the river banks in "
               "Westford after heavy rain loosened the soil. The banks of the river have collapsed in two places "
               "near the footbridge, and the path along both banks will stay closed until engineers have checked it.")
FISH_MARKET = ("Fish market to reopen after repairs", "The town's fish market will reopen on Saturday after six "
               "months of repairs to its roof. Traders said they were glad to be back under cover, and the market "
               "will be open from six in the morning with stalls selling fish, bread and flowers.")

INFLATABLE = ("Inflatable castle fun day", "Children played on an inflatable castle and bouncy slides at the village "
              "fun day on Saturday. The inflatable castle was hired from a local firm, and the day raised money "
              "for the village hall roof.")


def _issues(case: tuple[str, str], taxonomy) -> list[str]:
    return [t.issue for t in tag_text(case[0], case[1], taxonomy)]


def test_a_ferry_story_is_transportation_before_education(taxonomy) -> None:
    issues = _issues(FERRY, taxonomy)
    assert issues and issues[0] == "transportation"


def test_customers_are_not_customs(taxonomy) -> None:
    assert "foreign_trade" not in _issues(CUSTOMERS, taxonomy)


def test_river_banks_are_not_banking(taxonomy) -> None:
    issues = _issues(RIVER_BANKS, taxonomy)
    assert "business" not in issues and "macroeconomics" not in issues


def test_a_fish_market_is_not_agriculture(taxonomy) -> None:
    assert "agriculture" not in _issues(FISH_MARKET, taxonomy)


def test_an_inflatable_castle_is_not_inflation(taxonomy) -> None:
    # "inflatable" and "inflation" share a stem; a keyword matches its inflections only
    assert "inflation" not in _issues(INFLATABLE, taxonomy)
    rising = tag_text("Inflation rises again", "Inflation rose to 3 percent in May as food prices climbed.", taxonomy)
    assert "inflation" in [t.issue for t in rising]


OTHER_NEWS = [
    "The Old Town Bridge will close for six weeks while engineers replace its corroded steel bearings.",
    "The village fair returns in spring with a dog show, a cake stall and a tug of war on the green.",
    "A hosepipe ban starts on Monday after the driest spring in the county for forty years.",
    "The pub quiz raised money for the lifeboat station, and the winning team gave its prize to the school.",
    "Roadworks on the high street will close one lane until the end of the month, the council said.",
    "The library will open on Sundays from June, with story time for children and a repair cafe.",
    "A rare orchid has flowered in the nature reserve for the first time in twenty years.",
    "The bus company is adding an evening service to the hospital after complaints from patients.",
]
OTHER_TAXONOMY = LEARNED_TAXONOMY + """
[other]
examples = ["examples/other"]
"""


def _with_other_news(root: Path, news: list[str]) -> None:
    (root / "examples" / "other").mkdir(parents=True)
    for i, text in enumerate(news):
        (root / "examples" / "other" / f"{i}.md").write_text(f"Local news {i}\n\n{text}\n", encoding="utf-8")


def test_examples_of_other_news_teach_what_is_none_of_the_issues(tmp_path: Path) -> None:
    # learned each only against the other, a text about neither reads as one of them; examples of other news
    # teach the model that most news is neither
    _write_examples(tmp_path)
    _with_other_news(tmp_path, OTHER_NEWS[1:])
    path = tmp_path / "issues.toml"
    path.write_text(LEARNED_TAXONOMY, encoding="utf-8")
    alone = load_taxonomy(path, root=tmp_path, cache_dir=tmp_path / "cache")
    path.write_text(OTHER_TAXONOMY, encoding="utf-8")
    with_other = load_taxonomy(path, root=tmp_path, cache_dir=tmp_path / "cache")
    bridge = OTHER_NEWS[0]  # not among the examples
    assert max(alone.models[0].predict(bridge).probabilities) >= 0.45
    assert max(with_other.models[0].predict(bridge).probabilities) < 0.3
    assert tag_text("Bridge to close", bridge, with_other, min_score=0.3) == []
    match = "The goalkeeper saved a penalty and the striker scored twice as the club won the cup."
    assert [t.issue for t in tag_text("Club wins the cup", match, with_other, min_score=0.5)] == ["football"]
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2, "the other news is part of the cached model's hash"
    assert {f.name for f in taxonomy_files(path, root=tmp_path)} >= {f"{i}.md" for i in range(len(OTHER_NEWS) - 1)}


def test_one_issue_is_learned_against_examples_of_other_news(tmp_path: Path) -> None:
    _write_examples(tmp_path)
    _with_other_news(tmp_path, OTHER_NEWS)
    path = tmp_path / "issues.toml"
    path.write_text('[issues.football]\nexamples = ["examples/football"]\n\n[other]\nexamples = ["examples/other", '
                    '"examples/markets"]\n', encoding="utf-8")
    taxonomy = load_taxonomy(path, root=tmp_path, cache_dir=tmp_path / "cache")
    assert taxonomy.models[0].issues == ("football",)
    match = "The goalkeeper saved a penalty and the striker scored twice as the club won the cup."
    assert [t.issue for t in tag_text("Club wins the cup", match, taxonomy, min_score=0.5)] == ["football"]
    rates = "The central bank raised interest rates and shares fell on the stock exchange."
    assert tag_text("Rates rise", rates, taxonomy, min_score=0.3) == []


@pytest.mark.parametrize(("body", "where", "reason"), [
    ('[issues.a]\nexamples = ["examples/football"]\n[issues.b]\nkeywords = { "x" = 1 }\n',
     "issues.a.examples", "cannot be learned from alone"),
    ('[issues.a]\nexamples = ["examples/missing"]\n[issues.b]\nexamples = ["examples/markets"]\n',
     'issues.a.examples "examples/missing"', "does not exist"),
    ('[issues.a]\nexamples = ["examples/empty"]\n[issues.b]\nexamples = ["examples/markets"]\n',
     'issues.a.examples "examples/empty"', "no .txt or .md files"),
    ('[issues.a]\nexamples = ["examples/football", "examples/blank.txt"]\n[issues.b]\nexamples = ["examples/markets"]\n',
     'issues.a.examples "examples/blank.txt"', "is an empty file"),
    ('[issues.a]\nexamples = ["examples/football"]\n[issues.b]\nexamples = ["examples/unwritten"]\n',
     'issues.b.examples "examples/unwritten"', "unwritten/draft.md is empty"),
    ('[issues.a]\nexamples = ["examples/football"]\n[issues.b]\nexamples = ["examples/extra_match.txt"]\n',
     "issues.b.examples", "names 1 example file; an issue is learned from at least 2"),
    ('[issues.a]\nexamples = ["examples/football"]\n[other]\nexamples = ["examples/extra_match.txt"]\n',
     "other.examples", "leaves 1 example file(s) of news other than a"),
    ('[issues.a]\nexamples = ["examples/football"]\n[other]\nexamples = ["examples/blank.txt"]\n',
     'other.examples "examples/blank.txt"', "is an empty file"),
    ('[issues.a]\nexamples = "examples/football"\n[issues.b]\nexamples = ["examples/markets"]\n',
     "issues.a.examples", "list of file or folder paths"),
    ('[issues.a]\nexamples = []\nkeywords = { "x" = 1 }\n', "issues.a.examples", "list of file or folder paths"),
    ('[issues.a]\ndescription = "no terms"\n', "issues.a.keywords", "or give examples"),
    ('[issues.a]\nkeywords = { "x" = 1 }\n[other]\nexamples = ["examples/markets"]\n', "other.examples",
     "nothing to be learned against"),
    ('[issues.a]\nexamples = ["examples/football"]\n[other]\nexamples = ["examples/missing"]\n',
     'other.examples "examples/missing"', "does not exist"),
    ('[issues.a]\nexamples = ["examples/football"]\n[other]\nexamples = "examples/markets"\n', "other.examples",
     "list of file or folder paths"),
    ('[issues.a]\nexamples = ["examples/football"]\n[other]\nexamples = ["examples/markets"]\nsize = 3\n',
     "other.size", "not a known key"),
])
def test_bad_examples_are_one_line_naming_file_and_key(tmp_path: Path, body: str, where: str, reason: str) -> None:
    _write_examples(tmp_path)
    (tmp_path / "examples" / "empty").mkdir()
    (tmp_path / "examples" / "blank.txt").write_text(" \n\n", encoding="utf-8")
    (tmp_path / "examples" / "unwritten").mkdir()
    (tmp_path / "examples" / "unwritten" / "report.txt").write_text(f"Headline\n\n{MARKET_REPORTS[0]}\n", encoding="utf-8")
    (tmp_path / "examples" / "unwritten" / "draft.md").write_bytes(b"")
    path = tmp_path / "issues.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(path, root=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}") and reason in message and "\n" not in message


def test_examples_nothing_can_be_learned_from_name_the_issue_at_fault(tmp_path: Path) -> None:
    # the line named "issues examples", a key no taxonomy has, and gave the fitting library's own words
    cases = [({"alpha": ["!!! ---", "?? ..."], "beta": ["*** +++", "### ==="]},
              "issues.alpha.examples", "its 2 example files hold no words to learn from"),
             ({"alpha": ["Goalkeeper", "Penalty"], "beta": ["Inflation", "Harvest"]},
              "issues.alpha.examples",
              "no word of its example files is in any other example file (a word is learned only when 2 or more hold it)"),
             # the others' examples can be learned from: the issue without words used to get a model of nothing
             ({"alpha": ["The striker scored a late goal.", "The goal came from the striker."],
               "beta": ["!!! ---", "?? ..."]},
              "issues.beta.examples", "its 2 example files hold no words to learn from")]
    for number, (examples, where, reason) in enumerate(cases):
        folder = tmp_path / str(number)
        for issue, bodies in examples.items():
            (folder / issue).mkdir(parents=True)
            for index, body in enumerate(bodies):
                (folder / issue / f"{index}.txt").write_text(body + "\n", encoding="utf-8")
        path = folder / "issues.toml"
        path.write_text("".join(f'[issues.{issue}]\nexamples = ["{issue}"]\n' for issue in examples), encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_taxonomy(path, root=folder, cache_dir=folder / "cache")
        assert str(caught.value) == f"{path}: {where}: {reason}", str(caught.value)


def test_the_tag_version_follows_the_model_and_example_files_the_taxonomy_names(tmp_path: Path) -> None:
    from config.settings import DedupSettings, SummarySettings
    from tasks.s6_tag import taxonomy_files
    from tasks.versions import stage_versions

    model, example = tmp_path / "m.npz", tmp_path / "ex" / "a.txt"
    example.parent.mkdir()
    model.write_bytes(b"model one")
    example.write_text("A goal in the final minute.", encoding="utf-8")
    path = tmp_path / "issues.toml"
    path.write_text(f'[model]\npath = ["{model.as_posix()}"]\n[issues.sport]\nexamples = ["{example.parent.as_posix()}"]\n'
                    '[issues.other]\nkeywords = { "council" = 1.0 }\n', encoding="utf-8")
    assert taxonomy_files(path) == [path, model, example]

    def version() -> str:
        return stage_versions(DedupSettings(), SummarySettings(), TagSettings(taxonomy=path))["tag"]

    first = version()
    assert version() == first
    model.write_bytes(b"model two")  # a refitted model: articles must be tagged again on reprocess
    second = version()
    example.write_text("A goal in the last minute.", encoding="utf-8")
    third = version()
    assert len({first, second, third}) == 3
    path.write_text("not toml [", encoding="utf-8")
    assert taxonomy_files(path) == [path] and version() != third
    assert "taxonomy-missing" in stage_versions(DedupSettings(), SummarySettings(),
                                                TagSettings(taxonomy=tmp_path / "none.toml"))["tag"]


def test_a_learned_issue_is_no_tag_when_nothing_in_the_article_raised_it(learned) -> None:
    """Two issues learned each against the other read any article as one or the other (each about 0.5 for a
    text with none of their words): a probability that no word of the article raised is no tag."""
    text = ("The Old Town Bridge will close for six weeks from 4 May while engineers replace corroded steel "
            "bearings and resurface the deck. Pedestrians can cross on a temporary walkway.")
    [model] = learned.models
    assert max(model.predict(text).probabilities) >= 0.3, "the model alone does read it as one of its issues"
    tags = tag_text("Old Town Bridge to close for repairs", text, learned, min_score=0.3)
    assert tags == [], tags
    for tag in tag_text(None, text + " The goalkeeper and the striker cycled over it.", learned, min_score=0.0):
        assert tag.evidence, tag
    football = tag_text(None, "The goalkeeper and the striker walked over the bridge.", learned, min_score=0.3)
    assert [t.issue for t in football] == ["football"] and "goalkeeper" in football[0].evidence
