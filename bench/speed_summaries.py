"""CPU time of the summarise step, per algorithm, on real texts: each measured in a fresh process (cold caches).

`python -m bench.speed_summaries [--texts 500] [--repeats 3] [--algorithms centrality,news]` summarises
half BBC and half CNN/DailyMail texts with a 3-sentence budget (as the pipeline does, headline passed)
and prints the median CPU seconds per algorithm and their ratio to the first.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import DEFAULT_DATA, PROJECT_ROOT, load_bbc, load_highlights


def _measure(data: Path, texts: int, algorithm: str) -> float:
    """CPU seconds to summarise the texts once with one algorithm, in this process."""
    from tasks.s5_summarise import summarise

    half = texts // 2
    pairs = ([(a.body, a.headline) for a in load_bbc(data)[:half]]
             + [(a.article, None) for a in load_highlights(data)[:texts - half]])
    summarise("One sentence to load the models. A second. A third.", 1, algorithm)
    started = time.process_time()
    for text, title in pairs:
        summarise(text, 3, algorithm, title=title)
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    """Measure each algorithm `repeats` times in turn, each run in a fresh process."""
    parser = argparse.ArgumentParser(prog="python -m bench.speed_summaries", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--algorithms", default="centrality,news")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(_measure(args.data, args.texts, args.child))
        return 0
    algorithms = args.algorithms.split(",")
    seconds: dict[str, list[float]] = {a: [] for a in algorithms}
    for _ in range(args.repeats):
        for algorithm in algorithms:
            done = subprocess.run([sys.executable, "-m", "bench.speed_summaries", "--data", str(args.data),
                                   "--texts", str(args.texts), "--child", algorithm],
                                  cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
            seconds[algorithm].append(float(done.stdout.strip().splitlines()[-1]))
    first = statistics.median(seconds[algorithms[0]])
    for algorithm in algorithms:
        median = statistics.median(seconds[algorithm])
        print(f"{algorithm}: median {median:.2f} CPU s over {args.texts} texts ({', '.join(f'{s:.2f}' for s in seconds[algorithm])}); "
              f"{median / first:.2f}x {algorithms[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
