"""Gräf's Gauss-type rules on the sphere in the product construction (``_product``):
fewer sphere nodes than Lebedev at the same degree (58 against 74 at degree 12), so
fewer rotations. The shipped files hold about 11 digits; the sphere rule is polished
to round-off when built (``_polish``), and rotated so that one node is the north pole
(a rotated rule integrates the same harmonics), which makes the identity a grid
point."""

from __future__ import annotations

import functools

import numpy as np

from . import _files, _polish, _product

NAME = "graef_s2"
TITLE = "Gräf S2 Gauss product"
FOLDER, PREFIX = "graef", "s2_gauss"


def largest_degree() -> int:
    return _files.largest(FOLDER, PREFIX)


def smallest(degree: int, positive: bool = False) -> tuple[int, int, str, bool] | None:
    """``(exactness, proper rotations, label, positive weights)`` of the smallest rule
    exact to ``degree`` (``positive``: with positive weights), or None."""
    found = _files.smallest_file(FOLDER, PREFIX, degree, positive)
    if found is None:
        return None
    exactness, size, path = found
    return (degree, size * (degree + 1),
            f"{TITLE}: {size} nodes (degree {exactness}) x {degree + 1} angles",
            _files.positive(path))


@functools.lru_cache(maxsize=16)
def sphere_rule(degree: int, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (M, 3) and weights (M,) of the smallest sphere rule exact to ``degree``
    (``positive``: with positive weights), polished, the first node the north pole."""
    exactness, size, path = _files.smallest_file(FOLDER, PREFIX, degree, positive)
    (theta, phi), weights = _files.load(path, 3, size)
    # each node as a rotation that sends z to it
    rotations = _product.zyz_matrices(phi, theta, np.zeros_like(phi))
    rotations, weights, residual = _polish.polish(rotations, weights, exactness, sphere=True)
    if residual > _polish.ROUND_OFF:
        raise _files.RuleFileError(
            f"{path}: does not integrate degree {exactness} on the sphere (largest moment "
            f"{residual:.1e} after polishing): the file is corrupt")
    nodes = rotations[:, :, 2]
    nodes /= np.linalg.norm(nodes, axis=1, keepdims=True)
    first = int(np.argmax(nodes[:, 2]))
    nodes = nodes @ _to_pole(nodes[first]).T
    nodes[first] = (0.0, 0.0, 1.0)
    order = [first, *(i for i in range(size) if i != first)]
    return nodes[order], weights[order]


def _to_pole(x: np.ndarray) -> np.ndarray:
    """The rotation about ``x cross z`` that sends unit vector ``x`` to z."""
    from scipy.spatial.transform import Rotation

    axis = np.cross(x, [0.0, 0.0, 1.0])
    sine = np.linalg.norm(axis)
    if sine < 1e-15:
        return np.eye(3) if x[2] > 0 else np.diag([1.0, -1.0, -1.0])
    angle = np.arctan2(sine, x[2])
    return Rotation.from_rotvec(axis / sine * angle).as_matrix()


def build(degree: int, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Proper rotations and weights (summing to 1) of :func:`smallest`'s rule."""
    return _product.product(*sphere_rule(degree, positive), degree)
