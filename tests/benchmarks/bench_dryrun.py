"""Benchmark: how long Snakemake takes to resolve the whole DAG (``snakemake -n``) of the
paper-scale configuration, next to the embedded default in the same run, and the jobs
each one makes (target: the paper configuration in at most 10 s on a 2-core machine).

It prints numbers and ratios; nothing here is a pass/fail test.

    python tests/benchmarks/bench_dryrun.py
    python tests/benchmarks/bench_dryrun.py --configfile config/paper.yaml --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
TARGET_S = 10.0

from dryrun import dry_run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", default="config/paper.yaml",
                        help="the configuration to time (beside the default)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {"default": [], args.configfile: []}
    counts: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):  # interleaved: both see the same machine load
            for name in times:
                args_ = [] if name == "default" else ["--configfile", str(ROOT / name)]
                seconds, counts[name] = dry_run(*args_, directory=Path(tmp))
                times[name].append(seconds)
    print(f"snakemake -n, median of {args.repeats} (wall clock, fresh results folder):")
    for name, values in times.items():
        print(f"  {name:<20} {statistics.median(values):6.2f} s   "
              f"{counts[name]['total']:5d} jobs")
    paper = statistics.median(times[args.configfile])
    print(f"  {args.configfile} / default: "
          f"{paper / statistics.median(times['default']):.2f}")
    print(f"  {args.configfile} / target ({TARGET_S:.0f} s): {paper / TARGET_S:.2f}")
    print(f"\njobs of {args.configfile}:")
    for rule, n in sorted(counts[args.configfile].items(), key=lambda kv: -kv[1]):
        print(f"  {rule:<28} {n:5d}")


if __name__ == "__main__":
    main()
