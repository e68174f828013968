"""``snakemake -n`` of the workflow in a results folder of its own: how long it takes
to resolve the DAG and the jobs it makes (used by the dry-run benchmark, the test of the
docs/paper-scale.md's job table and the integration tests)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dry_run(*args: str, directory: Path | None = None) -> tuple[float, dict[str, int]]:
    """Seconds of one ``snakemake -n [args]`` and its "Job stats" table: rule -> jobs
    (and ``total``). ``directory``: the working directory (default: a fresh one)."""
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(directory or tmp)
        command = [sys.executable, "-m", "snakemake", "-n", "--snakefile",
                   str(ROOT / "Snakefile"), "--directory", str(where), *args]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=where)
        elapsed = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"snakemake -n failed:\n{result.stdout[-3000:]}"
                           f"{result.stderr[-3000:]}")
    return elapsed, job_counts(result.stdout + result.stderr)


def job_counts(output: str, total: bool = True) -> dict[str, int]:
    """The "Job stats" table of snakemake's output: rule -> jobs (and ``total``)."""
    table = output.split("Job stats:")[-1]
    counts = {m.group(1): int(m.group(2))
              for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)}
    if not total:
        counts.pop("total", None)
    return counts
