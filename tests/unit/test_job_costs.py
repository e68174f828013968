"""The per-job cost records: every rule writes one, collect-benchmarks gathers them
(half-written ones marked missing, not fatal), and the cost figure draws them."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from figure_checks import artists, check_written_figure

from symlearn.benchmarks import OK, collect_benchmarks, read_record
from symlearn.cli import main
from symlearn.figures import build, cost

ROOT = Path(__file__).resolve().parents[2]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _record(path: Path, seconds: float, rss="12.5", cpu: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t20\t10\t11\t0\t0\t50\t{cpu}\n")


def _records(folder: Path) -> None:
    _record(folder / "train_pet" / "run=pet-aug.tsv", 100.0, cpu=180.0)
    _record(folder / "train_pet" / "run=pet-noaug.tsv", 90.0, rss="NA")
    _record(folder / "analyse_polarmae" / "run=polarmae-o3" / "phase=finetune" / "step=80.tsv",
            12.0)
    _record(folder / "fig4" / "job.tsv", 3.0, rss="300.0")


def test_every_rule_records_its_cost():
    """Each rule of the workflow (but the target ``all``) has a benchmark: line whose
    wildcards are those of its log, so collect-benchmarks can read them back."""
    rules = 0
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        # rules at the top level, in an if/else (analysis.jobs) or made in a loop
        # (``rule:`` with a ``name:``)
        for block in re.split(r"\n(?=[ ]*rule[ :])", path.read_text())[1:]:
            named = re.match(r"\s*rule (\w+):", block)
            name = named.group(1) if named else re.search(r"name:\n\s+(.+)", block).group(1)
            bench = re.search(r"benchmark:\n\s+benchmark_file\(([^)]*)\)", block)
            assert bench, f"{path.name}: rule {name} has no benchmark_file record"
            args = [a.strip().strip('"') for a in bench.group(1).split(",")]
            assert args[0] == name
            log = re.search(r"log:\n\s+(.+)", block).group(1)
            assert sorted(args[1:]) == sorted(re.findall(r"\{\{(\w+)\}\}", log)), name
            rules += 1
    assert rules >= 30


def test_collect_reads_rules_wildcards_and_numbers(tmp_path):
    _records(tmp_path)
    table = collect_benchmarks(tmp_path)
    assert table["wall_s"].tolist() == [100.0, 90.0, 12.0, 3.0]  # slowest first
    first = table.iloc[0]
    assert (first["rule"], first["wildcards"], first["status"]) == ("train_pet",
                                                                     "run=pet-aug", OK)
    assert (first["max_rss_mb"], first["cpu_s"]) == (12.5, 180.0)
    assert table.iloc[2]["wildcards"] == "run=polarmae-o3, phase=finetune, step=80"
    assert table.iloc[3]["wildcards"] == ""
    assert math.isnan(table.iloc[1]["max_rss_mb"])  # NA: no memory sample


def test_half_written_records_are_marked_missing(tmp_path):
    """A killed job's record does not break the collection: its row says why."""
    _records(tmp_path)
    broken = {"empty": "", "header": HEADER, "cut": HEADER + "4.5\t0:00:04\t12",
              "garbage": HEADER + "x\t0:00:01\t1\t2\t3\t4\t5\t6\t7\t8\n",
              "foreign": "a\tb\n1\t2\n"}
    for name, text in broken.items():
        path = tmp_path / "analyse_pet" / f"run={name}" / "epoch=0.tsv"
        path.parent.mkdir(parents=True)
        path.write_text(text)
    table = collect_benchmarks(tmp_path)
    bad = table[table["rule"] == "analyse_pet"].set_index("wildcards")["status"]
    assert bad["run=empty, epoch=0"].startswith("missing: the record is empty")
    assert bad["run=header, epoch=0"].startswith("missing: a header without values")
    assert bad["run=cut, epoch=0"].startswith("missing: line 2 has 3 of 10 values")
    assert bad["run=garbage, epoch=0"].startswith("missing: line 2 holds a value")
    assert bad["run=foreign, epoch=0"].startswith("missing: the header lacks s")
    assert table[table["rule"] == "analyse_pet"]["wall_s"].isna().all()
    assert (table[table["rule"] != "analyse_pet"]["status"] == OK).all()
    assert read_record(tmp_path / "nowhere.tsv")["status"].startswith("missing: unreadable")


def test_collect_command_and_cost_figure(tmp_path, capsys):
    folder = tmp_path / "benchmarks"
    _records(folder)
    (folder / "fig5").mkdir()
    (folder / "fig5" / "job.tsv").write_text(HEADER)  # a half-written record
    out = tmp_path / "benchmarks.csv"
    assert main(["collect-benchmarks", "--folder", str(folder), "--out", str(out)]) in (0, None)
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert len(table) == 5 and (table["status"] != OK).sum() == 1
    paths = build("cost", {"benchmarks": out}, tmp_path / "figures" / "cost")
    check_written_figure(cost, paths)
    drawn = pd.read_csv(paths["csv"])
    rules = drawn[drawn["panel"] == "a"].set_index("rule")
    assert rules.loc["train_pet", "wall_s"] == 190.0 and rules.loc["train_pet", "jobs"] == 2
    assert "fig5" not in rules.index  # its only job has no record: nothing to draw
    assert (drawn["missing_jobs"] == 1).all()
    fig = cost.plot(drawn)
    bars = [d["ax"] for d in artists(fig)]
    a, b, c = ([p.get_width() for p in ax.patches] for ax in bars)
    titles = [ax.get_title() for ax in bars]
    plt.close(fig)
    np.testing.assert_allclose(a, np.array([190.0, 12.0, 3.0]) / 60)
    np.testing.assert_allclose(b, [100.0, 90.0, 12.0, 3.0])
    np.testing.assert_allclose(c, [300.0, 12.5, 12.5])  # largest peak per rule
    assert "1 more without a record, not drawn" in titles[0]
