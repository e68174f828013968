"""cost: where a run's time and memory went, from ``results/benchmarks.csv``.

(a) the wall time of the costliest rules, summed over their jobs (the number of jobs
beside each bar), the other rules summed in one bar; (b) the slowest jobs, each with its
wildcards; (c) the rules whose jobs need the most memory: the largest peak resident
memory of any of their jobs. Jobs whose record could not be read (a killed job's
half-written file) have no numbers: they are counted in the title, not drawn. A rule
whose jobs never recorded a memory sample has no bar in (c).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..benchmarks import BENCHMARK_COLUMNS, OK
from . import style

INPUTS = {"benchmarks": BENCHMARK_COLUMNS}
#: the slowest jobs panel (b) shows, the rules panel (a) shows one by one (the rest in
#: one bar) and the rules panel (c) shows
SLOWEST = 10
RULES = 12
MEMORY = 10


def data(benchmarks: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is drawn: per rule (panels a and c) and the slowest jobs (b)."""
    benchmarks = benchmarks.assign(wildcards=benchmarks["wildcards"].fillna(""))
    recorded = benchmarks[benchmarks["status"] == OK]
    missing = int((benchmarks["status"] != OK).sum())
    rules = (recorded.groupby("rule")
             .agg(jobs=("wall_s", "size"), wall_s=("wall_s", "sum"),
                  max_rss_mb=("max_rss_mb", "max"), cpu_s=("cpu_s", "sum"))
             .reset_index().sort_values("wall_s", ascending=False))
    rules = rules.assign(panel="a", label=rules["rule"])
    if len(rules) > RULES + 1:
        rest = rules.iloc[RULES:]
        other = {"rule": "", "jobs": int(rest["jobs"].sum()), "wall_s": rest["wall_s"].sum(),
                 "max_rss_mb": rest["max_rss_mb"].max(), "cpu_s": rest["cpu_s"].sum(),
                 "panel": "a", "label": f"the other {len(rest)} rules"}
        rules = pd.concat([rules.iloc[:RULES], pd.DataFrame([other])], ignore_index=True)
    slowest = recorded.nlargest(SLOWEST, "wall_s")
    slowest = slowest.assign(panel="b", jobs=1, label=[
        _job_label(r, w) for r, w in zip(slowest["rule"], slowest["wildcards"], strict=True)])
    memory = (recorded.groupby("rule")["max_rss_mb"].max().dropna()
              .sort_values(ascending=False).head(MEMORY).reset_index())
    memory = memory.assign(panel="c", label=memory["rule"])
    table = pd.concat([rules, slowest, memory], ignore_index=True)
    table["missing_jobs"] = missing
    return table[["panel", "rule", "wildcards", "label", "jobs", "wall_s", "max_rss_mb",
                  "cpu_s", "missing_jobs"]]


def _job_label(rule: str, wildcards: str) -> str:
    """The rule, and under it the job's wildcard values (``run=a, epoch=3``: a/3)."""
    values = [item.split("=", 1)[-1] for item in wildcards.split(", ") if item]
    return f"{rule}\n{'/'.join(values)}" if values else rule


def _bars(ax, labels, values, color, xlabel: str, notes=None) -> None:
    y = np.arange(len(labels))
    ax.barh(y, values, color=color, height=0.7)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if notes is not None:
        for k, (value, note) in enumerate(zip(values, notes, strict=True)):
            ax.annotate(note, (value, k), xytext=(2, 0), textcoords="offset points",
                        va="center", fontsize=style.FONT_SIZE - 1)
        ax.set_xlim(right=max(values) * 1.3 if len(values) else 1.0)


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    rules, slowest = table[table["panel"] == "a"], table[table["panel"] == "b"]
    memory = table[table["panel"] == "c"]
    rows = [len(rules), len(slowest), len(memory)]
    heights = [0.75 + 0.15 * max(rows[0], 1), 0.65 + 0.24 * max(rows[1], 1),
               0.6 + 0.15 * max(rows[2], 1)]
    fig = style.figure(sum(heights))
    panels = fig.subfigures(3, 1, height_ratios=heights)
    colors = style.colors(3)
    missing = int(table["missing_jobs"].iloc[0]) if len(table) else 0
    total = rules["wall_s"].sum()
    title = (f"{int(rules['jobs'].sum())} jobs, {total / 60:.1f} min in all"
             + (f"\n{missing} more without a record, not drawn" if missing else ""))
    ax = panels[0].subplots()
    _bars(ax, rules["label"], rules["wall_s"] / 60, colors[0], "wall time, summed (min)",
          [f"{n} job{'s' if n != 1 else ''}" for n in rules["jobs"].astype(int)])
    ax.set_title(title, fontsize=style.FONT_SIZE)
    style.panel_label(panels[0], "a")
    ax = panels[1].subplots()
    _bars(ax, slowest["label"], slowest["wall_s"], colors[1], "wall time (s)")
    ax.tick_params(axis="y", labelsize=style.FONT_SIZE - 1.5)
    ax.set_title(f"the {len(slowest)} slowest jobs", fontsize=style.FONT_SIZE)
    style.panel_label(panels[1], "b")
    ax = panels[2].subplots()
    _bars(ax, memory["label"], memory["max_rss_mb"], colors[2],
          "largest peak memory of a job (MB)")
    ax.set_title(f"the {len(memory)} rules needing the most", fontsize=style.FONT_SIZE)
    style.panel_label(panels[2], "c")
    return fig
