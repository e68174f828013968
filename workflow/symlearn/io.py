"""File helpers shared by every stage.

Every output is written to a temporary file next to its final path and renamed into
place only when complete, so an interrupted job never leaves a half-written file that a
later rule would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# read once, at import: setting it to read it is not thread-safe
_UMASK = _read_umask()


class Closing:
    """``with obj:`` closes ``obj`` on the way out, whatever happens (for the readers
    that keep files open: a subclass defines ``close``)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    ``suffix`` keeps the extension for writers that infer the format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{suffix}",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file private (0600); give it the mode a plain open() would
    tmp_path.chmod(0o666 & ~_UMASK)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path``
    (a directory written in several files, e.g. a memory-mapped data set).

    On any exception the temporary directory is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        tmp.chmod(0o777 & ~_UMASK)
        yield tmp
        if not os.path.lexists(path):
            os.rename(tmp, path)
        elif path.is_symlink() or not path.is_dir():
            path.unlink()
            os.rename(tmp, path)
        else:  # a directory cannot be renamed onto another: move the old one aside
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except BaseException:
                os.rename(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's content."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_path(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's content, or of a directory's: of the names of the files
    under it and their contents (a data set written as several files)."""
    root = Path(path)
    if not root.is_dir():
        return sha256_file(root)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(sha256_file(file).encode() + b"\0")
    return digest.hexdigest()


def writable_folder(out_dir: str | os.PathLike) -> Path:
    """The output folder, refused at once (naming it) when nothing could be written
    there: found before the work, not after. Nothing is created."""
    from .errors import DataError

    out = Path(out_dir)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DataError(f"{out}: the output folder cannot be created ({existing} is not "
                        "a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"{out}: the output folder is not writable"
                        + ("" if existing == out else f" ({existing} is not writable)"))
    return out


def writable_file(path: str | os.PathLike) -> Path:
    """An output file, refused at once (naming it) when it could not be written: a
    folder in its place, or a folder for it that cannot be created or written to."""
    from .errors import DataError

    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the path of the file to write")
    writable_folder(path.parent)
    return path
