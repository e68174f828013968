"""A generated atomistic data set written as the pipeline writes it: each split's
extxyz and its PET training view (shared by the test fixtures and the benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def generated_views(folder: Path, subsets: Mapping[str, int], seed: int, max_atoms: int,
                    fractions: Mapping[str, float], metals: Sequence[str] | None = None,
                    adsorbates: Sequence[str] | None = None,
                    ) -> tuple[dict[str, Path], dict]:
    """``({split: training view path}, {split: frames})`` of a generated, split set
    (``metals``, ``adsorbates``: the generator's elements; None: all of EMT's)."""
    from symlearn.data.atomistic import Elements, generate, split
    from symlearn.data.extxyz import write_frames, write_training_view

    every = Elements()
    elements = Elements(every.metals if metals is None else metals,
                        every.adsorbates if adsorbates is None else adsorbates)
    parts = split(generate(subsets, seed=seed, max_atoms=max_atoms, elements=elements),
                  fractions, seed=seed)
    views = {}
    for name, part in parts.items():
        write_frames(part, Path(folder) / f"{name}.xyz")
        views[name] = Path(folder) / "pet" / f"{name}.xyz"
        write_training_view(Path(folder) / f"{name}.xyz", views[name])
    return views, parts
