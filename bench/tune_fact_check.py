"""Choose dedup's fact check on the tuning half: how many of their facts syndication variants and templated
reports of one series share, and the threshold in the middle of the gap (tasks/s4_dedup.py FACT_CONTAINMENT).

Syndication variants are built from the BBC tuning half's articles with several variant seeds; templated
pairs are every two days of one series, from the tuning half's series and from series written with other
seeds (new reports, none of them in the report half). Both are measured on cleaned and on raw text, as the
three passes of bench/eval_dedup.py see them. The report half is never read here.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from pathlib import Path

from bench import DEFAULT_DATA, PROJECT_ROOT, Table, in_half, load_bbc, write_report
from bench.eval_dedup import SEED, VARIANT_TYPES, build_cases, cleaned_texts
from bench.templated_series import Report, templated_series
from tasks.s2_clean import clean_text
from tasks.s3_fingerprint import comparable_facts
from tasks.s4_dedup import MIN_MISSING_FACTS, number_facts

DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "tune_fact_check.json"
VARIANT_SEEDS = 5         # variant sets built from the tuning-half articles (seeds SEED, SEED + 1, ...)
EXTRA_SERIES_SEEDS = 30   # templated series written with seeds 1..30 besides the tuning half's


def fact_share(facts: frozenset[str], other: frozenset[str]) -> tuple[float, int]:
    """The share of the smaller fact set found in the other, and how many of its facts are missing."""
    small, large = (facts, other) if len(facts) <= len(other) else (other, facts)
    missing = len(small - large)
    return (1.0 - missing / len(small) if small else 1.0), missing


def _facts(text: str, numbers: bool) -> frozenset[str]:
    """The facts dedup compares, or only the numbers among them."""
    found = comparable_facts(text)
    return number_facts(found) if numbers else found


def syndication_pairs(data_dir: Path, numbers: bool = False) -> dict[str, list[tuple[float, int]]]:
    """(share, missing) of each syndication variant against its original (of its numbers alone with
    numbers), by variant kind."""
    articles = in_half(load_bbc(data_dir), "tune")
    found: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for seed in range(SEED, SEED + VARIANT_SEEDS):
        _, originals, batch = build_cases(articles, seed=seed, reports=[])
        original = {i.cluster: i.article_id for i in originals}
        variants = [i for i in batch if i.kind in VARIANT_TYPES]
        for cleaned in (True, False):
            texts = cleaned_texts([*originals, *variants], cleaned=cleaned)
            facts = {key: _facts(c.text, numbers) for key, c in texts.items()}
            for item in variants:
                found[item.kind].append(fact_share(facts[item.article_id], facts[original[item.cluster]]))
    return dict(found)


def templated_pairs(numbers: bool = False) -> dict[str, list[tuple[float, int]]]:
    """(share, missing) of every two reports of one series (of their numbers alone with numbers), by template."""
    written = [(SEED, in_half(templated_series(SEED), "tune", key=lambda r: r.series_key))]
    written += [(seed, templated_series(seed)) for seed in range(1, EXTRA_SERIES_SEEDS + 1)]
    series: dict[tuple[int, str], list[Report]] = defaultdict(list)
    for seed, reports in written:
        for report in reports:
            series[(seed, report.series_key)].append(report)
    found: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for days in series.values():
        for cleaned in (True, False):
            facts = [_facts(clean_text(f"{r.title}\n\n{r.body}").text if cleaned else r.body, numbers) for r in days]
            for a, b in itertools.combinations(range(len(days)), 2):
                found[days[a].template].append(fact_share(facts[a], facts[b]))
    return dict(found)


def run(data_dir: Path) -> dict[str, object]:
    """Measure both kinds of pair and put the threshold in the middle of the gap."""
    syndication, templated = syndication_pairs(data_dir), templated_pairs()
    lowest = min(share for pairs in syndication.values() for share, _ in pairs)
    highest = max(share for pairs in templated.values() for share, _ in pairs)

    def describe(pairs: list[tuple[float, int]]) -> dict[str, object]:
        shares, missing = sorted(s for s, _ in pairs), sorted(m for _, m in pairs)
        return {"pairs": len(pairs), "share_min": round(shares[0], 4), "share_max": round(shares[-1], 4),
                "missing_min": missing[0], "missing_max": missing[-1]}

    # the numbers alone, checked by the same rule (tasks/s4_dedup.py): where at least MIN_MISSING_FACTS are missing
    decisive = [(s, m) for pairs in syndication_pairs(data_dir, numbers=True).values() for s, m in pairs
                if m >= MIN_MISSING_FACTS]
    numbered = [s for pairs in templated_pairs(numbers=True).values() for s, m in pairs if m >= MIN_MISSING_FACTS]
    return {"syndication": {k: describe(v) for k, v in syndication.items()},
            "numbers": {"syndication_missing_enough": len(decisive),
                        "syndication_share_min": round(min((s for s, _ in decisive), default=1.0), 4),
                        "templated_missing_enough": len(numbered),
                        "templated_share_max": round(max(numbered, default=0.0), 4)},
            "templated": {k: describe(v) for k, v in templated.items()},
            "syndication_share_min": round(lowest, 4), "templated_share_max": round(highest, 4),
            "middle": round((lowest + highest) / 2, 4),
            "templated_missing_min": min(m for pairs in templated.values() for _, m in pairs)}


def table(results: dict) -> str:
    """The shares by kind of pair, and the gap."""
    out = Table("Facts of the smaller text found in the other (tuning half)",
                ["pair", "n", "share min", "share max", "missing min", "missing max"])
    for group in ("syndication", "templated"):
        for kind, r in results[group].items():
            out.rows.append([f"{group}: {kind}", r["pairs"], r["share_min"], r["share_max"], r["missing_min"],
                             r["missing_max"]])
    out.notes.append(f"Syndication variants keep at least {results['syndication_share_min']:.3f} of the facts, "
                     f"templated reports at most {results['templated_share_max']:.3f}: the middle is "
                     f"{results['middle']:.3f}. Templated reports miss at least "
                     f"{results['templated_missing_min']} facts.")
    n = results["numbers"]
    lowest = (f" (the lowest share kept among those: {n['syndication_share_min']:.3f})"
              if n["syndication_missing_enough"] else "")
    out.notes.append(f"Numbers alone: {n['syndication_missing_enough']} syndication variants miss "
                     f"{MIN_MISSING_FACTS} or more of them{lowest}; of the {n['templated_missing_enough']} templated "
                     f"pairs that do, none keeps more than {n['templated_share_max']:.3f}.")
    return out.render()


def main(argv: list[str] | None = None) -> int:
    """Command line: measure, print, write bench/out/tune_fact_check.json."""
    parser = argparse.ArgumentParser(prog="python -m bench.tune_fact_check", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = run(args.data)
    print(table(results))
    write_report(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
