"""The cost of every job, from the ``benchmark:`` records Snakemake writes.

Every rule that does work writes ``results/benchmarks/{rule}/{key}={value}/....tsv``
(``job.tsv`` for a rule without wildcards), Snakemake's benchmark format: a header
line, then one line per repeat with the wall time ``s``, the peak resident memory
``max_rss`` (MB) and the CPU time ``cpu_time`` (s), ``NA`` where psutil took no sample.
:func:`collect_benchmarks` gathers them into one table, one row per job, which is what a
cluster user reads to size each rule's resources from a small run.

A record a killed job left half-written (empty, cut inside the header or before its
first value, or with values that are not numbers) does not stop the collection: the
job gets a row with ``status`` naming the problem and no numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

#: one row per job
BENCHMARK_COLUMNS = ["rule", "wildcards", "status", "wall_s", "max_rss_mb", "cpu_s",
                     "record"]
#: the record's columns this table reads
NEEDED = ("s", "max_rss", "cpu_time")
OK = "ok"


def _number(text: str) -> float:
    """A record's value; ``NA`` (no sample) is NaN, anything else not a number fails."""
    text = text.strip()
    if text == "NA":
        return math.nan
    return float(text)


def read_record(path: str | Path) -> dict:
    """``{wall_s, max_rss_mb, cpu_s}`` of one benchmark file (the mean over its lines
    when the rule repeats; the largest ``max_rss``), or ``{status}`` naming why it
    cannot be read."""
    try:
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        return {"status": f"missing: unreadable ({err.__class__.__name__})"}
    if not lines:
        return {"status": "missing: the record is empty (the job was stopped before "
                          "Snakemake wrote it)"}
    header = lines[0].split("\t")
    absent = [name for name in NEEDED if name not in header]
    if absent:
        return {"status": f"missing: the header lacks {', '.join(absent)} (a cut or "
                          "foreign file)"}
    if len(lines) == 1:
        return {"status": "missing: a header without values (the job was stopped while "
                          "Snakemake wrote it)"}
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            return {"status": f"missing: line {number} has {len(cells)} of "
                              f"{len(header)} values (cut short)"}
        try:
            rows.append({name: _number(cells[header.index(name)]) for name in NEEDED})
        except ValueError:
            return {"status": f"missing: line {number} holds a value that is not a "
                              "number"}
    frame = pd.DataFrame(rows)
    if frame["s"].isna().any():
        return {"status": "missing: no wall time recorded"}
    return {"status": OK, "wall_s": float(frame["s"].mean()),
            "max_rss_mb": float(frame["max_rss"].max()),
            "cpu_s": float(frame["cpu_time"].mean())}


def job_of(path: Path, folder: Path) -> tuple[str, str]:
    """(rule, wildcards) of a record at ``folder/{rule}/{key}={value}/....tsv``; the
    wildcards as ``key=value`` joined by ``, `` (empty for ``job.tsv``)."""
    parts = path.relative_to(folder).with_suffix("").parts
    rule, rest = parts[0], parts[1:]
    if rest == ("job",):
        return rule, ""
    return rule, ", ".join(rest)


def collect_benchmarks(folder: str | Path) -> pd.DataFrame:
    """One row per benchmark record under ``folder`` (rule, wildcards, status, wall
    time, peak memory, CPU time, the record's path), the slowest first."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("*.tsv")) if folder.is_dir() else []:
        rule, wildcards = job_of(path, folder)
        rows.append({"rule": rule, "wildcards": wildcards, "wall_s": math.nan,
                     "max_rss_mb": math.nan, "cpu_s": math.nan, **read_record(path),
                     "record": str(path)})
    table = pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)
    if len(table):
        table = table.sort_values(["wall_s", "rule", "wildcards"],
                                  ascending=[False, True, True], na_position="last")
    return table.reset_index(drop=True)
