"""Issue model files fitted on all of a dev set are refitted on its tuning half before the report half is scored."""

from __future__ import annotations

import json
import tomllib

import pytest

from bench import in_half
from bench.eval_topics import _tuning_half_models, item_key, load_topics
from bench.train_issue_model import main as train
from tasks.issue_model import load_model
from tasks.s6_tag import load_taxonomy

TOPICS = [
    (4, 402, "Farmers harvest a record wheat crop", "Grain growers expect a record wheat harvest this summer"),
    (4, 402, "Drought hurts the corn harvest", "Corn farmers lose crops as drought dries the fields"),
    (4, 402, "Cattle prices rise for ranchers", "Ranchers sell cattle at higher prices to meat packers"),
    (6, 601, "School board hires more teachers", "The school district adds teachers for its crowded classrooms"),
    (6, 601, "Pupils return to class", "Pupils and teachers return to school after the winter break"),
    (6, 601, "University raises tuition", "Students at the state university will pay higher tuition fees"),
]


def _dev_set(root):
    """A small issue-topics-dev folder: each topic's items repeated with their numbers, so both halves
    have examples of both topics."""
    folder = root / "issue-topics-dev"
    folder.mkdir(parents=True)
    rows = [{"id": n * len(TOPICS) + k, "text": f"{gist} ({n}).", "title": title, "label": label,
             "subtopic": sub, "text_type": "article"}
            for n in range(12) for k, (label, sub, title, gist) in enumerate(TOPICS)]
    (folder / "nyt_frontpage_cap_dev.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return root


def test_a_model_fitted_on_all_is_refitted_on_the_tuning_half_for_the_report(tmp_path):
    data = _dev_set(tmp_path / "data")
    words, chars = tmp_path / "words.npz", tmp_path / "chars.npz"
    assert train(["--data", str(data), "--c", "10", "--min-df", "1", "--chars", "--out", str(words),
                  "--chars-out", str(chars)]) == 0
    everything = load_topics(data)
    tune = in_half(everything, "tune", key=item_key)
    assert 0 < len(tune) < len(everything)
    assert (load_model(words).meta["fitted_on"], load_model(words).meta["items"]) == ("tune", len(tune))
    assert (load_model(chars).meta["fitted_on"], load_model(chars).meta["items"]) == ("all", len(everything))
    assert load_model(chars).meta["recipe"] == {"c": 10.0, "min_df": 1, "min_part": 0, "views": False,
                                                "chars": True}

    taxonomy = tmp_path / "issues.toml"
    taxonomy.write_text(f'[model]\npath = ["{words.as_posix()}", "{chars.as_posix()}"]\nlicence = "test"\n\n'
                        '[issues.agriculture]\nkeywords = { "farm" = 1.0 }\n\n'
                        '[issues.education]\nkeywords = { "school" = 1.0 }\n', encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    scored, lines = _tuning_half_models(taxonomy, data, work)
    assert scored != taxonomy and lines == [
        f"{chars.as_posix()} was fitted on all items of issue-topics-dev, the report half among them: scored here "
        f"is its recipe fitted on the tuning half alone ({len(tune)} items)"]
    models = load_taxonomy(scored).models[0].models
    assert [m.meta["fitted_on"] for m in models] == ["tune", "tune"]
    assert [m.features for m in models] == ["words", "chars"]
    assert models[1].meta["items"] == len(tune)
    # the word model is read from its own file, the character model from the refitted copy
    copy = tomllib.loads(scored.read_text(encoding="utf-8"))
    assert copy["model"] == {"path": [words.as_posix(), (work / "tuning-half-1-chars.npz").as_posix()],
                             "licence": "test"}, "the rest of the taxonomy as it was"
    assert copy["issues"] == tomllib.loads(taxonomy.read_text(encoding="utf-8"))["issues"]

    # a taxonomy whose models were all fitted on the tuning half is scored as it is
    taxonomy.write_text(f'[model]\npath = "{words.as_posix()}"\n\n[issues.agriculture]\nkeywords = {{ "farm" = 1.0 }}\n\n'
                        '[issues.education]\nkeywords = { "school" = 1.0 }\n', encoding="utf-8")
    assert _tuning_half_models(taxonomy, data, work) == (taxonomy, [])

    # a file that says neither what it was fitted on nor how to fit it again is not scored as if unseen
    unknown = load_model(chars)
    unknown.meta.pop("fitted_on")
    unknown.meta.pop("recipe")
    unknown.save(tmp_path / "unknown.npz")
    taxonomy.write_text(f'[model]\npath = "{(tmp_path / "unknown.npz").as_posix()}"\n\n'
                        '[issues.agriculture]\nkeywords = { "farm" = 1.0 }\n\n'
                        '[issues.education]\nkeywords = { "school" = 1.0 }\n', encoding="utf-8")
    with pytest.raises(ValueError, match="fitted on unknown items without its recipe"):
        _tuning_half_models(taxonomy, data, work)


def test_the_learning_curve_measures_inside_the_tuning_half_and_writes_no_model(tmp_path, capsys):
    data = _dev_set(tmp_path / "data")
    out = tmp_path / "words.npz"
    assert train(["--data", str(data), "--c", "10", "--min-df", "1", "--learning-curve", "--out", str(out),
                  "--chars-out", str(tmp_path / "chars.npz")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("quarter ")]
    assert [line.split(":")[0] for line in lines] == [
        "one third", "two thirds", "all three thirds", "two thirds (words), all three (characters)"]
    sizes = [int(line.split("about ")[1].split(" ")[0].replace(",", "")) for line in lines]
    tune = len(in_half(load_topics(data), "tune", key=item_key))
    assert sizes[0] < sizes[1] < sizes[2] < tune and sizes[3] == sizes[1], "three quarters of the tuning half at most"
    assert not out.exists() and not (tmp_path / "chars.npz").exists()
