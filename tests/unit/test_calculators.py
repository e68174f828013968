"""The ASE-calculator family (symlearn.calculators): A of any calculator's energy,
forces and stress on the exact grid, checked on EMT (exactly invariant: A at the
round-off floor), on EMT with a field term (A in closed form) and on bad input."""

from __future__ import annotations

import re

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase.calculators.emt import EMT
from calculator_factories import DIRECTION, FIELD, FieldEMT
from closed_forms import field_term_a

from symlearn.calculators.analyse import analyse_calculator
from symlearn.cli import main
from symlearn.data.extxyz import read_frames
from symlearn.metatomic.diagnose import symmetrized_rmse

SETTINGS = {"n_structures": 3, "seed": 0, "lambda_max": 2, "grid_degree": None,
            "dtype": "float64", "quadrature": "auto",
            "quadrature_check": {"n_inputs": 1, "delta": 4, "tolerance": 0.05}}


def _analyse(calculator, structures, out):
    return analyse_calculator(calculator, str(structures), str(out), SETTINGS,
                              progress=False, log=lambda *a, **k: None)


def test_emt_has_a_at_the_round_off_floor(tiny_pet_data, tmp_path):
    """EMT's energy is invariant and its forces and stress rotate with the structure:
    A relative to each output's RMS is float64 round-off; the labels were made by EMT,
    so the error of the structures as given is round-off of the file's digits too."""
    result = _analyse(EMT(), tiny_pet_data["test"], tmp_path)
    errors = result["errors"]
    assert {"energy", "forces"} <= set(errors["target"])
    # relative to the output's RMS (the stress's antisymmetric part is itself zero)
    scale = errors.groupby("target")["output_rms"].transform("max")
    relative = errors["equivariance_rmse"] / scale
    assert (relative < 1e-12).all(), errors[["target", "o3_lambda", "equivariance_rmse"]]
    print("EMT: largest A / output RMS", float(relative.max()))
    assert result["spectrum"].empty  # no features: B is not measured
    assert (tmp_path / "errors.csv").exists() and (tmp_path / "structures.parquet").exists()


def test_a_field_term_gives_the_a_predicted_on_paper(tiny_pet_data, tmp_path):
    """EMT + c u.sum_i x_i: the closed form of tests/unit/closed_forms.py."""
    result = _analyse(FieldEMT(), tiny_pet_data["test"], tmp_path)
    errors = result["errors"].set_index("target")
    analysed = sorted(set(pd.read_parquet(tmp_path / "structures.parquet")["structure"]))
    energy, forces = field_term_a(read_frames(tiny_pet_data["test"]), analysed, FIELD)
    assert np.linalg.norm(DIRECTION) == 1.0
    assert errors.loc["energy", "equivariance_rmse"] == pytest.approx(energy, rel=1e-10)
    assert errors.loc["forces", "equivariance_rmse"] == pytest.approx(forces, rel=1e-10)
    # the field term averages to zero over O(3): the symmetrized prediction is EMT's,
    # whose error against the (EMT-made) labels is EMT's error as given
    rows = pd.read_parquet(tmp_path / "structures.parquet")
    symmetrized = symmetrized_rmse(rows, int(errors["grid_degree"].iloc[0]))
    emt = _analyse(EMT(), tiny_pet_data["test"], tmp_path / "emt")["errors"].set_index(
        "target")
    for target, lam in (("energy", 0), ("forces", 1)):
        assert symmetrized[(target, lam, 1)] == pytest.approx(
            emt.loc[target, "rmse_as_given"], rel=1e-6)


def test_the_start_says_how_many_calls_and_how_long(tiny_pet_data, tmp_path):
    """The header gives the calls the grid and the check will make (each copy one
    call) and a time estimated from timed calls; the count is the one made, plus the
    four calls the estimate times (one warm-up, three timed)."""
    lines = []
    result = analyse_calculator(EMT(), str(tiny_pet_data["test"]), str(tmp_path), SETTINGS,
                                progress=False, log=lambda text, **k: lines.append(text))
    match = re.search(r"([\d,]+) calculator calls, one per rotated copy; estimated time "
                      r"about \d+ (s|min|h) \(the calls alone", lines[0])
    assert match, lines[0]
    planned = int(match.group(1).replace(",", ""))
    assert result["calls"] == planned + 4
    assert result["calls_per_second"] > 0


def test_diagnose_takes_a_calculator_and_says_b_is_not_measured(tiny_pet_data, tmp_path,
                                                                 capsys):
    out = tmp_path / "out"
    assert main(["diagnose", "--calculator", "calculator_factories:emt",
                 str(tiny_pet_data["test"]), "--lambda-max", "2", "--n-structures", "2",
                 "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "forces (1,+1)" in printed
    assert "B (the character spectrum of internal features) is not measured" in printed
    assert (out / "errors.csv").exists()


@pytest.mark.parametrize(("factory", "message"), [
    ("calculator_factories:nowhere", "cannot be imported"),
    ("no_such_module:emt", "cannot be imported"),
    ("calculator_factories", "package.module:factory"),
    ("calculator_factories:not_a_calculator", "is not an ASE calculator"),
    ("calculator_factories:failing", "the calculator failed on a rotated copy: "
                                     "RuntimeError: no parameters"),
    ("calculator_factories:nan", "returned a non-finite forces"),
])
def test_bad_calculators_are_named_and_leave_no_tables(factory, message, tiny_pet_data,
                                                       tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["diagnose", "--calculator", factory, str(tiny_pet_data["test"]),
                 "--lambda-max", "2", "--n-structures", "2", "--out", str(out),
                 "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2
    assert message in error
    assert "Traceback" not in error
    if "failed on" in message or "non-finite" in message:
        assert "frame" in error and "calculator_factories" in error
    assert not (out / "errors.csv").exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--outputs", "stress"], "stress asked for, but the structure has no periodic cell"),
    (["--outputs", "charges"], "outputs charges not known; a calculator gives energy, "
                               "forces, stress"),
    (["--layers", "feature"], "layers does not apply to an ASE calculator"),
    (["--forces", "non_conservative"], "forces does not apply to an ASE calculator"),
])
def test_what_a_calculator_cannot_give_is_refused_naming_it(options, message, tmp_path,
                                                            capsys):
    """Stress asked of a structure without a cell names the calculator, the file and the
    frame; a model file's settings are refused, not ignored; exit 2, no tables."""
    from ase import Atoms

    molecule = tmp_path / "molecule.xyz"
    atoms = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0.3]])
    atoms.calc = EMT()
    atoms.get_forces()
    ase.io.write(molecule, [atoms], format="extxyz")
    out = tmp_path / "out"
    code = main(["diagnose", "--calculator", "calculator_factories:emt", str(molecule),
                 "--lambda-max", "1", "--out", str(out), "--no-progress", *options])
    error = capsys.readouterr().err
    assert code == 2 and message in error, error
    assert "Traceback" not in error and not (out / "errors.csv").exists()
    if "stress" in options:
        assert f"{molecule} frame 0" in error and "calculator_factories:emt" in error


def test_a_calculator_analyses_only_the_outputs_asked_for(tiny_pet_data, tmp_path):
    result = analyse_calculator(EMT(), str(tiny_pet_data["test"]), str(tmp_path),
                                {**SETTINGS, "outputs": ["forces"]}, progress=False,
                                log=lambda *a, **k: None)
    assert set(result["errors"]["target"]) == {"forces"}


def test_a_model_file_and_a_calculator_together_are_refused(tiny_pet_data, capsys):
    assert main(["diagnose", "model.pt", str(tiny_pet_data["test"]), "--calculator",
                 "calculator_factories:emt"]) == 2
    assert "not both" in capsys.readouterr().err


def test_the_python_door_returns_the_tables_the_command_line_writes(tiny_pet_data,
                                                                   tmp_path):
    """symlearn.diagnose on ase.Atoms (labels from their attached calculator) gives the
    numbers of the file-based analysis of the same structures, as tables."""
    import symlearn

    frames = read_frames(tiny_pet_data["test"])
    picked = list(frames[:2])
    diagnosis = symlearn.diagnose(EMT(), picked, n_structures=2, lambda_max=2)
    assert isinstance(diagnosis, symlearn.Diagnosis)
    assert diagnosis.spectrum.empty and not diagnosis.features
    assert "is not measured" in diagnosis.summary()
    ase_path = tmp_path / "two.xyz"
    import ase.io

    ase.io.write(ase_path, picked, format="extxyz")
    direct = _analyse(EMT(), ase_path, tmp_path / "direct")["errors"]
    pd.testing.assert_frame_equal(diagnosis.errors.reset_index(drop=True),
                                  direct.reset_index(drop=True))
    written = diagnosis.to_csv(tmp_path / "copy")
    assert [p.name for p in written] == ["errors.csv", "spectrum.csv", "structures.parquet"]
    with pytest.raises(Exception, match="unknown setting"):
        symlearn.diagnose(EMT(), picked, lambda_maxx=2)
    with pytest.raises(Exception, match="neither a metatomic"):
        symlearn.diagnose(object(), picked)


def test_assert_equivariant_passes_on_emt_and_names_what_fails_on_a_field_term(
        tiny_pet_data):
    """On the exact rule, EMT passes at 1e-10 relative; the field term fails, with a
    message naming the output, the structure, A, the tolerance and the grid."""
    from symlearn.testing import assert_equivariant

    errors = assert_equivariant(EMT(), tiny_pet_data["test"], rtol=1e-10,
                                n_structures=2, lambda_max=2)
    assert {"energy", "forces"} <= set(errors["target"])
    with pytest.raises(AssertionError) as failure:
        assert_equivariant(FieldEMT(), tiny_pet_data["test"], rtol=1e-6,
                           n_structures=2, lambda_max=2)
    message = str(failure.value)
    assert "FieldEMT:" in message and "of structure" in message
    assert "is not equivariant: A = " in message and "> tolerance" in message
    assert "of degree 4" in message  # the grid it was measured on


def test_a_calculator_has_table1_rows_and_a_figure_of_panel_a_alone(tiny_pet_data,
                                                                     tmp_path):
    """The pipeline's rows and figure for a calculator: table1 names it an ASE
    calculator and reads its forces and stress; its figure is (a) alone, every part it
    has drawn, and says why (b) is not (nothing drawn without data)."""
    from symlearn.figures import build
    from symlearn.figures.table1 import external_rows

    result = _analyse(FieldEMT(), tiny_pet_data["test"], tmp_path / "tables")
    errors = result["errors"].assign(run="field", augmentation="external", epoch=0)
    rows = pd.DataFrame(external_rows(errors, "cfg", "ASE calculator")).set_index("key")
    assert set(rows.index) == {"external_energy", "external_forces", "external_stress"}
    assert rows["quantity"].str.startswith("ASE calculator, ").all()
    assert (rows["status"] == "computed").all() and (rows["this_run"] > 0).all()
    collected = tmp_path / "errors.csv"
    errors.to_csv(collected, index=False)
    spectrum = tmp_path / "spectrum.csv"
    result["spectrum"].assign(run=[], augmentation=[], epoch=[]).to_csv(spectrum,
                                                                        index=False)
    build("external", {"errors": str(collected), "spectrum": str(spectrum)},
          tmp_path / "figure", {"model": "field"})
    table = pd.read_csv(tmp_path / "figure.csv")
    assert set(table["panel"]) == {"a"}
    assert set(table["target"]) == set(errors["target"])
    assert (tmp_path / "figure.png").stat().st_size > 0


@pytest.mark.parametrize("entry, message", [
    ({"emt": {"calculator": "no_such_package.module:make"}},
     "external.calculators.emt.calculator: no_such_package.module:make: cannot be imported"),
    ({"emt": {"calculator": "ase.calculators.emt"}},
     "external.calculators.emt.calculator"),  # the schema: no factory named
    ({"emt": {"calculator": "ase.calculators.emt:EMT", "structures": "nowhere.xyz"}},
     "external.calculators.emt.structures: nowhere.xyz: no such extxyz file"),
    ({"emt": {"calculator": "ase.calculators.emt:EMT", "batch_atoms": 4}},
     "batch_atoms"),  # not a calculator's setting
    ({"pair": {"calculator": "ase.calculators.emt:EMT"}},
     "'pair' names both a model and a calculator"),
])
def test_a_bad_calculator_entry_is_named_at_the_start(default_config, tmp_path, entry,
                                                      message):
    from symlearn.errors import ConfigError
    from symlearn.settings.base import deep_merge
    from symlearn.settings.checks import check_config

    model = tmp_path / "pair.pt"
    model.write_bytes(b"")
    config = deep_merge(default_config, {"external": {
        "calculators": entry, "models": {"pair": {"path": str(model)}}}})
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(config)


def test_a_calculator_entry_takes_the_shared_analysis_settings(default_config):
    from symlearn.settings.base import deep_merge
    from symlearn.settings.external import external_calculator_settings

    config = deep_merge(default_config, {"external": {"calculators": {"emt": {
        "calculator": "ase.calculators.emt:EMT", "lambda_max": 3}}}})
    settings = external_calculator_settings(config, "emt")
    shared = default_config["analysis"]["metatomic"]
    assert settings["lambda_max"] == 3 and settings["n_structures"] == shared["n_structures"]
    assert settings["structures"] == "test" and "batch_atoms" not in settings
    assert settings["quadrature_check"] == default_config["analysis"]["quadrature_check"]
