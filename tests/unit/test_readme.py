"""The README's quick start has exactly two commands, and CI runs the second verbatim."""

from __future__ import annotations

import re


def _quick_start_commands(root):
    text = (root / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_two_commands(root):
    install_and_run, install_and_test = _quick_start_commands(root)
    assert install_and_run.endswith("&& snakemake")
    assert install_and_test.endswith("&& pytest")
    assert "pip install -r envs/requirements.txt -e ." in install_and_run


def test_ci_runs_the_readme_test_command(root):
    _, install_and_test = _quick_start_commands(root)
    ci = (root / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci
