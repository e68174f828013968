"""What produced a run: the configuration as the workflow resolved it, and the
versions of the software, written for the report and table1."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from ..io import write_text_atomic

#: the distributions whose versions decide the numbers and the figures
PACKAGES = ("symlearn", "torch", "metatrain", "metatensor-torch", "metatomic-torch", "ase",
            "e3nn", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "h5py",
            "snakemake", "snakemake-executor-plugin-slurm")


def software_versions() -> pd.DataFrame:
    """Python, the platform and each package's installed version."""
    rows = [("python", platform.python_version()), ("platform", platform.platform())]
    for name in PACKAGES:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["software", "version"])


def write(config: Mapping[str, Any], config_out: str, software_out: str) -> None:
    write_text_atomic(config_out, "# the configuration this run resolved (all config "
                      "files and --config merged)\n"
                      + yaml.safe_dump(dict(config), sort_keys=False))
    software = software_versions()
    software.loc[len(software)] = ("executable", sys.executable)
    write_text_atomic(software_out, software.to_csv(index=False))
