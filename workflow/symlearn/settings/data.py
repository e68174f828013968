"""The ``data`` section: the splits of the embedded atomistic generator, and the data
sets named as sources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..data.splits import split_counts

SPLITS = ("train", "val", "test")


def synthetic_split_sizes(n_structures: Mapping[str, int],
                          fractions: Mapping[str, float]) -> dict[str, int]:
    """Structures per split of the embedded generator: each subset is split on its own
    (:func:`split_counts`), so the sizes are the sums over subsets."""
    sizes = dict.fromkeys(fractions, 0)
    for n in n_structures.values():
        for name, count in split_counts(n, fractions).items():
            sizes[name] += count
    return sizes


def synthetic_test_size(config: Mapping[str, Any]) -> int | None:
    """Structures in the embedded generator's test split (None for a downloaded data
    set, whose size is known only once it is fetched)."""
    atomistic = config["data"]["atomistic"]
    if atomistic["source"] != "synthetic":
        return None
    return synthetic_split_sizes(atomistic["synthetic"]["n_structures"],
                                 atomistic["split"])["test"]


def data_errors(config: Mapping[str, Any]) -> list[str]:
    """Split fractions that do not sum to one or leave a split empty, elements the
    generator cannot place, and data sets named as sources that do not exist."""
    errors = []
    atomistic = config["data"]["atomistic"]
    fractions = atomistic["split"]
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        errors.append(f"data.atomistic.split: fractions sum to {total:g}, must sum to 1")
    else:
        sizes = synthetic_split_sizes(atomistic["synthetic"]["n_structures"], fractions)
        for name, size in sizes.items():
            if size == 0:
                errors.append(
                    f"data.atomistic.split.{name}: the {name} split receives no "
                    "structure; raise data.atomistic.synthetic.n_structures or the "
                    "fraction")
    from ..data.atomistic import element_errors  # with ase: only when checking

    synthetic = atomistic["synthetic"]
    errors += element_errors(synthetic["metals"], synthetic["adsorbates"],
                             synthetic["n_structures"], synthetic["max_atoms"],
                             prefix="data.atomistic.synthetic.")
    return errors + data_source_errors(config)


def data_source_errors(config: Mapping[str, Any]) -> list[str]:
    """The data sets named as sources exist and their event ranges are not empty."""
    errors = []
    for kind in ("atomistic", "lartpc"):
        section = config["data"][kind]
        source, downloads = section["source"], section["downloads"]
        if source != "synthetic" and source not in downloads:
            errors.append(f"data.{kind}.source: {source!r} is neither 'synthetic' nor a "
                          f"data set of data.{kind}.downloads ({', '.join(downloads)})")
    for name, spec in config["data"]["lartpc"]["downloads"].items():
        for split, part in spec["splits"].items():
            events = part.get("events")
            if events is not None and events[0] >= events[1]:
                errors.append(f"data.lartpc.downloads.{name}.splits.{split}.events: "
                              f"{events} is empty (first must be below stop)")
    return errors

