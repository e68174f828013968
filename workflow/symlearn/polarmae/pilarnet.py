"""PILArNet-M files: writing them (atomically, streamed), reading them with every
event checked, and the events of a split (a file or a manifest) by split-local index.
The layout is described in :mod:`symlearn.polarmae.events`.
"""

from __future__ import annotations

import bisect
import operator
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from ..io import Closing, atomic_path
from .events import LAYOUTS, VOLUME_SIZE, Event, RawEvent
from .manifests import SplitPart, is_split_manifest, read_split_manifest
from .pilarnet_file import PilarnetFile
from .preprocessing import passes_preprocessing, preprocess_event, resolve_preprocessing


def _check_raw(event: RawEvent, i: int) -> None:
    point, cluster, extra = event.point, event.cluster, event.cluster_extra
    if point.ndim != 2 or point.shape[1] != 8:
        raise ValueError(f"event {i}: point has shape {point.shape}, expected (N, 8)")
    if cluster.ndim != 2 or cluster.shape[1] != 6:
        raise ValueError(f"event {i}: cluster has shape {cluster.shape}, expected (C, 6)")
    if extra.shape != (len(cluster), 5):
        raise ValueError(f"event {i}: cluster_extra has shape {extra.shape}, "
                         f"expected ({len(cluster)}, 5)")
    if int(cluster[:, 0].sum()) != len(point):
        raise ValueError(f"event {i}: cluster sizes sum to {int(cluster[:, 0].sum())}, "
                         f"but there are {len(point)} points")


def _write_stream(path: str | os.PathLike, events: Iterable[RawEvent], n: int,
                  layout: str) -> None:
    """Write ``n`` events one at a time (a large set never sits in memory), atomically."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        point = f.create_dataset("point", (n,), dtype=h5py.vlen_dtype(np.float32))
        cluster = f.create_dataset("cluster", (n,), dtype=h5py.vlen_dtype(np.int64))
        extra = None
        if layout != "v1":
            extra = f.create_dataset("cluster_extra", (n,),
                                     dtype=h5py.vlen_dtype(np.float32))
        written = 0
        for i, event in enumerate(events):
            if i >= n:
                raise ValueError(f"more than the {n} events announced")
            _check_raw(event, i)
            point[i] = np.ascontiguousarray(event.point, dtype=np.float32).ravel()
            table = event.cluster[:, :5] if layout == "v1" else event.cluster
            cluster[i] = np.ascontiguousarray(table, dtype=np.int64).ravel()
            if extra is not None:
                ext = event.cluster_extra
                if layout == "v3":  # is_primary: a particle that is its own group
                    primary = ((event.cluster[:, 1] == event.cluster[:, 2])
                               & (event.cluster[:, 3] >= 0))
                    ext = np.column_stack([ext, primary])
                extra[i] = np.ascontiguousarray(ext, dtype=np.float32).ravel()
            written += 1
        if written != n:
            raise ValueError(f"{written} events given, {n} announced")
        f.attrs["layout"] = layout
        f.attrs["volume_size"] = VOLUME_SIZE


def write_pilarnet(path: str | os.PathLike, events: Sequence[RawEvent],
                   layout: str = "v2") -> None:
    """Write events in the PILArNet-M layout ("v1", "v2" or "v3"), atomically."""
    _write_stream(path, events, len(events), layout)



def count_events(path: str | os.PathLike) -> int:
    """Number of events in a PILArNet-M file, or in the split of a manifest (``.json``)."""
    if is_split_manifest(path):
        return sum(len(part) for part in read_split_manifest(path))
    with PilarnetFile(path) as f:
        return f.n_events





class EventSource(Closing):
    """The events of one split, read by split-local index (0 .. len - 1).

    ``path`` is a split manifest (a ``.json`` name, see :func:`write_split_manifest`):
    the split is the concatenation of its files' ranges, in the manifest's order; or a
    PILArNet-M file (any other name): the split is all of its events, and split-local
    indices are the indices in the file. Each file is opened on first use (a single file
    at once, to count its events) and kept open until :meth:`close` (or the end of a
    ``with`` block); a read after that opens it again. A manifest's files must exist
    when the source is made, and hold the number of events the manifest recorded when
    they are opened.
    """

    def __init__(self, path: str | os.PathLike, preprocessing: Mapping | None = None,
                 branching_radius: float = 3.0):
        self.path = str(path)
        self.preprocessing = resolve_preprocessing(preprocessing)
        self.branching_radius = float(branching_radius)
        self.manifest = is_split_manifest(path)
        self._files: dict[int, PilarnetFile] = {}
        if self.manifest:
            self.parts = tuple(read_split_manifest(path))
            for part in self.parts:
                if not Path(part.path).is_file():
                    raise DataError(f"{part.path}: no such file (in the split manifest "
                                    f"{self.path})")
        else:
            f = PilarnetFile(path)
            self._files[0] = f
            self.parts = (SplitPart(self.path, 0, f.n_events, f.n_events),)
        self._offsets = [0]
        for part in self.parts:
            self._offsets.append(self._offsets[-1] + len(part))
        self.n_events = self._offsets[-1]

    def __len__(self) -> int:
        return self.n_events

    def close(self) -> None:
        """Close every open file."""
        files, self._files = self._files, {}
        for f in files.values():
            f.close()

    def _locate(self, index: int) -> tuple[int, int]:
        index = operator.index(index)
        if not 0 <= index < self.n_events:
            raise DataError(f"{self.path}: event {index} asked for, but the "
                            f"{'split' if self.manifest else 'file'} holds "
                            f"{self.n_events} events")
        k = bisect.bisect_right(self._offsets, index) - 1
        return k, self.parts[k].start + index - self._offsets[k]

    def locate(self, index: int) -> tuple[str, int]:
        """(file, index in that file) of the split-local ``index``."""
        k, j = self._locate(index)
        return self.parts[k].path, j

    def _file(self, k: int) -> PilarnetFile:
        f = self._files.get(k)
        if f is None:
            part = self.parts[k]
            f = PilarnetFile(part.path)
            if f.n_events != part.events_in_file:
                f.close()
                raise DataError(f"{part.path}: holds {f.n_events} events, but "
                                f"{self.path} recorded {part.events_in_file} (the file "
                                "changed since the split was made)")
            self._files[k] = f
        return f

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Event ``index`` as stored, checked: point (N, 8) float64, cluster (C, 5|6)."""
        k, j = self._locate(index)
        ((_, point, cluster),) = self._file(k).read(j, j + 1)
        return point, cluster

    def read(self, index: int) -> Event | None:
        """Event ``index`` preprocessed (``Event.index`` = ``index``), or None when the
        preprocessing drops it."""
        point, cluster = self.raw(index)
        return preprocess_event(index, point, cluster, self.preprocessing,
                                self.branching_radius)

    def stream(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(split-local index, point, cluster) of every event in order, as stored and
        checked, read READ_CHUNK events at a time."""
        for k, part in enumerate(self.parts):
            shift = self._offsets[k] - part.start
            for j, point, cluster in self._file(k).read(part.start, part.stop):
                yield j + shift, point, cluster

    def events(self, indices: Sequence[int] | None = None) -> Iterator[Event]:
        """The events the preprocessing keeps: all, in order (streamed), or those of
        ``indices`` in the order given (every index is checked before any is read)."""
        if indices is None:
            for i, point, cluster in self.stream():
                event = preprocess_event(i, point, cluster, self.preprocessing,
                                         self.branching_radius)
                if event is not None:
                    yield event
            return
        indices = [operator.index(i) for i in indices]
        for i in indices:
            self._locate(i)
        for i in indices:
            event = self.read(i)
            if event is not None:
                yield event

    def usable(self) -> list[int]:
        """Split-local indices of the events the preprocessing keeps (``read(i) is not
        None``), found by streaming the split and counting kept points: nothing is
        preprocessed further, nothing is kept."""
        return [i for i, point, cluster in self.stream()
                if passes_preprocessing(point, cluster, self.preprocessing)]


def read_events(path: str | os.PathLike, preprocessing: Mapping | None = None,
                indices: Sequence[int] | None = None,
                branching_radius: float = 3.0) -> list[Event]:
    """Read (all, or the ``indices`` of) a PILArNet-M file in either layout, or a split
    manifest, preprocessed.

    ``preprocessing=None`` applies nothing; a mapping takes the defaults for missing keys
    (see the module docstring for the order). Events left with fewer than ``min_points``
    points are skipped; ``Event.index`` is always the split-local index (for a file, the
    index in the file). ``branching_radius`` is in voxels, whatever the normalisation.
    """
    with EventSource(path, preprocessing, branching_radius) as source:
        return list(source.events(indices))

