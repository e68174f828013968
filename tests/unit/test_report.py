"""The report's front page (workflow/report/workflow.rst), rendered as Snakemake renders
it (Jinja with trim_blocks and lstrip_blocks): each item of "This run" on its own line,
the runs listed without the ones a configuration switches off."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
import pytest


def _render(root, config) -> str:
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string((root / "workflow" / "report" / "workflow.rst").read_text())
    return template.render(snakemake=SimpleNamespace(config=config))


@pytest.mark.parametrize("last_run_off", [False, True])
def test_this_run_lists_each_item_on_its_own_line(root, default_config, last_run_off):
    config = default_config
    runs = config["pet"]["runs"]
    on = [run for run, spec in runs.items() if spec]
    if last_run_off:  # a null run last: it was where the list ran into the next item
        runs[on[-1]] = None
        on = on[:-1]
    text = _render(root, config)
    lines = text.splitlines()
    for item in ("- PET runs:", "- training:", "- analysis:", "- PoLAr-MAE runs:",
                 "- PoLAr-MAE training:", "- PoLAr-MAE analysis:"):
        assert sum(line.startswith(item) for line in lines) == 1, (item, text)
    [pet_runs] = [line for line in lines if line.startswith("- PET runs:")]
    assert pet_runs.count("(augmentation") == len(on)
    assert not pet_runs.rstrip().endswith(",") and ")-" not in text
