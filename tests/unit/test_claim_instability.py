"""Finding 8 (symlearn.findings.claims.unstable_where_a_is_high): the per-point Spearman
correlation of A and instability against a hand computation, its bootstrap interval over
events, part (b), the verdict each way (inconclusive included), "not run" naming a
missing or corrupt points.parquet, and the findings configuration's event count."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from project import configuration
from scipy import stats
from scipy.stats import spearmanr

from symlearn.figures import build, pointwise
from symlearn.findings import claims
from symlearn.findings.verdicts import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED

RUN = "polarmae-o3"
STEP = 240


def instability_table(recall: float = 0.9) -> pd.DataFrame:
    """The collected instability table of one augmented run at its fine-tuning steps 0
    and 240: the locations and two classes (recall 0.9: the run learned its classes)."""
    rows = []
    for step in (0, STEP):
        for grouping, group, n in (("location", "branching", 50),
                                   ("location", "track segment", 200),
                                   ("class", "shower", 300), ("class", "track", 100)):
            rows.append(dict(run=RUN, augmentation="o3", phase="finetune", step=step,
                             grouping=grouping, group=group, n_points=n, instability=0.1,
                             unstable_fraction=0.5, equivariance_rmse=0.01, accuracy=0.9,
                             recall_as_given=recall, grid_degree=8, check_degree=12))
    return pd.DataFrame(rows)


def points_table(slopes=(1.0,) * 12, n=40, seed=0, where=None) -> pd.DataFrame:
    """Per-point rows of ``len(slopes)`` events: in event k the instability rises (slope
    > 0) or falls with A; ``where(points) -> location`` places the points (default:
    every fifth a branching point, every other one on a track segment)."""
    rng = np.random.default_rng(seed)
    frames = []
    for event, slope in enumerate(slopes):
        a = rng.uniform(0.0, 1.0, n)
        instability = np.clip(0.5 + slope * (a - 0.5) + rng.normal(0, 0.05, n), 0, 1)
        point = np.arange(n)
        location = np.where(point % 5 == 0, "branching",
                            np.where(point % 2 == 0, "track segment", ""))
        frames.append(pd.DataFrame({
            "event": event, "point": point, "semantic": point % 4, "location": location,
            "equivariance_mse": a ** 2, "squared_error": 0.1, "instability": instability,
            "symmetrized_class": point % 4, "correct": True, "correct_as_given": 1.0}))
    table = pd.concat(frames, ignore_index=True)
    if where is not None:
        table["location"] = where(table)
    return table


def judge(points, instability=None):
    instability = instability_table() if instability is None else instability
    return claims.judge(8, claims.unstable_where_a_is_high, instability=instability,
                        points={RUN: points})


# -- the correlation ------------------------------------------------------------------


def test_spearman_by_hand_with_ties():
    """x ranks 1, 2.5, 2.5, 4, 5 and y ranks 1.5, 1.5, 3.5, 3.5, 5 (ties share their
    mean rank): the rank deviations from 3 give 8 / sqrt(9.5 x 9)."""
    x, y = [1.0, 2.0, 2.0, 3.0, 5.0], [0.0, 0.0, 1.0, 1.0, 2.0]
    expected = 8.0 / math.sqrt(9.5 * 9.0)
    assert pointwise.spearman(x, y) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(spearmanr(x, y).statistic, rel=1e-12)
    assert pointwise.spearman(x, y[::-1]) < 0
    assert math.isnan(pointwise.spearman(x, [0.3] * 5))  # constant: undefined
    # the claim judges exactly this number, pooled over every point of the events
    table = pd.DataFrame({"event": [0, 0, 1, 1, 1], "point": range(5),
                          "location": ["branching", "", "track segment", "", ""],
                          "equivariance_mse": x, "instability": y})
    (a, _) = judge(table).evidence
    assert a.value == pytest.approx(expected, rel=1e-12)
    assert "2 events, 5 points" in a.quantity


def test_bootstrap_resamples_events_with_its_seed():
    table = points_table(slopes=(1.0, 0.2, -0.3, 0.8, 0.5, 0.0), n=30)
    first = pointwise.correlation(table, seed=7)
    assert first == pointwise.correlation(table, seed=7)  # reproducible
    assert (first.low, first.high) != (lambda c: (c.low, c.high))(
        pointwise.correlation(table, seed=8))
    assert first.resamples == pointwise.RESAMPLES == 1000 and first.n_events == 6
    assert first.n_points == 180
    # the same draws by hand: events with replacement, their points pooled
    rng = np.random.default_rng(7)
    members = [np.flatnonzero(table["event"].to_numpy() == k) for k in range(6)]
    draws = []
    for _ in range(1000):
        chosen = np.concatenate([members[k] for k in rng.integers(0, 6, 6)])
        draws.append(spearmanr(table["equivariance_mse"].to_numpy()[chosen],
                               table["instability"].to_numpy()[chosen]).statistic)
    assert (first.low, first.high) == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])),
                                                     rel=1e-10)
    assert first.low < first.value < first.high


def test_identical_events_give_no_spread_whichever_points_are_drawn():
    """Events that are copies of each other pool to the same ranks however the events
    are drawn: an interval over events is a single point (one over points would not
    be)."""
    one = points_table(slopes=(0.4,), n=25, seed=3)
    copies = pd.concat([one.assign(event=k) for k in range(5)], ignore_index=True)
    found = pointwise.correlation(copies)
    assert found.low == pytest.approx(found.value, rel=1e-12)
    assert found.high == pytest.approx(found.value, rel=1e-12)
    assert found.n_events == 5 and found.n_points == 125


def test_one_event_has_no_interval_and_is_inconclusive():
    result = judge(points_table(slopes=(1.0,)))
    (a, _) = result.evidence
    assert a.value > 0.9 and math.isnan(a.ci_low) and math.isnan(a.ci_high)
    assert a.undecided and result.verdict == INCONCLUSIVE


# -- the verdict each way -------------------------------------------------------------


def test_finding_8_each_way():
    # (a) an interval above 0, (b) the track segments (every other point, the highest
    # instability at high A) above the mean of all points: here the location means are
    # about equal to the whole's, so place the unstable points on the segments
    def segments_at_high_a(table):
        return np.where(table["equivariance_mse"] > 0.25, "track segment", "")

    result = judge(points_table(where=segments_at_high_a))
    assert result.verdict == REPRODUCED, [(e.part, e.value, e.ci) for e in result.evidence]
    a, b = result.evidence
    assert a.ci_low > 0 and a.holds and b.part == "(b) track segment - all points"
    assert "12 events, 480 points" in result.why_not_run()

    # (b) fails: the locations hold the stable points, whatever the correlation
    def locations_at_low_a(table):
        return np.where(table["equivariance_mse"] < 0.04, "branching",
                        np.where(table["equivariance_mse"] < 0.2, "track segment", ""))

    result = judge(points_table(where=locations_at_low_a))
    a, b = result.evidence
    assert a.holds and not b.holds and result.verdict == NOT_REPRODUCED
    # the larger of the two locations is judged: branching points alone unstable
    def branching_at_high_a(table):
        return np.where(table["equivariance_mse"] > 0.6, "branching",
                        np.where(table["equivariance_mse"] < 0.1, "track segment", ""))

    (_, b) = judge(points_table(where=branching_at_high_a)).evidence
    assert b.part == "(b) branching - all points" and b.holds
    # (a) fails outright: instability falls with A in every event
    result = judge(points_table(slopes=(-1.0,) * 12, where=segments_at_high_a))
    a, _ = result.evidence
    assert a.ci_high < 0 and not a.undecided and result.verdict == NOT_REPRODUCED


def test_an_interval_across_zero_is_inconclusive(tmp_path):
    """Half the events rise, half fall: the pooled correlation is small and its interval
    over events straddles 0, so the finding is inconclusive (not reproduced needs a
    number that fails outright)."""
    def segments_at_high_a(table):
        return np.where(table["equivariance_mse"] > 0.25, "track segment", "")

    slopes = (1.0, -0.9) * 6
    result = judge(points_table(slopes=slopes, where=segments_at_high_a))
    a, b = result.evidence
    assert a.ci_low < 0 < a.ci_high and a.undecided and not a.holds
    assert result.verdict == INCONCLUSIVE
    # the table, its Markdown and the comparison say so, with the interval
    tables = dict.fromkeys(claims.INPUTS) | {"instability": instability_table()}
    table = claims.data(**tables,
                        points={RUN: points_table(slopes=slopes, where=segments_at_high_a)})
    row = table[(table["claim"] == 8) & (table["part"] == "(a) A vs instability")].iloc[0]
    assert row["verdict"] == INCONCLUSIVE and row["ci_low"] < 0 < row["ci_high"]
    text = claims.markdown(table)
    assert "1 inconclusive" in text and "**inconclusive**" in text
    assert "(interval straddles the threshold by " in text and "[95 % CI " in text
    line = claims.side_by_side({"run": table}).splitlines()[-1]
    assert line.startswith("| 8 |") and "**inconclusive**: " in line and "(a) A vs" in line


def test_unlearned_classes_still_make_it_not_run():
    result = judge(points_table(), instability=instability_table(recall=0.3))
    assert result.verdict == NOT_RUN and "error rate" not in result.why_not_run()
    assert result.unlearned[0].value == pytest.approx(0.7)


# -- the inputs -----------------------------------------------------------------------


def _inputs(tmp_path, points_path=None) -> dict:
    path = tmp_path / "instability.csv"
    instability_table().reindex(columns=claims.INPUTS["instability"]).to_csv(path,
                                                                            index=False)
    inputs = {"instability": path}
    if points_path is not None:
        inputs[f"points_{RUN}"] = points_path
    return inputs


def _row8(paths) -> pd.Series:
    table = pd.read_csv(paths["csv"])
    return table[table["claim"] == 8]


def test_points_reach_the_claim_through_the_inputs(tmp_path):
    path = tmp_path / "points.parquet"
    points_table().to_parquet(path)
    rows = _row8(build("claims", _inputs(tmp_path, path), tmp_path / "claims"))
    assert rows["verdict"].iloc[0] in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
    judged = rows[rows["part"] == "(a) A vs instability"].iloc[0]
    assert judged["ci_low"] <= judged["value"] <= judged["ci_high"]
    assert "12 events, 480 points" in judged["quantity"]
    assert "judged on polarmae-o3: 12 events, 480 points" in judged["reason"]
    assert judged["checkpoint"] == f"fine-tuning step {STEP}"
    # every other finding has no interval
    table = pd.read_csv(tmp_path / "claims.csv")
    assert list(table.columns) == claims.COLUMNS
    assert table.loc[table["claim"] != 8, ["ci_low", "ci_high"]].isna().all().all()


@pytest.mark.parametrize("kind", ["missing", "corrupt", "truncated", "no input"])
def test_an_unreadable_points_table_makes_finding_8_not_run(kind, tmp_path):
    path = tmp_path / "analysis" / "points.parquet"
    path.parent.mkdir()
    if kind == "corrupt":
        path.write_bytes(b"this is not parquet\n" * 20)
    elif kind == "truncated":
        points_table().to_parquet(path)
        path.write_bytes(path.read_bytes()[:200])
    inputs = _inputs(tmp_path, None if kind == "no input" else path)
    rows = _row8(build("claims", inputs, tmp_path / "claims"))  # never raises
    assert (rows["verdict"] == NOT_RUN).all()
    reason = rows["reason"].iloc[0]
    if kind == "no input":
        assert f"no points.parquet of run {RUN}" in reason and f"points_{RUN}_SEED=" in reason
    else:
        assert str(path) in reason
        assert ("no such table" if kind == "missing" else "unreadable as Parquet") in reason
    assert str(path) in (tmp_path / "claims.md").read_text() or kind == "no input"


def test_a_points_table_without_a_column_is_not_run(tmp_path):
    path = tmp_path / "points.parquet"
    points_table().drop(columns=["instability"]).to_parquet(path)
    result = judge(str(path))
    assert result.verdict == NOT_RUN
    assert result.reason == f"{path}: missing column(s) instability"


# -- the configuration ----------------------------------------------------------------


def test_findings_analyses_twelve_events_of_a_test_split_that_has_them(tmp_path):
    """config/findings.yaml analyses at least 12 PoLAr-MAE test events per checkpoint,
    and at least that many of its synthetic test events pass the preprocessing; the
    default keeps its 3 analysed events and its split sizes."""
    from symlearn.polarmae.simulator import make_lartpc
    from symlearn.polarmae.train import EventStore
    from symlearn.settings.polarmae import polarmae_run_settings

    default, findings = configuration(), configuration("findings.yaml")
    n_events = findings["analysis"]["polarmae"]["n_events"]
    assert n_events >= 12 and default["analysis"]["polarmae"]["n_events"] == 3
    splits = findings["data"]["lartpc"]["synthetic"]["n_events"]
    assert {k: v for k, v in splits.items() if k != "test"} == {
        k: v for k, v in default["data"]["lartpc"]["synthetic"]["n_events"].items()
        if k != "test"}
    lartpc = findings["data"]["lartpc"]
    make_lartpc(tmp_path, lartpc["synthetic"]["seed"], {"test": splits["test"]},
                lartpc["synthetic"]["layout"])
    settings = polarmae_run_settings(findings, "polarmae-o3")
    store = EventStore(str(tmp_path / "test.h5"), settings["preprocessing"],
                       settings["tokenizer"], branching_radius=lartpc["branching_radius"])
    kept = sum(store.get(i) is not None for i in range(store.n_events))
    assert kept >= n_events, (kept, n_events)


def test_finding_8_with_seeds_is_the_mean_over_them():
    """Three seeds' points (the same events): each number is the mean of the seeds'
    (each computed as with one seed), the row says 3 seeds, and its interval holds the
    seeds' spread: at least the t half-width of their values."""
    tables = {str(seed): points_table(seed=seed) for seed in range(3)}
    result = claims.judge(8, claims.unstable_where_a_is_high,
                          instability=instability_table(), points={RUN: tables})
    assert result.verdict != NOT_RUN, result.reason
    correlations = [pointwise.correlation(t).value for t in tables.values()]
    # (b) at the location the mean over seeds chose (a seed alone may choose the other)
    part = result.evidence[1].part
    where = part[len("(b) "):part.index(" - all points")]
    excesses = [pointwise.excess_instability(t, where).value for t in tables.values()]
    for evidence, values in zip(result.evidence, (correlations, excesses), strict=True):
        assert evidence.value == pytest.approx(np.mean(values), rel=1e-12)
        assert evidence.seeds == 3
        half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
        assert evidence.ci_high - evidence.ci_low >= 2 * half - 1e-12


def test_table1s_instability_interval_is_over_events_and_seeds():
    from symlearn.figures.table1 import instability_interval

    tables = {str(seed): points_table(seed=seed) for seed in range(2)}
    learned = [t[t["semantic"] < 4]["instability"].mean() for t in tables.values()]
    found = instability_interval({RUN: tables}, RUN, resamples=300)
    assert found["ci_low"] < np.mean(learned) < found["ci_high"]
    assert instability_interval({}, RUN) == {}
