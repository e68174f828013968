"""``pip install .`` without the repository: the wheel is built from a copy of the
files a build reads, installed into a new virtual environment (its dependencies taken
from this one's site-packages, the package itself only from the wheel), and
``symlearn diagnose`` runs from a folder outside the repository, with the defaults the
wheel ships (config/config.yaml, copied in at build time)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

#: what a build reads (setup.py copies the configuration and the schema into the wheel)
BUILD_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
               "config/config.yaml", "workflow/schemas/config.schema.yaml")
TILT = 0.3


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(root, tmp_path_factory) -> Path:
    """The ``bin/`` of a new environment holding symlearn from its wheel only."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_FILES:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, source / name)
    shutil.copytree(root / "workflow" / "symlearn", source / "workflow" / "symlearn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheels")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(wheels), str(source)])
    wheel = next(wheels.glob("symlearn-*.whl"))
    environment = tmp_path_factory.mktemp("env") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(environment)])
    site = Path(_run([str(environment / "bin" / "python"), "-c",
                      "import sysconfig; print(sysconfig.get_path('purelib'))"]
                     ).stdout.strip())
    # the dependencies from this environment's site-packages; its editable symlearn is
    # a .pth file there, which a path added this way does not run
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(environment / "bin" / "python"),
          "install", "--no-deps", "--no-index", "-q", str(wheel)])
    return environment / "bin"


def _outside(tmp_path: Path) -> dict:
    """Run from ``tmp_path``, with nothing of the repository on the path."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {"cwd": tmp_path, "env": env}


def test_the_wheel_holds_the_package_not_the_checkout(installed, tmp_path, root):
    done = _run([str(installed / "python"), "-c",
                 "import json, symlearn, symlearn.settings.base as b; print(json.dumps("
                 "[symlearn.__file__, str(b.DEFAULT_CONFIG), str(b.SCHEMA_PATH)]))"],
                **_outside(tmp_path))
    package, config, schema = (Path(p) for p in json.loads(done.stdout))
    for path in (package, config, schema):
        assert root not in path.parents, f"{path} is read from the repository"
        assert path.is_file()
    assert config.read_text() == (root / "config" / "config.yaml").read_text()
    assert schema.read_text() == (root / "workflow/schemas/config.schema.yaml").read_text()


def test_diagnose_runs_outside_the_repository(installed, tmp_path, tiny_pet_data):
    sys.path.insert(0, str(Path(__file__).parent))
    from metatomic_models import export_pair_model

    model = export_pair_model(tmp_path / "tilted.pt", tilt=TILT)
    help_text = _run([str(installed / "symlearn"), "diagnose", "--help"],
                     **_outside(tmp_path)).stdout
    assert "--calculator" in help_text
    _run([str(installed / "symlearn"), "diagnose", model, str(tiny_pet_data["test"]),
          "--n-structures", "2", "--lambda-max", "2", "--out", "tables", "--no-progress"],
         **_outside(tmp_path))
    errors = pd.read_csv(tmp_path / "tables" / "errors.csv").set_index("target")
    assert errors.loc["conservative_force", "equivariance_rmse"] == pytest.approx(
        TILT / np.sqrt(3), rel=1e-10)
    # the settings not given (seed, quadrature rule, quadrature check) came from the
    # shipped defaults: the checkout's diagnosis, given the same arguments, is the same
    _run([sys.executable, "-m", "symlearn", "diagnose", model, str(tiny_pet_data["test"]),
          "--n-structures", "2", "--lambda-max", "2", "--out", "checkout", "--no-progress"],
         cwd=tmp_path)
    checkout = pd.read_csv(tmp_path / "checkout" / "errors.csv").set_index("target")
    pd.testing.assert_frame_equal(errors, checkout)
