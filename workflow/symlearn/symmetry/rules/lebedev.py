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


@functools.lru_cache(maxsize=1)
def lebedev_orders() -> tuple[int, ...]:
    """The Lebedev orders SciPy tabulates (3, 5, ..., 131)."""
    from scipy.integrate import lebedev_rule

    orders = []
    for order in range(1, 132):
        try:
            lebedev_rule(order)
        except (NotImplementedError, ValueError):
            continue
        orders.append(order)
    return tuple(orders)


@functools.lru_cache(maxsize=64)
def _nodes(order: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.integrate import lebedev_rule

    nodes, weights = lebedev_rule(order)
    return nodes.T.copy(), weights / (4 * np.pi)


def largest_degree() -> int:
    return lebedev_orders()[-1]


def smallest(degree: int, positive: bool = False) -> tuple[int, int, str, bool] | None:
    """``(exactness, proper rotations, label, positive weights)`` of the smallest rule
    exact to ``degree`` (``positive``: with positive weights), or None. Some Lebedev
    orders (13, 25, ...) have negative weights."""
    for order in (o for o in lebedev_orders() if o >= degree):
        nodes, weights = _nodes(order)
        if positive and not (weights > 0).all():
            continue
        return (degree, len(nodes) * (degree + 1),
                f"{TITLE}: {len(nodes)} Lebedev nodes (order {order}) x {degree + 1} angles",
                bool((weights > 0).all()))
    return None


def build(degree: int, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Proper rotations and weights (summing to 1) of :func:`smallest`'s rule."""
    order = min(o for o in lebedev_orders() if o >= degree
                and (not positive or (_nodes(o)[1] > 0).all()))
    return _product.product(*_nodes(order), degree)
