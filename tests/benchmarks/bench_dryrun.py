"""Benchmark: how long Snakemake takes to resolve the whole DAG (``snakemake -n``) of the
paper-scale configuration, next to the embedded default in the same run, and the jobs
each one makes (target: the paper configuration in at most 10 s on a 2-core machine).

It prints numbers and ratios; nothing here is a pass/fail test.

    python tests/benchmarks/bench_dryrun.py
    python tests/benchmarks/bench_dryrun.py --configfile config/paper.yaml --repeats 5
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 10.0


def dry_run(configfile: str | None, directory: Path) -> tuple[float, dict[str, int]]:
    """Seconds of one ``snakemake -n`` in a fresh results folder, and its job counts."""
    command = [sys.executable, "-m", "snakemake", "-n", "--snakefile",
               str(ROOT / "Snakefile"), "--directory", str(directory)]
    if configfile:
        command += ["--configfile", str(ROOT / configfile)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=directory)
    elapsed = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"snakemake -n failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return elapsed, job_counts(result.stdout + result.stderr)


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a dry run: rule -> jobs (and ``total``)."""
    table = output.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}


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
                seconds, counts[name] = dry_run(
                    None if name == "default" else name, Path(tmp))
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
