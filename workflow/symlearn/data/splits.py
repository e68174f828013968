"""How the structures of one subset are split into train, validation and test: shared
by the embedded generator and the configuration's checks, without ase."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError


def split_counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """How many of ``n`` structures of one subset go to each part: rounded cumulative
    fractions, so the counts always add up to ``n``."""
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must sum to 1, got {dict(fractions)}")
    counts, start, cumulative = {}, 0, 0.0
    for i, (name, fraction) in enumerate(fractions.items()):
        cumulative += fraction
        stop = n if i == len(fractions) - 1 else round(cumulative * n)
        counts[name] = stop - start
        start = stop
    return counts
