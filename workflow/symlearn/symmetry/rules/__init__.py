"""Quadrature rules on SO(3), one module per family, behind one seam.

Each family module gives ``NAME``, ``TITLE``, ``largest_degree()``,
``smallest(degree, positive)`` (torch-free: the exactness, proper rotations, a label and
whether the weights are all positive, of its smallest rule exact to ``degree``, with
``positive=True`` its smallest with positive weights) and ``build(degree, positive)``
(that rule's proper rotations and weights, summing to 1, one of them the identity). The
O(3) grid pairs every rotation with its inversion (``symmetry.quadrature``). Nothing
outside this package names a family; a new rule is a new module here, listed in
FAMILIES, plus its entry in tests/unit/test_quadrature_rules.py.
"""

from __future__ import annotations

from types import ModuleType

from ...errors import SymlearnError
from . import graef_s2, graef_so3, lebedev

#: the families, in the order ``auto`` prefers on a tie (product Lebedev first: it is
#: the grid of metatomic's SymmetrizedModel)
FAMILIES: dict[str, ModuleType] = {m.NAME: m for m in (lebedev, graef_so3, graef_s2)}
AUTO = "auto"
#: the values of ``analysis.quadrature``
CHOICES = (AUTO, *FAMILIES)


class NoRule(SymlearnError, ValueError):
    """No rule of the chosen family reaches the degree asked for."""


def check_choice(choice: str) -> None:
    if choice not in CHOICES:
        raise NoRule(f"unknown quadrature rule {choice!r}; known: {', '.join(CHOICES)}")


def largest_degree(choice: str = AUTO) -> int:
    """The largest degree a rule of ``choice`` reaches."""
    check_choice(choice)
    families = FAMILIES.values() if choice == AUTO else [FAMILIES[choice]]
    return max(family.largest_degree() for family in families)


def choose(degree: int, choice: str = AUTO) -> tuple[str, int, int, str]:
    """``(family, exactness, proper rotations, label)`` of the rule ``choice`` takes
    for ``degree``: the family's smallest rule exact to it, or, for ``auto``, the
    smallest of every family's whose weights are all positive (a negative weight lets
    round-off grow). Torch-free."""
    check_choice(choice)
    names = list(FAMILIES) if choice == AUTO else [choice]
    found = [(name, *rule[:3]) for name in names
             if (rule := FAMILIES[name].smallest(degree, choice == AUTO)) is not None]
    if not found:
        raise NoRule(f"no {choice} quadrature rule reaches degree {degree} (the largest "
                     f"is {largest_degree(choice)})"
                     + ("" if choice == AUTO else "; analysis.quadrature: auto chooses "
                        "among every family"))
    return min(found, key=lambda rule: rule[2])


def build(degree: int, choice: str = AUTO):
    """``(family, proper rotations, weights)`` of the rule :func:`choose` takes."""
    family = choose(degree, choice)[0]
    return family, *FAMILIES[family].build(degree, choice == AUTO)
