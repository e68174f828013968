"""Split manifests: a split made of event ranges of several PILArNet-M files.

Splits. A split is either one PILArNet-M file (all its events) or a split manifest
(``.json``, written by :func:`write_split_manifest`): events [start, stop) of each of
several files, concatenated in order, so a split can span several files or a slice of
one. :class:`EventSource` reads a split by *split-local* index (0 .. n - 1), keeping one
HDF5 handle per file open; ``Event.index`` is that split-local index (for a single file,
the index in the file), unique within the split.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..io import write_text_atomic
from .pilarnet_file import PilarnetFile

#: the ``format`` of a split manifest (see :func:`write_split_manifest`)
MANIFEST_FORMAT = "symlearn-lartpc-split/1"



@dataclass(frozen=True)
class SplitPart:
    """The events [start, stop) (indices in the file) that one file gives a split."""

    path: str             # absolute for a manifest's entry (relative ones resolved)
    start: int
    stop: int
    events_in_file: int   # as counted when the manifest was written

    def __len__(self) -> int:
        return self.stop - self.start


def is_split_manifest(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a split manifest (``.json``) rather than an HDF5 file."""
    return Path(path).suffix.lower() == ".json"


def _manifest_entry_path(file: str | os.PathLike, folder: Path) -> str:
    """``file`` relative to ``folder`` when it lies inside it, else absolute."""
    absolute = Path(os.path.abspath(file))
    try:
        return absolute.relative_to(folder).as_posix()
    except ValueError:
        return str(absolute)


def write_split_manifest(files: Sequence[str | os.PathLike],
                         events: tuple[int, int] | None,
                         out: str | os.PathLike) -> dict:
    """Write the split made of the events [start, stop) of the concatenation of
    ``files`` (in the order given; ``events=None``: all of them) to the manifest ``out``
    (a ``.json`` name), atomically, and return what it wrote.

    Every file is opened, checked for the PILArNet-M layout and counted (its events are
    not read). The manifest is ``{"format": MANIFEST_FORMAT, "files": [{"path", "start",
    "stop", "events_in_file"}, ...], "n_events"}``: one entry per file that gives the
    split at least one event, ``start``/``stop`` indices in that file, ``path`` relative
    to the manifest's folder when the file lies inside it, else absolute.
    """
    out = Path(out)
    if not is_split_manifest(out):
        raise ValueError(f"{out}: a split manifest's name must end in .json")
    files = [str(f) for f in files]
    if not files:
        raise ValueError(f"{out}: no file given for the split")
    names = ", ".join(files)
    if events is not None:
        try:
            start, stop = (operator.index(x) for x in events)
        except (TypeError, ValueError):
            raise ValueError(f"events must be (start, stop) integers or None, got "
                             f"{events!r}") from None
        if start < 0 or start >= stop:
            raise DataError(f"{names}: empty event range [{start}, {stop}) asked for "
                            "(need 0 <= start < stop)")
    seen: set[str] = set()
    counts = []
    for file in files:
        key = os.path.abspath(file)
        if key in seen:
            raise DataError(f"{file}: listed twice for one split")
        seen.add(key)
        with PilarnetFile(file) as f:
            counts.append(f.n_events)
    total = sum(counts)
    held = (f"{files[0]} holds {total} events" if len(files) == 1 else
            ", ".join(f"{f} ({n} events)" for f, n in zip(files, counts, strict=True))
            + f" hold {total} events in all")
    if events is None:
        start, stop = 0, total
        if total == 0:
            raise DataError(f"{names}: no events")
    elif stop > total:
        raise DataError(f"events [{start}, {stop}) asked for, but {held}")
    folder = Path(os.path.abspath(out)).parent
    entries, offset = [], 0
    for file, n in zip(files, counts, strict=True):
        a, b = max(start - offset, 0), min(stop - offset, n)
        if a < b:
            entries.append({"path": _manifest_entry_path(file, folder), "start": a,
                            "stop": b, "events_in_file": n})
        offset += n
    manifest = {"format": MANIFEST_FORMAT, "files": entries, "n_events": stop - start}
    write_text_atomic(out, json.dumps(manifest, indent=1) + "\n")
    return manifest


def _manifest_int(where: str, entry: Mapping, key: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: '{key}' must be an integer, got {value!r}")
    return value


def read_split_manifest(path: str | os.PathLike) -> list[SplitPart]:
    """The parts of a split manifest, checked (the files are not opened; relative paths
    are resolved from the manifest's folder)."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        data = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a split manifest (not JSON: {err})") from err
    found = data.get("format") if isinstance(data, dict) else None
    if found != MANIFEST_FORMAT:
        raise DataError(f"{path}: not a split manifest (format {found!r}, expected "
                        f"{MANIFEST_FORMAT!r})")
    entries = data.get("files")
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{path}: 'files' must be a non-empty list of "
                        "{path, start, stop, events_in_file}")
    folder = Path(os.path.abspath(path)).parent
    parts = []
    for k, entry in enumerate(entries):
        where = f"{path}: files[{k}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} is not a mapping")
        file = entry.get("path")
        if not isinstance(file, str) or not file:
            raise DataError(f"{where}: 'path' must be a non-empty string, got {file!r}")
        where = f"{where} ({file})"
        start, stop, n = (_manifest_int(where, entry, key)
                          for key in ("start", "stop", "events_in_file"))
        if not 0 <= start < stop <= n:
            raise DataError(f"{where}: events [{start}, {stop}) are not a non-empty range "
                            f"of the file's {n} events")
        resolved = Path(file) if Path(file).is_absolute() else folder / file
        parts.append(SplitPart(str(resolved), start, stop, n))
    by_file: dict[str, list[SplitPart]] = {}
    for part in parts:
        by_file.setdefault(os.path.normpath(part.path), []).append(part)
    for file, same in by_file.items():
        same.sort(key=lambda p: p.start)
        for a, b in zip(same, same[1:], strict=False):
            if b.start < a.stop:
                raise DataError(f"{path}: {file} is listed with overlapping event ranges "
                                f"[{a.start}, {a.stop}) and [{b.start}, {b.stop})")
    total = sum(len(part) for part in parts)
    if data.get("n_events") != total:
        raise DataError(f"{path}: 'n_events' is {data.get('n_events')!r}, but the files' "
                        f"ranges hold {total} events")
    return parts


