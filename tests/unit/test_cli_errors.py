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
