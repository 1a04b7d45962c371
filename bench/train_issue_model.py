"""Fit the shipped issue model on the NYT front-page tuning half and write config/models/issues_nyt_cap.npz.

Each item (headline + the coders' gist) is an example of its CAP code's issue (bench/eval_topics.py
CODE_ISSUES; 20/2012 campaign items also of "elections"; code 99 of none). The regularisation C is
chosen by cross-validation inside the tuning half on macro-F1 of the top issue over the 21 policy
topics. The report half is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from bench import DEFAULT_DATA, PROJECT_ROOT, in_half
from bench.eval_topics import ISSUE_CODES, POLICY_CODES, class_f1, item_issues, item_key, item_text, load_topics
from tasks.issue_model import C, fit_model

DEFAULT_OUT = PROJECT_ROOT / "config" / "models" / "issues_nyt_cap.npz"
C_GRID = (3.0, C)         # 30 and above did worse in a first 2-fold look
FOLDS = 2
FOLD_SALT = "fold:"
LICENCE = ("Derived from the topic codes of the Policy Agendas Project / Comparative Agendas Project "
           "(CC BY-NC-SA; Boydstun, A. E., New York Times Front Page Dataset 1996-2006, PAP 2014 recoding "
           "updated 2018, via comparativeagendas.net) and from NYT front-page headlines (NYT's). Research and "
           "non-commercial use with attribution; share alike.")


def cross_validate(items: list[dict], c: float) -> float:
    """Macro-F1 over the policy topics of the top issue, each fold predicted by a model fitted on the others."""
    fold = np.array([hashlib.sha256(f"{FOLD_SALT}{item_key(i)}".encode()).digest()[0] % FOLDS for i in items])
    predicted = np.zeros(len(items), dtype=int)
    for k in range(FOLDS):
        train = [i for i, f in zip(items, fold) if f != k]
        model = fit_model([item_text(i) for i in train], [item_issues(i) for i in train], _issues(items), c)
        for index in np.flatnonzero(fold == k):
            probabilities = model.predict(item_text(items[index])).probabilities
            predicted[index] = ISSUE_CODES[model.issues[int(probabilities.argmax())]]
    gold = np.array([i["label"] for i in items])
    policy = np.isin(gold, POLICY_CODES)
    return float(class_f1(gold[policy], predicted[policy], POLICY_CODES).mean())


def _issues(items: list[dict]) -> list[str]:
    """Every issue some item is an example of."""
    return sorted(set().union(*(item_issues(i) for i in items)))


def main(argv: list[str] | None = None) -> int:
    """Choose C by cross-validation on the tuning half, fit on all of it, write the model."""
    parser = argparse.ArgumentParser(prog="python -m bench.train_issue_model", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--c", type=float, default=None, help="skip cross-validation and use this C")
    args = parser.parse_args(argv)
    items = in_half(load_topics(args.data), "tune", key=item_key)
    scores = {}
    if args.c is None:
        for c in C_GRID:
            scores[c] = cross_validate(items, c)
            print(f"C={c:g}: {FOLDS}-fold macro-F1 {scores[c]:.4f}", flush=True)
    c = args.c if args.c is not None else max(scores, key=scores.get)
    model = fit_model([item_text(i) for i in items], [item_issues(i) for i in items], _issues(items), c, meta={
        "source": "issue-topics-dev (NYT front page, CAP codes), tuning half only (bench.half_of)",
        "licence": LICENCE, "made_by": "python -m bench.train_issue_model",
        "cv_macro_f1": {f"{k:g}": round(v, 4) for k, v in scores.items()}})
    model.save(args.out)
    print(f"C={c:g}; {len(model.issues)} issues, {len(model.terms)} terms; written to {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
