"""A generated atomistic data set written as the pipeline writes it: each split's
extxyz and its PET training view (shared by the test fixtures and the benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def generated_views(folder: Path, subsets: Mapping[str, int], seed: int, max_atoms: int,
                    fractions: Mapping[str, float]) -> tuple[dict[str, Path], dict]:
    """``({split: training view path}, {split: frames})`` of a generated, split set."""
    from symlearn.data.atomistic import generate, split
    from symlearn.data.extxyz import write_frames, write_training_view

    parts = split(generate(subsets, seed=seed, max_atoms=max_atoms), fractions, seed=seed)
    views = {}
    for name, part in parts.items():
        write_frames(part, Path(folder) / f"{name}.xyz")
        views[name] = Path(folder) / "pet" / f"{name}.xyz"
        write_training_view(Path(folder) / f"{name}.xyz", views[name])
    return views, parts
