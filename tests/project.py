"""What several test folders read from the repository: a configuration as
`--configfile` layers it, and the README's sections and SLURM commands."""

from __future__ import annotations

from pathlib import Path

import yaml

from symlearn.settings.base import deep_merge

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def configuration(name: str = "config.yaml") -> dict:
    """config/config.yaml with config/``name`` over it (as `--configfile` gives it)."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return deep_merge(config, yaml.safe_load((ROOT / "config" / name).read_text()))


def readme_section(title: str) -> str:
    """The README's ``## title`` section, up to the next one."""
    return README.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def readme_slurm_commands() -> list[str]:
    """The command lines of the first code block of "On a SLURM cluster", without
    their comments."""
    block = readme_section("On a SLURM cluster").split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]
