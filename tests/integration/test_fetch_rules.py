"""The fetch rules through snakemake, against a local HTTP server on 127.0.0.1 serving
tiny files in the real formats: MAD-style extxyz splits (fetch_mad, then the PET view
and its memory-mapped copy) and one PILArNet-M HDF5 file cut into three splits by event
ranges (fetch_pilarnet, lartpc_split); a pinned checksum that does not match; a 404."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from test_workflow import _config, snakemake

from symlearn.data.atomistic import generate, split
from symlearn.data.extxyz import write_frames
from symlearn.polarmae.lartpc import read_events, simulate_event, write_pilarnet
from symlearn.polarmae.train import EventStore

pytestmark = pytest.mark.integration

SPLITS = ("train", "val", "test")
H5 = "train/generic_v2_12_v2.h5"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def served(http_server, tmp_path):
    """MAD-style splits and a PILArNet-M file on the server; their bytes by name."""
    source = tmp_path / "source"
    frames = generate({"bulk": 3, "molecule": 3, "cluster": 2, "alloy": 4}, seed=1,
                      max_atoms=10)
    parts = split(frames, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=1)
    data = {}
    for name in SPLITS:
        path = source / f"mad-test-{name}.xyz"
        write_frames(parts[name], path)
        data[name] = path.read_bytes()
        http_server.serve(f"records/7/files/mad-test-{name}.xyz", data[name])
    write_pilarnet(source / "events.h5", [simulate_event(0, i) for i in range(12)],
                   layout="v2")
    data[H5] = (source / "events.h5").read_bytes()
    http_server.serve(f"hub/r1/{H5}", data[H5])
    return data


def _overrides(server, data, mad_sha=None, mirrors=None) -> dict:
    base = f"http://127.0.0.1:{server.port}"
    return {
        "data": {
            "fetch": {"retries": 1, "timeout": 10},
            "atomistic": {
                "source": "mad-test",
                "training_format": "memmap",
                "downloads": {"mad-test": {
                    "mirrors": mirrors or [base + "/records/7/files/{file}?download=1"],
                    "files": {s: f"mad-test-{s}.xyz" for s in SPLITS},
                    "sha256": mad_sha or {"train": _sha(data["train"]), "val": None,
                                          "test": None},
                    "max_structures": {"train": 4, "val": None, "test": None},
                    "seed": 0}}},
            "lartpc": {
                "source": "hub-test",
                "downloads": {"hub-test": {
                    "mirrors": [base + "/hub/{revision}/{file}"],
                    "revision": "r1",
                    "splits": {"train": {"files": [H5], "events": [0, 8]},
                               "val": {"files": [H5], "events": [8, 10]},
                               "test": {"files": [H5], "events": [10, 12]}},
                    "sha256": {H5: _sha(data[H5])}}}},
        },
    }


def test_fetch_rules_download_verify_and_convert(tmp_path, http_server, served):
    config = _config(tmp_path, _overrides(http_server, served))
    atomistic = "results/data/atomistic/mad-test"
    lartpc = "results/data/lartpc/hub-test"
    targets = ([f"{atomistic}/pet/{s}.memmap" for s in SPLITS]
               + [f"{atomistic}/pet/{s}.xyz" for s in SPLITS]
               + [f"{lartpc}/{s}.json" for s in SPLITS])
    result = snakemake(tmp_path, config, *targets)
    assert result.returncode == 0, result.stderr[-4000:]

    for name in SPLITS:  # verified downloads, the sums recorded beside them
        fetched = tmp_path / atomistic / f"{name}.xyz"
        assert fetched.read_bytes() == served[name]
        assert _sha(served[name]) in fetched.with_name(f"{name}.xyz.sha256").read_text()
    # the unpinned ones say so in their logs, with the sum seen
    log = (tmp_path / "results/logs/fetch_mad/mad-test_val.log").read_text()
    assert "UNPINNED" in log and _sha(served["val"]) in log
    # the subset of the training split, and metatrain's memory-mapped copy of it
    memmap = tmp_path / f"{atomistic}/pet/train.memmap"
    assert int(np.load(memmap / "ns.npy")) == 4
    assert (memmap / "stress.bin").stat().st_size == 4 * 9 * 4  # float32 3x3 each

    # one HDF5 file fetched once, cut into three splits by event ranges
    assert len([r for r in http_server.requests if r.path.endswith(".h5")]) == 1
    sizes = {}
    for name in SPLITS:
        manifest = tmp_path / lartpc / f"{name}.json"
        sizes[name] = len(read_events(manifest, preprocessing=None))
        with EventStore(manifest, {"min_points": 1}, {"n_init": 8, "n_tokens": 4,
                                                      "group_size": 4, "radius": 5.0,
                                                      "centres": "fps",
                                                      "overlap_factor": 0.72}) as store:
            assert store.n_events == sizes[name]
    assert sizes == {"train": 8, "val": 2, "test": 2}

    # nothing left to do, and no network needed for it
    again = snakemake(tmp_path, config, "-n", *targets)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_checksum_mismatch_fails_with_both_sums_and_keeps_nothing(tmp_path, http_server,
                                                                  served):
    wrong = "f" * 64
    overrides = _overrides(http_server, served,
                           mad_sha={"train": None, "val": wrong, "test": None})
    config = _config(tmp_path, overrides)
    target = "results/data/atomistic/mad-test/val.xyz"
    result = snakemake(tmp_path, config, target)
    assert result.returncode != 0
    log = (tmp_path / "results/logs/fetch_mad/mad-test_val.log").read_text()
    assert wrong in log and _sha(served["val"]) in log
    directory = tmp_path / "results/data/atomistic/mad-test"
    assert not list(directory.glob("val.xyz*"))  # no file, partial file or record


def test_missing_file_fails_naming_the_url(tmp_path, http_server, served):
    base = f"http://127.0.0.1:{http_server.port}"
    overrides = _overrides(http_server, served, mirrors=[base + "/nowhere/{file}"])
    result = snakemake(tmp_path, _config(tmp_path, overrides),
                       "results/data/atomistic/mad-test/test.xyz")
    assert result.returncode != 0
    log = (tmp_path / "results/logs/fetch_mad/mad-test_test.log").read_text()
    assert f"{base}/nowhere/mad-test-test.xyz" in log and "404" in log
    assert not (tmp_path / "results/data/atomistic/mad-test/test.xyz").exists()
