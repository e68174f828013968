"""The downloader against a local HTTP server on 127.0.0.1 serving tiny files in the real
formats (an extxyz with MAD-1.5's keys, an HDF5 in PILArNet-M's layout): success,
checksum mismatch, a cut transfer resumed (in the same call and in a later one), 404,
retries and mirrors."""

from __future__ import annotations

import hashlib
import logging

import ase.io
import numpy as np
import pytest
from ase.build import bulk, molecule

from symlearn.data.extxyz import read_frames, write_training_view
from symlearn.data.fetch import FetchError, check_sha256, fetch
from symlearn.polarmae.lartpc import read_events, simulate_event, write_pilarnet

FAST = {"backoff": 0.0, "progress": False, "timeout": 10.0}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def mad_bytes(tmp_path_factory) -> bytes:
    """Two structures as MAD-1.5 writes them: a crystal with a stress, a molecule
    without one; energy, forces, subset and frame_id."""
    crystal = bulk("Cu", "fcc", a=3.6, cubic=True)
    crystal.rattle(0.05, seed=1)
    water = molecule("H2O")
    rng = np.random.default_rng(0)
    for i, atoms in enumerate((crystal, water)):
        atoms.info.update(energy=-3.5 * len(atoms), subset="bulk" if i == 0 else "mol",
                          frame_id=i)
        atoms.arrays["forces"] = rng.normal(size=(len(atoms), 3))
    crystal.info["stress"] = rng.normal(size=6)
    path = tmp_path_factory.mktemp("mad") / "mad-1.5-r2scan-test.xyz"
    ase.io.write(path, [crystal, water], format="extxyz")
    return path.read_bytes()


@pytest.fixture(scope="module")
def pilarnet_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("pilarnet") / "generic_v2_3_v2.h5"
    write_pilarnet(path, [simulate_event(0, i) for i in range(3)], layout="v2")
    return path.read_bytes()


def _leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_fetch_mad_file_verified_and_readable(http_server, mad_bytes, tmp_path):
    url = http_server.serve("records/1/files/mad-1.5-r2scan-test.xyz", mad_bytes)
    dest = tmp_path / "test.xyz"
    fetched = fetch([url], dest, sha256=_sha(mad_bytes), **FAST)
    assert dest.read_bytes() == mad_bytes
    assert fetched.sha256 == _sha(mad_bytes) and fetched.pinned and fetched.url == url
    assert _leftovers(tmp_path) == ["test.xyz", "test.xyz.sha256"]
    assert (tmp_path / "test.xyz.sha256").read_text() == f"{_sha(mad_bytes)}  test.xyz\n"
    summary = write_training_view(dest, tmp_path / "pet.xyz")
    assert summary["frames"] == 2 and summary["frames_with_stress"] == 1
    assert len(read_frames(tmp_path / "pet.xyz")) == 2


def test_fetch_pilarnet_file_readable(http_server, pilarnet_bytes, tmp_path):
    url = http_server.serve("datasets/x/resolve/main/train/generic_v2_3_v2.h5",
                            pilarnet_bytes)
    dest = tmp_path / "generic_v2_3_v2.h5"
    fetch([url], dest, sha256=_sha(pilarnet_bytes), **FAST)
    events = read_events(dest, preprocessing=None)
    assert [e.index for e in events] == [0, 1, 2]


def test_unpinned_checksum_is_recorded_and_said(http_server, mad_bytes, tmp_path, caplog):
    url = http_server.serve("mad.xyz", mad_bytes)
    with caplog.at_level(logging.WARNING, logger="symlearn.data.fetch"):
        fetched = fetch([url], tmp_path / "mad.xyz", sha256=None, **FAST)
    assert not fetched.pinned and fetched.sha256 == _sha(mad_bytes)
    assert "UNPINNED" in caplog.text and _sha(mad_bytes) in caplog.text
    assert _sha(mad_bytes) in (tmp_path / "mad.xyz.sha256").read_text()


def test_checksum_mismatch_names_both_sums_and_leaves_nothing(http_server, mad_bytes,
                                                             tmp_path):
    url = http_server.serve("mad.xyz", mad_bytes)
    wrong = "0" * 64
    with pytest.raises(FetchError) as err:
        fetch([url], tmp_path / "mad.xyz", sha256=wrong, **FAST)
    message = str(err.value)
    assert wrong in message and _sha(mad_bytes) in message and url in message
    assert "mad.xyz" in message
    assert _leftovers(tmp_path) == []


def test_cut_transfer_resumes_in_the_same_call(http_server, pilarnet_bytes, tmp_path):
    url = http_server.serve("cut.h5", pilarnet_bytes, cuts=1)
    dest = tmp_path / "cut.h5"
    fetch([url], dest, sha256=_sha(pilarnet_bytes), retries=2, **FAST)
    assert dest.read_bytes() == pilarnet_bytes
    first, second = http_server.of("cut.h5")
    half = len(pilarnet_bytes) // 2
    assert first.range is None and first.status == 200
    # the second request continues from the bytes already on disk, if unchanged
    assert second.range == f"bytes={half}-" and second.if_range is not None
    assert second.status == 206
    assert _leftovers(tmp_path) == ["cut.h5", "cut.h5.sha256"]


def test_cut_transfer_resumes_in_a_later_call(http_server, mad_bytes, tmp_path):
    url = http_server.serve("mad.xyz", mad_bytes, cuts=1)
    dest = tmp_path / "mad.xyz"
    with pytest.raises(FetchError, match="the next try resumes"):
        fetch([url], dest, sha256=_sha(mad_bytes), retries=0, **FAST)
    assert not dest.exists()  # never a half file under the final name
    assert (tmp_path / "mad.xyz.part").stat().st_size == len(mad_bytes) // 2
    fetch([url], dest, sha256=_sha(mad_bytes), retries=0, **FAST)
    assert dest.read_bytes() == mad_bytes
    assert http_server.of("mad.xyz")[-1].range == f"bytes={len(mad_bytes) // 2}-"
    assert _leftovers(tmp_path) == ["mad.xyz", "mad.xyz.sha256"]


def test_changed_file_is_downloaded_again_not_spliced(http_server, mad_bytes, tmp_path):
    url = http_server.serve("mad.xyz", mad_bytes, cuts=1)
    dest = tmp_path / "mad.xyz"
    with pytest.raises(FetchError):
        fetch([url], dest, retries=0, **FAST)
    changed = mad_bytes.replace(b"bulk", b"BULK")
    http_server.serve("mad.xyz", changed)  # a new ETag: If-Range fails, 200 again
    fetch([url], dest, sha256=_sha(changed), retries=0, **FAST)
    assert dest.read_bytes() == changed
    assert http_server.of("mad.xyz")[-1].status == 200


def test_server_without_ranges_restarts_from_zero(http_server, mad_bytes, tmp_path):
    url = http_server.serve("mad.xyz", mad_bytes, cuts=1, ranges=False)
    fetch([url], tmp_path / "mad.xyz", sha256=_sha(mad_bytes), retries=1, **FAST)
    assert (tmp_path / "mad.xyz").read_bytes() == mad_bytes
    assert [r.status for r in http_server.of("mad.xyz")] == [200, 200]


def test_complete_partial_file_is_published(http_server, mad_bytes, tmp_path):
    """A transfer that finished but was not renamed (a kill at the wrong moment):
    the server answers 416 to the range and the file is verified as it is."""
    url = http_server.serve("mad.xyz", mad_bytes)
    (tmp_path / "mad.xyz.part").write_bytes(mad_bytes)
    fetch([url], tmp_path / "mad.xyz", sha256=_sha(mad_bytes), **FAST)
    assert (tmp_path / "mad.xyz").read_bytes() == mad_bytes
    assert [r.status for r in http_server.of("mad.xyz")] == [416]


def test_404_names_the_url_and_is_not_retried(http_server, tmp_path):
    url = http_server.url("records/1/files/missing.xyz")
    with pytest.raises(FetchError) as err:
        fetch([url], tmp_path / "missing.xyz", retries=5, **FAST)
    assert url in str(err.value) and "404" in str(err.value)
    assert len(http_server.of("records/1/files/missing.xyz")) == 1
    assert _leftovers(tmp_path) == []


def test_server_errors_are_retried(http_server, mad_bytes, tmp_path):
    url = http_server.serve("mad.xyz", mad_bytes, errors=2)
    fetch([url], tmp_path / "mad.xyz", sha256=_sha(mad_bytes), retries=2, **FAST)
    assert [r.status for r in http_server.of("mad.xyz")] == [500, 500, 200]


def test_retries_run_out_with_every_url_named(http_server, mad_bytes, tmp_path):
    url = http_server.serve("mad.xyz", mad_bytes, errors=10)
    with pytest.raises(FetchError, match="HTTP 500") as err:
        fetch([url], tmp_path / "mad.xyz", retries=1, **FAST)
    assert url in str(err.value)
    assert len(http_server.of("mad.xyz")) == 2


def test_next_mirror_serves_when_the_first_is_missing(http_server, mad_bytes, tmp_path):
    missing = http_server.url("gone/mad.xyz")
    mirror = http_server.serve("mirror/mad.xyz", mad_bytes)
    fetched = fetch([missing, mirror], tmp_path / "mad.xyz", sha256=_sha(mad_bytes),
                    **FAST)
    assert fetched.url == mirror


def test_bad_pinned_checksum_is_named():
    assert check_sha256(None) is None
    assert check_sha256("AB" * 32) == "ab" * 32
    with pytest.raises(ValueError, match="data.atomistic.mad.sha256.train"):
        check_sha256("abc", "data.atomistic.mad.sha256.train")
