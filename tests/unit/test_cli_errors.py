"""Internal commands on bad input: one line naming what is wrong, exit code 2, no
traceback and nothing written (issue 23's probes of the commands the rules call)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


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
