"""The findings table (symlearn.findings.claims): each verdict made to come out each way
from fixture tables, a finding whose inputs are missing is "not run", and the files
are written."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from symlearn.figures import build
from symlearn.figures.tables import whole_output
from symlearn.findings import claims
from symlearn.findings.verdicts import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED

STRESS_PARTS = [(0, 1), (1, -1), (2, 1)]


def errors_table(a_aug=0.02, a_plain=0.2, rmse=0.1, error=0.0, plain=True) -> pd.DataFrame:
    """A PET errors table: pet-aug (and pet-noaug) at epochs 0 and 30, energy, forces and
    the stress's three parts (the antisymmetric one vanishing, as it does)."""
    rows = []
    runs = [("pet-aug", "o3", a_aug)] + ([("pet-noaug", "none", a_plain)] if plain else [])
    for run, augmentation, a in runs:
        for epoch in (0, 30):
            parts = [("energy", 0, 1), ("non_conservative_force", 1, 1)]
            parts += [("non_conservative_stress", lam, sigma) for lam, sigma in STRESS_PARTS]
            for target, lam, sigma in parts:
                zero = lam == 1 and "stress" in target
                rows.append(dict(
                    run=run, augmentation=augmentation, epoch=epoch, target=target,
                    o3_lambda=lam, o3_sigma=sigma, rmse_as_given=0.0 if zero else rmse,
                    equivariance_rmse=1e-18 if zero else a, n_samples=8,
                    reference_rms=0.0 if zero else 1.0,
                    quadrature_error=0.0 if zero else error, grid_degree=8,
                    check_degree=12, quadrature_flagged=False))
    return pd.DataFrame(rows)


def spectrum_table(low=0.9, odd=0.01, force_start=0.1, force_end=0.6, error=0.0):
    """A PET spectrum: one internal layer (fractions: ``low`` at lambda <= 2 split over
    sigma, the rest at lambda = 4) and the force output, at epochs 0 and 30."""
    rows = []
    for epoch in (0, 30):
        fractions = {(0, 1): low - odd, (0, -1): odd, (4, 1): 1 - low}
        force = force_start if epoch == 0 else force_end
        for layer, values in (("feature", fractions),
                              ("non_conservative_force", {(1, 1): force, (0, 1): 1 - force})):
            for (lam, sigma), fraction in values.items():
                rows.append(dict(run="pet-aug", augmentation="o3", epoch=epoch, layer=layer,
                                 o3_lambda=lam, o3_sigma=sigma, fraction=fraction,
                                 residual=0.0, quadrature_error=error,
                                 residual_quadrature_error=0.0, grid_degree=8,
                                 check_degree=12, quadrature_flagged=False))
    return pd.DataFrame(rows)


def geometric_table(cartesian=0.9, harmonics=(0.6, 0.3), density=(0.8, 0.2),
                    control=(0.2, 0.1)):
    """Relative test RMSEs (reference RMS 1) of the pseudoscalar and density_l8 at the
    last epoch: Cartesian, then solid harmonics L = 2 and L = 8, then the exactly
    equivariant control (pseudoscalar, density_l8; None: no control run)."""
    runs = [("geo-cartesian", "cartesian", None, cartesian, density[0]),
            ("geo-sh2", "solid_harmonics", 2, harmonics[0], 0.7),
            ("geo-sh8", "solid_harmonics", 8, harmonics[1], density[1])]
    if control is not None:
        runs.append(("geo-control", "soap_bpnn", None, *control))
    rows = []
    for run, kind, lmax, pseudo, high in runs:
        for target, lam, sigma, value in (("pseudoscalar", 0, -1, pseudo),
                                          ("density_l8", 8, 1, high)):
            rows.append(dict(run=run, augmentation="o3", edge_embedding=kind, edge_lmax=lmax,
                             epoch=30, target=target, o3_lambda=lam, o3_sigma=sigma,
                             rmse_as_given=value, equivariance_rmse=0.01, n_samples=4,
                             quadrature_error=0.0, grid_degree=12, check_degree=16,
                             quadrature_flagged=False, reference_rms=1.0))
    return pd.DataFrame(rows)


def purification_table(a_after=0.4, rmse_after=1.05, error=0.0, reference=4.0,
                       rmse_least=0.9):
    """The stress of pet-aug before (A 1, RMSE 1) and refitted at mu 0 (A 2, RMSE
    ``rmse_least``), 1 (A ``a_after``, RMSE ``rmse_after``) and 10 (A 0.1, RMSE 1.5, never
    within 1.1 x) (reference RMS ``reference``: learned, relative RMSE 0.25, by
    default)."""
    rows = []
    for stage, mu, a, rmse in (("original", math.nan, 1.0, 1.0),
                               ("readout_refit", 0.0, 2.0, rmse_least),
                               ("readout_refit", 1.0, a_after, rmse_after),
                               ("readout_refit", 10.0, 0.1, 1.5)):
        for lam, sigma in STRESS_PARTS:
            zero = lam == 1
            rows.append(dict(run="pet-aug", augmentation="o3", edge_embedding="cartesian",
                             edge_lmax=None, epoch=30, target="non_conservative_stress",
                             o3_lambda=lam, o3_sigma=sigma, stage=stage, mu=mu,
                             rmse_as_given=0.0 if zero else rmse,
                             equivariance_rmse=0.0 if zero else a, n_samples=8,
                             reference_rms=0.0 if zero else reference,
                             quadrature_error=error, grid_degree=8, check_degree=12,
                             quadrature_flagged=False, equivariance_estimate="quadrature",
                             setup_evaluations=0, evaluations_per_prediction=1))
    return pd.DataFrame(rows)


def instability_table(branching=0.3, segment=0.1):
    rows = []
    for step, scale in ((0, 1.0), (240, 1.0)):
        for group, value in (("branching", branching), ("track segment", segment)):
            rows.append(dict(run="polarmae-o3", augmentation="o3", phase="finetune", step=step,
                             grouping="location", group=group, n_points=100,
                             instability=value * scale, unstable_fraction=0.5,
                             equivariance_rmse=0.01, accuracy=0.9,
                             recall_as_given=0.9))
    return pd.DataFrame(rows)


def points_frame() -> pd.DataFrame:
    """polarmae-o3's points.parquet: 4 events of 10 points, instability rising with A
    in each, the 4 most unstable points of each on track segments (finding 8 holds:
    tests/unit/test_claim_instability.py judges it each way)."""
    ranks = [float(k) for k in range(10)] * 4
    return pd.DataFrame({
        "event": [e for e in range(4) for _ in range(10)], "point": list(range(10)) * 4,
        "location": ([""] * 6 + ["track segment"] * 4) * 4,
        "equivariance_mse": [r + 0.1 * (i // 10) for i, r in enumerate(ranks)],
        "instability": [r / 10 for r in ranks]})


def verdict(check, **tables):
    return check(**tables).verdict


def test_small_equivariance_error_each_way():
    check = claims.small_equivariance_error
    assert verdict(check, errors=errors_table(a_aug=0.02, rmse=0.1)) == REPRODUCED
    assert verdict(check, errors=errors_table(a_aug=0.06, rmse=0.1)) == NOT_REPRODUCED
    # 0.45 < 0.5, but not by more than its quadrature error (0.01 / 0.1 = 0.1)
    assert verdict(check, errors=errors_table(a_aug=0.045, rmse=0.1, error=0.01)) == \
        NOT_REPRODUCED
    assert verdict(check, errors=None) == NOT_RUN
    plain_only = errors_table()
    plain_only = plain_only[plain_only["augmentation"] == "none"]
    result = check(errors=plain_only)
    assert result.verdict == NOT_RUN and "O(3) augmentation" in result.reason


def test_whole_output_pools_parts_by_their_components():
    parts = pd.DataFrame(dict(o3_lambda=[0, 2], rmse_as_given=[1.0, 2.0],
                              equivariance_rmse=[3.0, 0.0], quadrature_error=[0.0, 0.0]))
    as_given, a, error = whole_output(parts)
    assert as_given == pytest.approx(math.sqrt((1 + 5 * 4) / 6))
    assert a == pytest.approx(math.sqrt(9 / 6)) and error == 0.0


def test_augmentation_helps_each_way():
    check = claims.augmentation_helps
    assert verdict(check, errors=errors_table(a_aug=0.02, a_plain=0.2)) == REPRODUCED
    assert verdict(check, errors=errors_table(a_aug=0.3, a_plain=0.2)) == NOT_REPRODUCED
    # the gap (0.01) is within the two quadrature errors (2 x 0.01)
    assert verdict(check, errors=errors_table(a_aug=0.19, a_plain=0.2, error=0.01)) == \
        NOT_REPRODUCED
    assert verdict(check, errors=errors_table(plain=False)) == NOT_RUN
    # the vanishing antisymmetric stress part is not judged
    parts = {e.part for e in check(errors=errors_table()).evidence}
    assert not any("(1,-1)" in part for part in parts)


def test_low_lambda_features_each_way():
    check = claims.low_lambda_features
    assert verdict(check, spectrum=spectrum_table(low=0.9, odd=0.01)) == REPRODUCED
    assert verdict(check, spectrum=spectrum_table(low=0.4)) == NOT_REPRODUCED
    assert verdict(check, spectrum=spectrum_table(low=0.9, odd=0.6)) == NOT_REPRODUCED
    # outputs are not internal layers: the force output's fractions are not judged
    layers = {e.part for e in check(spectrum=spectrum_table()).evidence}
    assert layers == {"feature (a)", "feature (b)"}
    assert verdict(check, spectrum=None) == NOT_RUN


def test_force_gains_vector_character_each_way():
    check = claims.force_gains_vector_character
    assert verdict(check, spectrum=spectrum_table(force_start=0.1, force_end=0.6)) == REPRODUCED
    assert verdict(check, spectrum=spectrum_table(force_start=0.1, force_end=0.25)) == \
        NOT_REPRODUCED
    # a gain of 0.25 with 0.05 of quadrature error on each end is not 0.2 for sure
    assert verdict(check, spectrum=spectrum_table(force_start=0.1, force_end=0.35,
                                                  error=0.05)) == NOT_REPRODUCED
    table = spectrum_table()
    assert verdict(check, spectrum=table[table["epoch"] == 30]) == NOT_RUN


def test_geometric_findings_each_way():
    five, six = claims.pseudoscalar_needs_harmonics, claims.high_lambda_needs_high_order
    assert verdict(five, geometric_errors=geometric_table()) == REPRODUCED
    # the Cartesian run learned it (0.4 < 0.5)
    assert verdict(five, geometric_errors=geometric_table(cartesian=0.4)) == NOT_REPRODUCED
    # the best harmonics run is not twice as good
    assert verdict(five, geometric_errors=geometric_table(harmonics=(0.6, 0.5))) == \
        NOT_REPRODUCED
    assert verdict(six, geometric_errors=geometric_table(density=(0.8, 0.2))) == REPRODUCED
    # the highest-L run (L = 8), not the best one, is compared
    assert verdict(six, geometric_errors=geometric_table(density=(0.8, 0.5))) == NOT_REPRODUCED
    cartesian_only = geometric_table()
    cartesian_only = cartesian_only[cartesian_only["edge_embedding"] == "cartesian"]
    assert verdict(five, geometric_errors=cartesian_only) == NOT_RUN
    assert verdict(six, geometric_errors=None) == NOT_RUN
    # judged only where the exactly equivariant control learns the target
    checks = {number: check for number, _, _, check in claims.CLAIMS}
    for number, control in ((5, (0.7, 0.1)), (6, (0.2, 0.6))):
        result = claims.judge(number, checks[number],
                              geometric_errors=geometric_table(control=control))
        assert result.verdict == NOT_RUN, number
        assert [e.run for e in result.unlearned] == ["geo-control"]
        assert "geo-control" in result.why_not_run()
        result = claims.judge(number, checks[number],
                              geometric_errors=geometric_table(control=None))
        assert result.verdict == NOT_RUN
        assert "no exactly equivariant control run" in result.why_not_run()
    # the control is not a PET embedding: never the best solid-harmonics run
    assert verdict(five, geometric_errors=geometric_table(control=(0.01, 0.01))) == \
        REPRODUCED


def test_purification_each_way():
    check = claims.purification_halves_stress
    assert verdict(check, purification=purification_table(0.4, 1.05)) == REPRODUCED
    assert verdict(check, purification=purification_table(0.6, 1.1)) == REPRODUCED  # <=
    assert verdict(check, purification=purification_table(0.8, 1.0)) == NOT_REPRODUCED
    # mu 1 is not within 1.1 x: mu 0, whose A doubles, is judged
    assert verdict(check, purification=purification_table(0.4, 1.3)) == NOT_REPRODUCED
    # no mu within 1.1 x: not reproduced, saying so
    result = claims.judge(7, claims.purification_halves_stress,
                          purification=purification_table(0.4, 1.3, rmse_least=1.2))
    assert result.verdict == NOT_REPRODUCED
    assert "no mu of 3 keeps the stress test RMSE" in result.why_not_run()
    # the evidence names the mu judged
    result = claims.judge(7, claims.purification_halves_stress,
                          purification=purification_table())
    assert "mu = 1 " in " ".join(e.quantity for e in result.evidence)
    assert "pet-aug: mu = 1, the largest of 3" in result.why_not_run()
    assert verdict(check, purification=purification_table(0.55, 1.0, error=0.1)) == \
        NOT_REPRODUCED
    table = purification_table()
    assert verdict(check, purification=table[table["stage"] == "original"]) == NOT_RUN


def test_finding_8_reads_the_points_of_the_augmented_run():
    """Finding 8 is judged on every analysed point (tests/unit/test_claim_instability.py
    judges it each way); with the instability table alone it is not run, naming the
    input it lacks."""
    check = claims.unstable_where_a_is_high
    result = check(instability=instability_table())
    assert result.verdict == NOT_RUN and "--input points_polarmae-o3_SEED=" in result.reason
    assert verdict(check, instability=instability_table(),
                   points={"polarmae-o3": points_frame()}) == REPRODUCED


def test_every_finding_is_not_run_without_tables():
    table = claims.data(errors=None, spectrum=None, geometric_errors=None,
                        purification=None, instability=None)
    assert table["claim"].tolist() == list(range(1, 9))
    assert (table["verdict"] == NOT_RUN).all() and table["reason"].str.len().gt(0).all()


def test_build_writes_both_files(tmp_path):
    inputs = {}
    for name, table in (("errors", errors_table()), ("spectrum", spectrum_table()),
                        ("purification", purification_table()),
                        ("instability", instability_table())):
        inputs[name] = tmp_path / f"{name}.csv"
        # every column of the collected table (those the fixture leaves out are empty)
        table.reindex(columns=list(dict.fromkeys([*table.columns, *claims.INPUTS[name]]))
                      ).to_csv(inputs[name], index=False)
    inputs["points_polarmae-o3"] = tmp_path / "points.parquet"
    points_frame().to_parquet(inputs["points_polarmae-o3"])
    paths = build("claims", inputs, tmp_path / "claims")
    table = pd.read_csv(paths["csv"])
    verdicts = table.drop_duplicates("claim").set_index("claim")["verdict"]
    assert verdicts.to_dict() == {1: REPRODUCED, 2: REPRODUCED, 3: REPRODUCED,
                                  4: REPRODUCED, 5: NOT_RUN, 6: NOT_RUN, 7: REPRODUCED,
                                  8: REPRODUCED}
    text = (tmp_path / "claims.md").read_text()
    assert "Verdicts: 6 reproduced, 0 not reproduced, 0 inconclusive, 2 not run" in text
    assert "no run trained on the geometric targets" in text


def test_side_by_side_shows_each_verdict_with_the_number_it_turned_on(tmp_path, root):
    small = claims.data(errors=errors_table(a_aug=0.02, rmse=0.1), spectrum=None,
                        geometric_errors=None, purification=None, instability=None)
    large = claims.data(errors=errors_table(a_aug=0.06, rmse=0.1), spectrum=None,
                        geometric_errors=geometric_table(), purification=None,
                        instability=None)
    lines = claims.side_by_side({"default": small, "findings": large}).splitlines()
    assert lines[0] == "| # | finding | default | findings |"
    assert len(lines) == 2 + 8
    row1 = lines[2].split(" | ")
    assert row1[2].startswith("**reproduced**: ") and row1[3].startswith(
        "**not reproduced**: 0.6 (")  # 0.06 / 0.1, the failing number
    row6 = lines[7].split(" | ")
    assert row6[2].startswith("**not run**: no run trained on the geometric targets")
    assert row6[3].startswith("**reproduced**: ")
    # the command reads claims.csv files and names a bad argument
    import subprocess
    import sys
    path = tmp_path / "claims.csv"
    large.to_csv(path, index=False)
    done = subprocess.run([sys.executable, "-m", "symlearn", "compare-claims",
                           f"findings={path}", "bad"], capture_output=True, text=True)
    assert done.returncode == 2 and "'bad': expected NAME=CLAIMS_CSV" in done.stderr
    done = subprocess.run([sys.executable, "-m", "symlearn", "compare-claims",
                           f"findings={path}"], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[7].startswith("| 6 |")


def _with_density(table: pd.DataFrame, low: float) -> pd.DataFrame:
    """The geometric fixture with density_l0..2 of relative test RMSE ``low`` (geo-sh2's
    lambda = 1 at 0.8: a run that did not learn it when ``low`` is small)."""
    rows = []
    for run in table["run"].unique():
        first = table[table["run"] == run].iloc[0].to_dict()
        for lam in range(3):
            value = 0.8 if (run == "geo-sh2" and lam == 1 and low < 0) else abs(low)
            rows.append(dict(first, target=f"density_l{lam}", o3_lambda=lam, o3_sigma=1,
                             rmse_as_given=value, reference_rms=1.0))
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True)


def _class_rows(recall: float) -> pd.DataFrame:
    table = instability_table()
    rows = [dict(table.iloc[-1].to_dict(), grouping="class", group=name, n_points=n,
                 recall_as_given=recall) for name, n in (("shower", 300), ("track", 100))]
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True)


def test_findings_are_judged_only_on_models_that_learned():
    """A run whose relative test RMSE (as given) is not below 0.5 on the outputs a
    finding is about makes it `not run`, naming the run, the output and the error, even
    where the criterion itself would hold."""
    learned = dict(errors=errors_table(a_aug=0.02, rmse=0.1), spectrum=spectrum_table())
    unlearned = dict(errors=errors_table(a_aug=0.02, rmse=0.7), spectrum=spectrum_table())
    checks = {number: check for number, _, _, check in claims.CLAIMS}
    for number in (1, 2, 3, 4):
        assert claims.judge(number, checks[number], **learned).verdict == REPRODUCED
        result = claims.judge(number, checks[number], **unlearned)
        assert result.verdict == NOT_RUN, number
        assert "pet-aug forces (1,+1) 0.7 at epoch 30" in result.why_not_run()
    # 2 reads the plain run too, 4 only the forces of the augmented one
    assert {e.run for e in claims.judge(2, checks[2], **unlearned).unlearned} == {
        "pet-aug", "pet-noaug"}
    assert {e.part for e in claims.judge(4, checks[4], **unlearned).unlearned} == {
        "forces (1,+1)"}
    # 5 and 6: every geometric run learned its densities up to lambda = 2
    for number in (5, 6):
        good = claims.judge(number, checks[number],
                            geometric_errors=_with_density(geometric_table(), 0.2))
        # 4 runs x 3 densities, and the control's pseudoscalar or density_l8
        assert good.verdict == REPRODUCED and len(good.preconditions) == 13
        bad = claims.judge(number, checks[number],
                           geometric_errors=_with_density(geometric_table(), -0.2))
        assert bad.verdict == NOT_RUN
        assert [e.run for e in bad.unlearned] == ["geo-sh2"]
    # 7: the stress as trained (the original stage), relative RMSE 1.0
    assert claims.judge(7, checks[7], purification=purification_table()).verdict == \
        REPRODUCED
    result = claims.judge(7, checks[7], purification=purification_table(reference=1.0))
    assert result.verdict == NOT_RUN and "stress (0,+1) 1 at epoch 30" in result.why_not_run()
    # 8: the share of points classified right, weighted by points (1 - 0.3 = 0.7)
    result = claims.judge(8, checks[8], instability=_class_rows(0.3))
    assert result.verdict == NOT_RUN
    assert result.unlearned[0].value == pytest.approx(0.7)
    assert claims.judge(8, checks[8], instability=_class_rows(0.9),
                        points={"polarmae-o3": points_frame()}).verdict == REPRODUCED


def _deviatoric(errors: pd.DataFrame, rmse: float, a_aug: float) -> pd.DataFrame:
    """``errors`` with the deviatoric stress (2,+1) at relative test RMSE ``rmse`` in
    every run, and pet-aug's A on it ``a_aug``."""
    errors = errors.copy()
    part = (errors["target"] == "non_conservative_stress") & (errors["o3_lambda"] == 2)
    errors.loc[part, "rmse_as_given"] = rmse
    errors.loc[part & (errors["run"] == "pet-aug"), "equivariance_rmse"] = a_aug
    return errors


def test_a_part_no_run_learned_is_left_out_of_the_criterion_and_named():
    """Findings 1 and 2 are judged on the output parts the runs learned: a deviatoric
    stress at relative error 0.98 is left out (named in the reason, with each run's
    error) whichever way it would turn the verdict; learned, it is judged."""
    checks = {number: check for number, _, _, check in claims.CLAIMS}
    # pet-aug's A on the unlearned part is above pet-noaug's: it would fail finding 2
    unlearned = _deviatoric(errors_table(a_aug=0.02, a_plain=0.2), rmse=0.98, a_aug=0.5)
    for number in (1, 2):
        result = claims.judge(number, checks[number], errors=unlearned)
        assert result.verdict == REPRODUCED, number
        assert not any("(2,+1)" in e.part for e in result.evidence)
        assert "stress (2,+1): pet-aug 0.98" in result.why_not_run()
    assert "pet-noaug 0.98" in claims.judge(2, checks[2], errors=unlearned).why_not_run()
    learned = _deviatoric(errors_table(a_aug=0.02, a_plain=0.2), rmse=0.3, a_aug=0.5)
    result = claims.judge(2, checks[2], errors=learned)
    assert result.verdict == NOT_REPRODUCED and result.why_not_run() == ""
    assert any("(2,+1)" in e.part and not e.holds for e in result.evidence)


def test_claims_table_shows_the_relative_errors_beside_the_verdicts(tmp_path):
    table = claims.data(errors=errors_table(a_aug=0.02, rmse=0.7), spectrum=None,
                        geometric_errors=None, purification=None, instability=None)
    first = table[table["claim"] == 1]
    assert set(first["role"]) == {"precondition", "criterion"}
    assert (first["verdict"] == NOT_RUN).all()
    pre = first[first["role"] == "precondition"]
    assert pre["value"].tolist() == pytest.approx([0.7] * 3) and not pre["holds"].any()
    text = claims.markdown(table)
    assert "relative test RMSE of the runs read" in text
    assert "pet-aug: energy (0,+1) 0.7 (not learned)" in text


# -- intervals from the per-structure rows ---------------------------------------------


def _structure_rows(rng, a_aug, a_plain, n_structures=8):
    """Per-structure rows of pet-aug and pet-noaug at epoch 30 (analyse.tables' format):
    each structure's squared equivariance error of energy, forces and the stress parts
    drawn around ``a_aug`` / ``a_plain`` (callables of the structure index)."""
    rows = []
    for run, augmentation, a in (("pet-aug", "o3", a_aug), ("pet-noaug", "none", a_plain)):
        for s in range(n_structures):
            n_atoms = 8 + s
            for target, lam, sigma, samples in (
                    ("energy", 0, 1, 1), ("non_conservative_force", 1, 1, n_atoms),
                    ("non_conservative_stress", 0, 1, 1),
                    ("non_conservative_stress", 2, 1, 1)):
                rows.append(dict(run=run, augmentation=augmentation, epoch=30, structure=s,
                                 table="errors", name=target, o3_lambda=lam, o3_sigma=sigma,
                                 n_samples=samples, equivariance_mse=a(s) ** 2,
                                 as_given_mse=0.01 * (1 + rng.uniform()),
                                 accuracy_mse=0.01, reference_ms=1.0, output_ms=1.0))
    return pd.DataFrame(rows)


def _pooled_errors(rows):
    from symlearn.analyse.tables import errors_table as pool

    frames = [pool(group).assign(run=run, augmentation=augmentation, epoch=epoch,
                                 quadrature_error=0.0, grid_degree=8, check_degree=12,
                                 quadrature_flagged=False)
              for (run, augmentation, epoch), group in rows.groupby(
                  ["run", "augmentation", "epoch"], sort=False)]
    return pd.concat(frames, ignore_index=True)


def test_the_per_structure_rows_give_every_judged_number_an_interval():
    """Claims 1 and 2 from pooled tables and the per-structure rows they were pooled
    from: each judged number gets a 95 % interval that holds it. The augmented run's A
    is half the plain run's on every structure, so finding 2 is reproduced on the
    whole interval (paired: the same structures). One structure on which the augmented
    run is far worse makes it inconclusive: the interval then reaches above 0."""
    rng = np.random.default_rng(0)
    rows = _structure_rows(rng, lambda s: 0.02 * (1 + s), lambda s: 0.04 * (1 + s))
    table = claims.data(**(dict.fromkeys(claims.INPUTS) | {"errors": _pooled_errors(rows)}),
                        structures=rows)
    judged = table[(table["role"] == "criterion") & table["claim"].isin([1, 2])]
    assert len(judged) and judged["ci_low"].notna().all()
    assert ((judged["ci_low"] <= judged["value"]) & (judged["value"] <= judged["ci_high"])).all()
    two = table[table["claim"] == 2]
    assert two["verdict"].iloc[0] == REPRODUCED and (two["ci_high"].dropna() < 0).all()

    worse = _structure_rows(rng, lambda s: 0.02 * (1 + s) if s else 1.0,
                            lambda s: 0.04 * (1 + s))
    table = claims.data(**(dict.fromkeys(claims.INPUTS) | {"errors": _pooled_errors(worse)}),
                        structures=worse)
    two = table[(table["claim"] == 2) & (table["role"] == "criterion")]
    assert two["verdict"].iloc[0] == INCONCLUSIVE
    assert (two["ci_low"] < 0).all() and (two["ci_high"] > 0).any()
    assert "interval straddles the threshold by" in claims.markdown(table)
