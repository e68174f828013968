"""The resume-and-publish protocol of every training, written once.

A training works in ``<run dir>/resume/``: its checkpoints (with the optimiser and the
random state), its logs, and a fingerprint of what the run depends on (settings and
data). A killed training, started again with the same fingerprint, continues from its
last checkpoint there; with another fingerprint it starts afresh. Only when the whole
schedule is done are the results published into the run folder, each atomically, and
the working folder removed: nothing in the run folder ever looks finished before it is.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .io import atomic_path, write_text_atomic

LOGGER = logging.getLogger("symlearn")

RESUME_DIR = "resume"


class ResumeFolder:
    """The working folder of one training. ``checkpoint_pattern`` names its saved
    checkpoints, with the step or epoch (``unit``) as its one group
    (``epoch_(\\d+)\\.ckpt``)."""

    def __init__(self, run_dir: str | Path, fingerprint: Mapping[str, Any],
                 checkpoint_pattern: str, unit: str = "step"):
        self.run_dir = Path(run_dir).absolute()
        self.path = self.run_dir / RESUME_DIR
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True))
        self.pattern = re.compile(checkpoint_pattern)
        self.unit = unit  # what a checkpoint counts: "epoch" or "step"

    def saved(self) -> list[int]:
        """The steps (or epochs) of the checkpoints saved so far, in order."""
        if not self.path.exists():
            return []
        return sorted(int(m.group(1)) for p in self.path.iterdir()
                      if (m := self.pattern.fullmatch(p.name)))

    def open(self) -> int | None:
        """Make the folder ready and return the last saved step to resume from (None:
        start from scratch). A folder left by a run with another fingerprint is
        removed, with a warning."""
        restart = None
        stamp = self.path / "fingerprint.json"
        if self.path.exists():
            same = (stamp.exists()
                    and json.loads(stamp.read_text()) == self.fingerprint)
            if same and self.saved():
                restart = self.saved()[-1]
                LOGGER.warning("resuming %s from its checkpoint after %d %s(s)",
                               self.run_dir, restart, self.unit)
            elif not same:
                LOGGER.warning("%s holds an interrupted run with other settings or data; "
                               "starting from scratch", self.path)
                shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(stamp, json.dumps(self.fingerprint, indent=1))
        return restart

    def attempt(self) -> int:
        """The number of this attempt (1 for the first), from the logs already there."""
        return 1 + len(list(self.path.glob("attempt_*.log")))

    def missing(self, schedule: Iterable[int]) -> list[int]:
        """The scheduled checkpoints that were not saved."""
        saved = set(self.saved())
        return [k for k in schedule if k not in saved]

    def publish(self, outputs: Mapping[str | Path, Callable[[Path], None]]) -> None:
        """Write each output (a path relative to the run folder) with its writer, which
        receives a temporary path that is renamed into place when it returns; then
        remove the working folder. Call it once, after the whole schedule."""
        for name, write in outputs.items():
            with atomic_path(self.run_dir / name) as tmp:
                write(tmp)
        shutil.rmtree(self.path)

    def copy(self, name: str) -> Callable[[Path], None]:
        """A writer that copies a file of the working folder."""
        source = self.path / name
        return lambda tmp: shutil.copyfile(source, tmp)
