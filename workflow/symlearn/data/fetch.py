"""Download one file from a list of mirrors: resumable, retried, verified, atomic.

Why by hand: pooch and Snakemake's ``ensure`` verify a download but neither resumes
one, and MAD-1.5 and PILArNet-M files are gigabytes. The transfer goes to ``FILE.part``
beside the destination, with the server's validator (ETag or Last-Modified) in
``FILE.part.json``. A cut transfer, in this process (the next retry) or in a later
one (the next ``snakemake``), continues from the bytes already there with an HTTP range
request; ``If-Range`` makes the server send the whole file again if it changed since.
Only a complete file whose SHA-256 matches the pinned one is renamed onto the
destination, so a later rule never reads a truncated or corrupt file. On a mismatch the
partial file is deleted (its bytes cannot be trusted) and the error gives both sums.

An unpinned file (``sha256=None``) is kept with a warning that names the sum it had,
and that sum is written to ``FILE.sha256`` (``sha256sum -c`` format) to pin it in the
configuration.

Mirrors are tried in order within each attempt; a mirror that answers 404 or 410 is
dropped at once (retrying cannot help), other failures (connection errors, time-outs,
5xx, a transfer shorter than announced) are retried with exponential back-off.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from ..errors import ConfigError, SymlearnError
from ..io import sha256_file, write_text_atomic

LOGGER = logging.getLogger(__name__)

CHUNK = 1 << 20          # bytes per read
GONE = (404, 410)        # answers that no retry will change
_SHA256 = re.compile(r"[0-9a-f]{64}")


class FetchError(SymlearnError, RuntimeError):
    """A download failed for good; the message names the file and every URL tried."""


class _Transient(Exception):
    """A failure worth retrying (the connection, the server, a short transfer)."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    url: str
    sha256: str
    pinned: bool
    size: int


def check_sha256(value: str | None, what: str = "sha256") -> str | None:
    """A pinned checksum in lower-case hex, or None; anything else names ``what``."""
    if value is None:
        return None
    value = str(value).strip().lower()
    if not _SHA256.fullmatch(value):
        raise ConfigError(f"{what}: {value!r} is not a SHA-256 (64 hexadecimal digits)")
    return value


def _validator(response: requests.Response) -> str | None:
    """What ``If-Range`` needs to resume only an unchanged file (a strong ETag or the
    modification date)."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def _content_range(response: requests.Response) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes a-b/n`` header."""
    match = re.fullmatch(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)",
                         response.headers.get("Content-Range", "").strip())
    if not match:
        return None, None
    first, total = match.groups()
    return (None if first is None else int(first),
            None if total in (None, "*") else int(total))


class _Part:
    """The partial file and the validator of the transfer that wrote it."""

    def __init__(self, dest: Path):
        self.path = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def state(self) -> dict:
        try:
            return json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return {}

    def start(self, url: str, validator: str | None, total: int | None) -> None:
        self.path.write_bytes(b"")
        write_text_atomic(self.meta, json.dumps(
            {"url": url, "validator": validator, "size": total}))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)


def _transfer(session: requests.Session, url: str, part: _Part, timeout: float,
              progress: bool, label: str) -> None:
    """One try of one mirror: continue (or start) the partial file until complete."""
    have = part.size()
    state = part.state()
    headers = {}
    if have:
        headers["Range"] = f"bytes={have}-"
        if state.get("validator"):
            headers["If-Range"] = state["validator"]
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.RequestException as err:
        raise _Transient(f"{url}: {err}") from err
    with response:
        status = response.status_code
        if status in GONE:
            raise FetchError(f"{url}: HTTP {status} {response.reason}")
        if status == 416 and have:
            # nothing left to send: the part is whole if it has the size the server says
            total = _content_range(response)[1] or state.get("size")
            if total == have:
                return
            part.discard()
            raise _Transient(f"{url}: HTTP 416 for a partial file of {have} bytes "
                             f"(server size {total}); starting again")
        if status >= 500 or status == 429:
            raise _Transient(f"{url}: HTTP {status} {response.reason}")
        if status not in (200, 206):
            raise FetchError(f"{url}: HTTP {status} {response.reason}")
        length = response.headers.get("Content-Length")
        if status == 206:
            first, total = _content_range(response)
            if first != have:
                part.discard()
                raise _Transient(f"{url}: asked for bytes {have}- but got "
                                 f"{response.headers.get('Content-Range')}; starting again")
            mode = "ab"
        else:  # a whole file: the server ignored the range, or the file changed
            have = 0
            total = int(length) if length is not None else None
            part.start(url, _validator(response), total)
            mode = "wb"
        if total is None and length is not None:
            total = have + int(length)
        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True,
                   unit_divisor=1024, desc=label, disable=not progress,
                   mininterval=0.5 if sys.stderr.isatty() else 30.0)
        try:
            with open(part.path, mode) as handle:
                # read1: whatever has arrived, so a cut keeps every byte received
                for chunk in iter(lambda: response.raw.read1(CHUNK), b""):
                    handle.write(chunk)
                    bar.update(len(chunk))
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            raise _Transient(f"{url}: transfer cut after {part.size()} bytes: {err}"
                             ) from err
        finally:
            bar.close()
    if total is not None and part.size() != total:
        raise _Transient(f"{url}: transfer ended at {part.size()} of {total} bytes")


def fetch(urls: Sequence[str], dest: str | os.PathLike, sha256: str | None = None,
          retries: int = 5, timeout: float = 60.0, backoff: float = 2.0,
          progress: bool = True) -> Fetched:
    """Download ``dest`` from the first of ``urls`` that serves it (see the module
    docstring); return where it came from and its SHA-256.

    ``retries`` is the number of extra rounds over the mirrors after the first; the
    wait before round k is ``backoff * 2**(k-1)`` seconds.
    """
    urls = [str(u) for u in urls]
    if not urls:
        raise ValueError(f"{dest}: no URL to download it from")
    sha256 = check_sha256(sha256)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _Part(dest)
    failures: dict[str, str] = {}
    live = list(urls)
    label = dest.name
    # a partial file of another URL list is still the same file: mirrors serve the
    # same bytes, and the checksum catches the case where they do not
    with requests.Session() as session:
        # identity: byte ranges and sizes must refer to the file, not a compressed form
        session.headers.update({"User-Agent": "symlearn-fetch",
                                "Accept-Encoding": "identity"})
        for round_ in range(retries + 1):
            if round_:
                wait = backoff * 2 ** (round_ - 1)
                LOGGER.warning("%s: round %d of %d in %.0f s (%s)", label, round_ + 1,
                               retries + 1, wait, "; ".join(failures.values()))
                time.sleep(wait)
            for url in list(live):
                try:
                    _transfer(session, url, part, timeout, progress, label)
                except FetchError as err:
                    failures[url] = str(err)
                    live.remove(url)
                    continue
                except _Transient as err:
                    failures[url] = str(err)
                    continue
                return _publish(part, dest, url, sha256)
            if not live:
                break
    kept = part.size()
    raise FetchError(
        f"{dest}: could not be downloaded from {len(urls)} URL(s): "
        + "; ".join(failures.get(u, f"{u}: not tried") for u in urls)
        + (f". {kept} bytes are kept in {part.path}; the next try resumes from there"
           if kept else ""))


def _publish(part: _Part, dest: Path, url: str, expected: str | None) -> Fetched:
    """Verify the complete partial file and rename it onto ``dest``."""
    seen = sha256_file(part.path)
    size = part.size()
    if expected is not None and seen != expected:
        part.discard()
        raise FetchError(
            f"{dest}: checksum mismatch for {url}: expected sha256 {expected}, got "
            f"{seen} ({size} bytes). The download was deleted; if the file changed "
            "upstream, pin the new sum in the configuration")
    record = dest.with_name(dest.name + ".sha256")
    write_text_atomic(record, f"{seen}  {dest.name}\n")
    os.replace(part.path, dest)
    part.meta.unlink(missing_ok=True)
    if expected is None:
        LOGGER.warning("%s: checksum UNPINNED; downloaded from %s with sha256 %s (%d "
                       "bytes), recorded in %s. Pin it in the configuration so that a "
                       "changed or corrupt file is caught", dest, url, seen, size, record)
    else:
        LOGGER.info("%s: sha256 %s verified (%d bytes, from %s)", dest, seen, size, url)
    return Fetched(path=dest, url=url, sha256=seen, pinned=expected is not None,
                   size=size)
