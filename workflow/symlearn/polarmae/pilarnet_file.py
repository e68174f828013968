"""One PILArNet-M file opened for reading: its datasets checked for layout, its event
count, and its events streamed with each one checked. Both the readers of a split
(:mod:`.pilarnet`) and the split manifests (:mod:`.manifests`, which count a file's
events) open files through it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from ..io import Closing
from .events import CLASS_NAMES, POINT_COLUMNS

READ_CHUNK = 1024       # events per slice when a file or a range of it is streamed


def _open(path: str | os.PathLike) -> h5py.File:
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: cannot be opened as HDF5 (not an HDF5 file, or "
                        f"truncated): {err}") from err


def _datasets(f: h5py.File, path) -> tuple[h5py.Dataset, h5py.Dataset, h5py.Dataset | None]:
    """The point, cluster and (v2/v3) cluster_extra datasets, checked for presence."""
    for name in ("point", "cluster"):
        if name not in f:
            raise DataError(f"{path}: no '{name}' dataset (a PILArNet-M file has 'point' "
                            f"and 'cluster'; found {sorted(f.keys())})")
    point, cluster = f["point"], f["cluster"]
    extra = f["cluster_extra"] if "cluster_extra" in f else None
    for name, ds in (("point", point), ("cluster", cluster), ("cluster_extra", extra)):
        if ds is not None and ds.ndim != 1:
            raise DataError(f"{path}: '{name}' has shape {ds.shape}, expected one "
                            "flattened array per event (n_events,)")
    if len(cluster) != len(point) or (extra is not None and len(extra) != len(point)):
        raise DataError(f"{path}: datasets disagree on the number of events: point "
                        f"{len(point)}, cluster {len(cluster)}"
                        + ("" if extra is None else f", cluster_extra {len(extra)}"))
    return point, cluster, extra


def _check_event(path, i: int, point, cluster, extra, width: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Reshape one event's flattened arrays and check them against each other."""
    where = f"{path}: event {i}"
    point = np.asarray(point).ravel()
    cluster = np.asarray(cluster).ravel()
    if point.size % 8:
        raise DataError(f"{where}: 'point' holds {point.size} values, not a multiple of 8 "
                        f"({', '.join(POINT_COLUMNS)})")
    if cluster.size % width:
        raise DataError(f"{where}: 'cluster' holds {cluster.size} values, not a multiple "
                        f"of {width} (the {'v2/v3' if width == 6 else 'v1'} layout)")
    point = point.reshape(-1, 8).astype(np.float64)
    cluster = cluster.reshape(-1, width).astype(np.int64)
    n_clusters = len(cluster)
    if extra is not None and np.asarray(extra).size not in (5 * n_clusters, 6 * n_clusters):
        raise DataError(f"{where}: 'cluster_extra' holds {np.asarray(extra).size} values, "
                        f"not 5 or 6 per cluster row ({n_clusters} rows)")
    sizes = cluster[:, 0]
    if (sizes < 0).any():
        raise DataError(f"{where}: negative cluster size in 'cluster' column 0")
    if int(sizes.sum()) != len(point):
        raise DataError(f"{where}: cluster sizes sum to {int(sizes.sum())}, but 'point' "
                        f"holds {len(point)} points")
    semantic = cluster[:, 4]
    if ((semantic < 0) | (semantic >= len(CLASS_NAMES))).any():
        raise DataError(f"{where}: semantic type outside 0..4: {sorted(set(semantic))}")
    if not np.isfinite(point).all():
        raise DataError(f"{where}: 'point' contains non-finite values")
    return point, cluster


class PilarnetFile(Closing):
    """One open PILArNet-M file: its datasets, checked for layout, and its event count."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self.handle = _open(path)
        try:
            self.point, self.cluster, self.extra = _datasets(self.handle, self.path)
            self.n_events = len(self.point)
        except OSError as err:
            self.handle.close()
            raise DataError(f"{self.path}: cannot be read (truncated?): {err}") from err
        except BaseException:
            self.handle.close()
            raise
        self.width = 5 if self.extra is None else 6

    def read(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(index in the file, point (N, 8), cluster (C, 5|6)) of events start..stop-1,
        checked, read from the file READ_CHUNK events at a time."""
        for a in range(start, stop, READ_CHUNK):
            b = min(a + READ_CHUNK, stop)
            try:
                points, clusters = self.point[a:b], self.cluster[a:b]
                extras = self.extra[a:b] if self.extra is not None else [None] * (b - a)
            except OSError as err:
                raise DataError(f"{self.path}: event(s) {a}..{b - 1} cannot be read "
                                f"(truncated or corrupt file): {err}") from err
            for i, p, c, e in zip(range(a, b), points, clusters, extras, strict=True):
                yield (i, *_check_event(self.path, i, p, c, e, self.width))

    def close(self) -> None:
        self.handle.close()
