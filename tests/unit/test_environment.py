"""The pinned environment: one set of pins in two files, and this interpreter has them."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import yaml
from packaging.requirements import Requirement


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[requirement.name.lower()] = str(requirement.specifier)
    return pins


def test_conda_env_has_the_same_pins(root):
    requirements = _pins((root / "envs" / "requirements.txt").read_text().splitlines())
    conda = yaml.safe_load((root / "envs" / "pipeline.yaml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == requirements
    assert "python=3.11" in conda["dependencies"]


def test_every_requirement_is_pinned_exactly(root):
    requirements = _pins((root / "envs" / "requirements.txt").read_text().splitlines())
    assert requirements["torch"] == "==2.13.0"
    for name, specifier in requirements.items():
        assert specifier.startswith("=="), f"{name} is not pinned: {specifier!r}"


def test_installed_versions_match_the_pins(root):
    requirements = _pins((root / "envs" / "requirements.txt").read_text().splitlines())
    for name, specifier in requirements.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            raise AssertionError(f"{name} is pinned but not installed") from None
        # a local label (torch's '+cpu') does not change the release
        assert installed.split("+")[0] == specifier[2:], f"{name}: {installed} != {specifier}"
