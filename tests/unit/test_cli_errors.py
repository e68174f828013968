"""Internal commands on bad input: one line naming what is wrong, exit code 2, no
traceback and nothing written (issue 23's probes of the commands the rules call)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

#: analysis.pet settings, complete, as the workflow passes them
SETTINGS = {"n_structures": 2, "geometric_n_structures": None, "geometric_every": None,
            "scope": "figures", "seed": 0, "lambda_max": 2, "grid_degree": None,
            "geometric_grid_degree": None, "batch_atoms": 256, "dtype": "float64",
            "memory_gb": 1, "layers": None,
            "quadrature_check": {"n_inputs": 1, "delta": 2, "tolerance": 0.05}}


def _run(tmp_path, *args):
    done = subprocess.run([sys.executable, "-m", "symlearn", *args], capture_output=True,
                          text=True, cwd=tmp_path)
    return done.returncode, done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["quadrature-table", "--degree", "-1", "--out", "q.csv"],
     "argument --degree: -1 is negative; a degree is >= 0"),
    (["fetch", "x.bin", "--url", "http://127.0.0.1:9/x", "--sha256", "abc"],
     "error: sha256: 'abc' is not a SHA-256 (64 hexadecimal digits)"),
    (["collect", "--checkpoints", json.dumps([{"run": "a", "errors": "nope.csv"}]),
      "--out", "errors=e.csv"], "error: nope.csv: no such table"),
    (["collect", "--checkpoints", json.dumps([{"run": "a", "errors": "empty.csv"}]),
      "--out", "errors=e.csv"], "error: empty.csv: the table is empty (no header)"),
    (["collect", "--checkpoints", "[]", "--out", "bogus=e.csv"],
     "error: --out: unknown table(s) bogus; known: errors, spectrum"),
    (["make-atomistic", "--n-structures", '{"bulk": 1}', "--split",
      '{"train": 0.8, "val": 0.1, "test": 0.1}', "--seed", "0", "--max-atoms", "8",
      "--out-dir", "out"], "error: --split: the val, test split(s) would receive no "
                           "structure"),
    # counts, threads and batch sizes are checked where they are parsed, and settings
    # against their config section, naming the keys (issue 33)
    (["analyse-pet", "--checkpoint", "c.ckpt", "--out-dir", "o", "--structures", "s.xyz",
      "--settings", json.dumps({**SETTINGS, "n_structures": 0, "seed": None})],
     "--settings: n_structures: 0 is less than the minimum of 1"),
    (["analyse-polarmae", "--checkpoint", "c.ckpt", "--out-dir", "o", "--events", "e.h5",
      "--settings", '{"n_events": 0}'],
     "--settings lacks seed, lambda_max, grid_degree, batch_points, dtype"),
    (["analyse-polarmae", "--checkpoint", "c.ckpt", "--out-dir", "o", "--events", "e.h5",
      "--settings", '{"n_events": 0}'],
     "--settings: n_events: 0 is less than the minimum of 1"),
    (["purify-pet", "--checkpoint", "c.ckpt", "--structures", "s.xyz", "--settings", "{}",
      "--n-rotations", "-2", "--seed", "0", "--out", "p.csv"],
     "argument --n-rotations: -2: random rotations (a variance) must be >= 2"),
    (["diagnose", "m.pt", "s.xyz", "--n-structures", "-1"],
     "argument --n-structures: -1: a count must be >= 1"),
    (["diagnose", "m.pt", "s.xyz", "--batch-atoms", "0"],
     "argument --batch-atoms: 0: a batch size must be >= 1"),
    (["diagnose", "m.pt", "s.xyz", "--threads", "0"],
     "argument --threads: 0: threads must be >= 1"),
    (["analyse-pet", "--checkpoint", "c.ckpt", "--out-dir", "o", "--structures", "s.xyz",
      "--settings", "@missing.json"],
     "argument --settings: missing.json: cannot be read"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    (tmp_path / "empty.csv").write_text("")
    before = set(tmp_path.iterdir())
    code, stderr = _run(tmp_path, *args)
    assert code == 2, stderr
    assert message in stderr, stderr
    assert "Traceback" not in stderr
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "missing.xyz: no such file"),
    ("truncated", "truncated.xyz: frame 2 (0-based) cannot be read as extxyz"),
    ("no_forces", "no_forces.xyz: frame 0 has no 'forces' (per-atom forces)"),
    ("nan_position", "nan_position.xyz: frame 1: atom 0 has a non-finite position"),
    ("tpu", "device 'tpu' is not one of auto, cpu, cuda or cuda:N"),
])
def test_train_pet_refuses_bad_data_before_metatrain(tmp_path, tiny_pet_data,
                                                      make_tiny_settings, case, message):
    """train-pet checks every split (and the device) itself, before metatrain's reader
    sees it: one line naming the file, the frame and the field; no run folder."""
    import ase
    import ase.io

    train = tiny_pet_data["train"]
    text = train.read_text()
    frames = ase.io.read(train, ":3")
    if case == "truncated":
        lines = text.splitlines(keepends=True)
        n0 = int(lines[0]) + 2
        n1 = int(lines[n0]) + 2
        (tmp_path / "truncated.xyz").write_text("".join(lines[:n0 + n1 + 3]))
    elif case == "no_forces":
        ase.io.write(tmp_path / "no_forces.xyz",
                     [ase.Atoms(a.numbers, a.positions, cell=a.cell, pbc=a.pbc,
                                info={"energy": 1.0}) for a in frames], format="extxyz")
    elif case == "nan_position":
        frames[1].positions[0, 0] = float("nan")
        ase.io.write(tmp_path / "nan_position.xyz", frames, format="extxyz")
    first = train if case == "tpu" else tmp_path / f"{case}.xyz"
    args = ["train-pet", "--settings", json.dumps(make_tiny_settings()),
            "--train", str(first), "--val", str(tiny_pet_data["val"]),
            "--test", str(tiny_pet_data["test"]), "--out-dir", "run"]
    if case == "tpu":
        args += ["--device", "tpu"]
    code, stderr = _run(tmp_path, *args)
    assert code == 2, stderr
    assert message in stderr, stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "run").exists()


def test_a_bug_keeps_its_traceback_and_bad_input_does_not(monkeypatch, capsys):
    """Only bad input (a SymlearnError) becomes one line and exit code 2; any other
    exception is a bug and propagates with its traceback, never dressed as bad input."""
    import symlearn.figures
    from symlearn import cli
    from symlearn.errors import DataError

    def bug(*args, **kwargs):
        raise ZeroDivisionError("an internal error")

    monkeypatch.setattr(symlearn.figures, "build", bug)
    with pytest.raises(ZeroDivisionError, match="an internal error"):
        cli.main(["figure", "fig2", "--out", "x"])

    def bad(*args, **kwargs):
        raise DataError("x.csv: frame 3 is bad")

    monkeypatch.setattr(symlearn.figures, "build", bad)
    assert cli.main(["figure", "fig2", "--out", "x"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "symlearn figure: error: x.csv: frame 3 is bad")

    def read_only(*args, **kwargs):  # what a read-only folder answers, even to root
        raise OSError(30, "Read-only file system", "figures/fig2.pdf")

    monkeypatch.setattr(symlearn.figures, "build", read_only)
    assert cli.main(["figure", "fig2", "--out", "x"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "symlearn figure: error: figures/fig2.pdf: Read-only file system")


def test_an_output_path_that_is_a_folder_is_refused_before_the_work(tmp_path):
    (tmp_path / "in.xyz").write_text("")
    (tmp_path / "view").mkdir()
    code, stderr = _run(tmp_path, "prepare-pet-data", "in.xyz", "view")
    assert code == 2 and "view: is a folder; give the path of the file to write" in stderr


def test_an_analysis_checks_every_checkpoint_before_the_first(tmp_path):
    """A truncated second checkpoint is named before the first is analysed: the job
    fails at once, having written nothing."""
    import torch

    torch.save({"weights": torch.zeros(1000)}, tmp_path / "epoch_0.ckpt")
    whole = (tmp_path / "epoch_0.ckpt").read_bytes()
    (tmp_path / "epoch_2.ckpt").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "s.xyz").write_text("")
    before = set(tmp_path.iterdir())
    code, stderr = _run(tmp_path, "analyse-pet", "--checkpoint", "epoch_0.ckpt",
                        "--out-dir", "a0", "--checkpoint", "epoch_2.ckpt", "--out-dir", "a2",
                        "--structures", "s.xyz", "--settings", json.dumps(SETTINGS))
    assert code == 2, stderr
    assert "epoch_2.ckpt: not a readable checkpoint" in stderr, stderr
    assert "Traceback" not in stderr
    assert set(tmp_path.iterdir()) == before


def test_check_config_reads_a_file_as_the_workflow_does(tmp_path):
    """check-config lays the file on config/config.yaml (a partial file is valid), reads
    YAML 1.1's 1e-3 and a whole 20.0 as the workflow does, and refuses a repeated key
    naming both lines; --alone checks the file by itself."""
    (tmp_path / "partial.yaml").write_text(
        "pet:\n  training:\n    epochs: 20.0\n    learning_rate: 1e-3\n")
    code, stderr = _run(tmp_path, "check-config", "partial.yaml")
    assert code == 0, stderr
    code, stderr = _run(tmp_path, "check-config", "--alone", "partial.yaml")
    assert code == 2 and "required property" in stderr
    (tmp_path / "twice.yaml").write_text("pet:\n  model: {}\nanalysis: {}\npet:\n  runs: {}\n")
    code, stderr = _run(tmp_path, "check-config", "twice.yaml")
    assert code == 2
    assert "twice.yaml: key 'pet' is given twice in one mapping (lines 1 and 4)" in stderr


def test_results_folder_mistakes_are_refused(tmp_path):
    from symlearn.settings.checks import results_folder_errors

    repository = tmp_path / "repo"
    (repository / "docs").mkdir(parents=True)
    assert results_folder_errors({"results": "results"}, repository, repository) == []
    assert results_folder_errors({"results": "results"}, tmp_path / "elsewhere",
                                 repository) == []
    [error] = results_folder_errors({"results": "null"}, repository, repository)
    assert "results: 'null' is not a folder name" in error
    [error] = results_folder_errors({"results": "results"}, repository / "docs", repository)
    assert "inside the repository but not its root" in error


@pytest.mark.parametrize("layout", ["per_run", "per_checkpoint"])
def test_every_planned_command_passes_its_own_settings_check(tmp_path, layout):
    """The settings check (--settings against its config section) refuses nothing the
    workflow sends: each analysis command of the default's plan, parsed as the command
    parses it, with its --runtime laid over."""
    import shlex

    from dryrun import ROOT

    from symlearn.cli import NOT_TAKEN, SETTINGS_SECTIONS, build_parser
    from symlearn.settings.base import settings_errors

    # an exported model (a file the plan only names) and a calculator: their commands too
    (tmp_path / "model.pt").write_bytes(b"")
    (tmp_path / "external.yaml").write_text(yaml.safe_dump({
        "analysis": {"jobs": layout},
        "external": {"models": {"m": {"path": str(tmp_path / "model.pt")}},
                     "calculators": {"emt": {"calculator": "ase.calculators.emt:EMT"}}}}))
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "external.yaml")],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    checked = set()
    for line in done.stdout.splitlines():
        if not line.startswith("Shell command: python -m symlearn "):
            continue
        words = shlex.split(line.removeprefix("Shell command: ").split(" > ")[0])[3:]
        if words[0] in SETTINGS_SECTIONS:
            args = build_parser().parse_args(words)
            settings = {**args.settings, **(args.runtime or {})}
            assert settings_errors(settings, SETTINGS_SECTIONS[words[0]],
                                   not_taken=NOT_TAKEN.get(words[0], ())) == [], line
            checked.add(words[0])
    assert checked == set(SETTINGS_SECTIONS)


def test_a_nan_where_a_number_is_read_fails_the_collection_naming_the_checkpoint(tmp_path):
    """A NaN A on a row measured on a grid is an error at the collect step, naming the
    table, the checkpoint and the part; an as-given row (no grid) may lack A."""
    from symlearn.table_schemas import ERRORS_COLUMNS

    row = dict.fromkeys(ERRORS_COLUMNS, 1.0)
    row.update(target="density_l2", o3_lambda=2, o3_sigma=1, grid_degree=8,
               equivariance_rmse=float("nan"))
    as_given = dict(row, target="energy", o3_lambda=0, grid_degree=float("nan"))
    import pandas as pd

    pd.DataFrame([as_given]).to_csv(tmp_path / "fine.csv", index=False)
    pd.DataFrame([as_given, row]).to_csv(tmp_path / "bad.csv", index=False)
    entry = {"run": "geo-sh8", "augmentation": "o3", "epoch": 30}
    ok, stderr = _run(tmp_path, "collect", "--checkpoints",
                      json.dumps([dict(entry, errors="fine.csv")]), "--out", "errors=e.csv")
    assert ok == 0, stderr
    code, stderr = _run(tmp_path, "collect", "--checkpoints",
                        json.dumps([dict(entry, errors="bad.csv")]), "--out", "errors=f.csv")
    assert code == 2
    assert ("bad.csv (run geo-sh8, epoch 30): equivariance_rmse is not a number for "
            "density_l2 (2,+1)") in stderr
    assert not (tmp_path / "f.csv").exists()


def test_the_workflow_reads_a_configuration_as_check_config_does(tmp_path):
    """A whole 20.0 where a count is expected and YAML 1.1's 1e-3 plan as they check;
    `results=null` and a working folder inside the repository (docs/) are refused at
    the start, naming the problem."""
    from dryrun import ROOT

    def plan(*args, cwd=tmp_path):
        return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--snakefile",
                               str(ROOT / "Snakefile"), *args], capture_output=True,
                              text=True, cwd=cwd)

    (tmp_path / "mine.yaml").write_text(
        "pet:\n  training:\n    epochs: 20.0\n    learning_rate: 1e-3\n")
    done = plan("--directory", str(tmp_path), "--configfile", str(tmp_path / "mine.yaml"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "epoch_20.ckpt" in done.stdout
    done = plan("--directory", str(tmp_path), "--config", "results=null")
    assert done.returncode != 0
    assert "results: 'null' is not a folder name" in done.stdout + done.stderr
    done = plan(cwd=ROOT / "docs")
    assert done.returncode != 0
    assert "inside the repository but not its root" in done.stdout + done.stderr
    assert not (ROOT / "docs" / "results").exists()
