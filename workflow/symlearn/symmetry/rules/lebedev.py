"""Product Lebedev: SciPy's Lebedev nodes on the sphere times ``D + 1`` in-plane angles
(``scipy.integrate.lebedev_rule``, orders 3 to 131). It is the grid of
``metatomic.torch.o3.SymmetrizedModel``, node for node, so the two give the same
numbers; Lebedev rules hold their nodes and weights to double precision."""

from __future__ import annotations

import functools

import numpy as np

from . import _product

NAME = "lebedev"
TITLE = "product Lebedev"


#: the Lebedev orders SciPy tabulates (``scipy.integrate.lebedev_rule``), written out:
#: finding them by trying each order builds every rule up to 131, 0.4 s at every start
#: of the workflow; tests/unit/test_quadrature_rules.py checks the list against SciPy
ORDERS = (3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 35, 41, 47, 53, 59, 65,
          71, 77, 83, 89, 95, 101, 107, 113, 119, 125, 131)


@functools.lru_cache(maxsize=64)
def _nodes(order: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.integrate import lebedev_rule

    nodes, weights = lebedev_rule(order)
    return nodes.T.copy(), weights / (4 * np.pi)


def largest_degree() -> int:
    return ORDERS[-1]


def smallest(degree: int, positive: bool = False) -> tuple[int, int, str, bool] | None:
    """``(exactness, proper rotations, label, positive weights)`` of the smallest rule
    exact to ``degree`` (``positive``: with positive weights), or None. Some Lebedev
    orders (13, 25, ...) have negative weights."""
    for order in (o for o in ORDERS if o >= degree):
        nodes, weights = _nodes(order)
        if positive and not (weights > 0).all():
            continue
        return (degree, len(nodes) * (degree + 1),
                f"{TITLE}: {len(nodes)} Lebedev nodes (order {order}) x {degree + 1} angles",
                bool((weights > 0).all()))
    return None


def build(degree: int, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Proper rotations and weights (summing to 1) of :func:`smallest`'s rule."""
    order = min(o for o in ORDERS if o >= degree
                and (not positive or (_nodes(o)[1] > 0).all()))
    return _product.product(*_nodes(order), degree)
