"""Splits of PILArNet-M files: manifests (ranges of one or several files), the split
reader (EventSource) and the training's bounded event store."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from symlearn.data.extxyz import DataError
from symlearn.polarmae.lartpc import (
    MANIFEST_FORMAT,
    EventSource,
    count_events,
    make_lartpc,
    read_events,
    read_split_manifest,
    write_split_manifest,
)
from symlearn.polarmae.train import EventStore

TOKENIZER = {"centres": "fps", "n_init": 64, "n_tokens": 16, "group_size": 8,
             "radius": 5.0, "overlap_factor": 0.72}
N_TRAIN, N_VAL = 10, 4


@pytest.fixture(scope="module", params=["v1", "v2"])
def data(request, tmp_path_factory):
    """train.h5 (10 events) and val.h5 (4 events) in one folder, in either layout."""
    folder = tmp_path_factory.mktemp(f"lartpc_{request.param}")
    make_lartpc(folder, seed=5, n_events={"train": N_TRAIN, "val": N_VAL},
                layout=request.param)
    return folder


@pytest.fixture(scope="module")
def preprocessing(data):
    """The defaults with ``min_points`` at the median of the kept points, so that some
    events are dropped and some kept."""
    counts = [e.n_points for e in read_events(data / "train.h5", {"min_points": 0})]
    return {"min_points": int(np.median(counts))}


def _same(a, b, shift: int = 0) -> None:
    assert a.index == b.index - shift
    for name in ("points", "energy", "raw_energy", "semantic", "cluster", "interaction",
                 "branching"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("prep", [None, "median"])
def test_one_file_split_into_three_ranges(data, preprocessing, tmp_path, prep):
    prep = preprocessing if prep == "median" else None
    direct = {e.index: e for e in read_events(data / "train.h5", prep)}
    ranges = [(0, 3), (3, 7), (7, N_TRAIN)]
    seen = []
    for k, (start, stop) in enumerate(ranges):
        out = data / f"split{k}.json"
        manifest = write_split_manifest([data / "train.h5"], (start, stop), out)
        assert json.loads(out.read_text()) == manifest == {
            "format": MANIFEST_FORMAT, "n_events": stop - start,
            "files": [{"path": "train.h5", "start": start, "stop": stop,
                       "events_in_file": N_TRAIN}]}
        assert count_events(out) == stop - start
        read = read_events(out, prep)
        expected = [i for i in direct if start <= i < stop]
        assert [e.index + start for e in read] == expected
        for event in read:
            _same(event, direct[event.index + start], shift=start)
        with EventSource(out, prep) as source:
            assert len(source) == stop - start
            assert source.locate(0) == (str(data / "train.h5"), start)
        seen += [e.index + start for e in read]
    assert seen == sorted(direct)
    assert not list(data.glob(".*part*"))  # written atomically


def test_manifest_spanning_two_files(data, preprocessing):
    out = data / "both.json"
    manifest = write_split_manifest([data / "train.h5", data / "val.h5"], (8, 12), out)
    assert manifest["files"] == [
        {"path": "train.h5", "start": 8, "stop": N_TRAIN, "events_in_file": N_TRAIN},
        {"path": "val.h5", "start": 0, "stop": 2, "events_in_file": N_VAL}]
    assert manifest["n_events"] == 4
    train = read_events(data / "train.h5", None, indices=[8, 9])
    val = read_events(data / "val.h5", None, indices=[0, 1])
    read = read_events(out, None)
    assert [e.index for e in read] == [0, 1, 2, 3]
    for event, expected in zip(read, train + val, strict=True):
        _same(event, expected, shift=expected.index - event.index)
    # indices are split-local, in the order asked; streaming and single reads agree
    picked = read_events(out, None, indices=[3, 0])
    assert [e.index for e in picked] == [3, 0]
    _same(picked[0], read[3])
    with EventSource(out) as source:
        assert source.locate(2) == (str(data / "val.h5"), 0)
        assert [source.read(i).index for i in range(4)] == [0, 1, 2, 3]
    # all events of both files; a file giving no event is left out
    everything = write_split_manifest([data / "train.h5", data / "val.h5"], None, out)
    assert everything["n_events"] == N_TRAIN + N_VAL
    assert len(read_events(out, preprocessing)) == (
        len(read_events(data / "train.h5", preprocessing))
        + len(read_events(data / "val.h5", preprocessing)))
    only = write_split_manifest([data / "train.h5", data / "val.h5"], (2, 5), out)
    assert [f["path"] for f in only["files"]] == ["train.h5"]


def test_relative_paths_resolve_from_the_manifest_folder(data, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns("*.json"))
    inside = write_split_manifest([copy / "train.h5"], (1, 4), copy / "splits" / "a.json")
    assert inside["files"][0]["path"] == str(copy / "train.h5")  # not inside: absolute
    # inside the manifest's folder: relative, and the folder can move
    write_split_manifest([copy / "train.h5"], (1, 4), copy / "a.json")
    assert json.loads((copy / "a.json").read_text())["files"][0]["path"] == "train.h5"
    moved = tmp_path / "moved"
    copy.rename(moved)
    monkeypatch.chdir(tmp_path)
    direct = read_events(moved / "train.h5", None, indices=[1, 2, 3])
    for a, b in zip(read_events(moved / "a.json", None), direct, strict=True):
        _same(a, b, shift=1)
    # outside it: absolute
    outside = write_split_manifest([moved / "train.h5"], (0, 2), tmp_path / "o" / "b.json")
    assert outside["files"][0]["path"] == str(moved / "train.h5")
    # a hand-written relative path is read from the manifest's folder, not the cwd
    (moved / "sub").mkdir()
    hand = moved / "sub" / "c.json"
    hand.write_text(json.dumps({"format": MANIFEST_FORMAT, "n_events": 2, "files": [
        {"path": "../val.h5", "start": 2, "stop": 4, "events_in_file": N_VAL}]}))
    assert read_split_manifest(hand)[0].path == str(moved / "sub" / ".." / "val.h5")
    for a, b in zip(read_events(hand, None),
                    read_events(moved / "val.h5", None, indices=[2, 3]), strict=True):
        _same(a, b, shift=2)


def _error(call, *args) -> str:
    with pytest.raises(DataError) as err:
        call(*args)
    return str(err.value)


def test_manifest_errors_name_the_file(data, tmp_path):
    train = data / "train.h5"
    out = tmp_path / "split.json"
    missing = tmp_path / "absent.h5"
    assert str(missing) in _error(write_split_manifest, [train, missing], None, out)
    text = tmp_path / "notes.h5"
    text.write_text("not an HDF5 file\n")
    assert str(text) in _error(write_split_manifest, [text], None, out)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(train.read_bytes()[: train.stat().st_size // 2])
    assert str(truncated) in _error(write_split_manifest, [truncated], None, out)
    layout = tmp_path / "layout.h5"
    with h5py.File(layout, "w") as f:
        f.create_dataset("point", (1,), dtype=h5py.vlen_dtype(np.float32))
    message = _error(write_split_manifest, [train, layout], None, out)
    assert str(layout) in message and "'cluster'" in message
    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as f:
        f.create_dataset("point", (2, 8), dtype=np.float32)
        f.create_dataset("cluster", (2, 5), dtype=np.int64)
    assert str(flat) in _error(write_split_manifest, [flat], None, out)
    message = _error(write_split_manifest, [train], (5, N_TRAIN + 1), out)
    assert str(train) in message and f"{N_TRAIN} events" in message
    message = _error(write_split_manifest, [train, data / "val.h5"], (0, 99), out)
    assert str(data / "val.h5") in message and f"{N_TRAIN + N_VAL} events" in message
    for bad in ((3, 3), (4, 2), (-1, 2)):
        assert str(train) in _error(write_split_manifest, [train], bad, out)
    assert str(train) in _error(write_split_manifest, [train, train], None, out)
    assert not out.exists()
    with pytest.raises(ValueError, match=r"\.json"):
        write_split_manifest([train], None, tmp_path / "split.txt")

    # reading a manifest: its own problems name it, a file's problems name the file
    write_split_manifest([train], (0, 4), out)
    for content in ("{not json", json.dumps({"format": "other"}),
                    json.dumps({"format": MANIFEST_FORMAT, "files": [], "n_events": 0}),
                    json.dumps({"format": MANIFEST_FORMAT, "n_events": 3, "files": [
                        {"path": str(train), "start": 0, "stop": 4,
                         "events_in_file": N_TRAIN}]}),
                    json.dumps({"format": MANIFEST_FORMAT, "n_events": 4, "files": [
                        {"path": str(train), "start": 3, "stop": 5,
                         "events_in_file": 4}]}),
                    json.dumps({"format": MANIFEST_FORMAT, "n_events": 4, "files": [
                        {"path": str(train), "start": 0, "stop": 2, "events_in_file": 10},
                        {"path": str(train), "start": 1, "stop": 3,
                         "events_in_file": 10}]})):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        assert str(bad) in _error(EventSource, bad)
    gone = tmp_path / "gone.json"
    gone.write_text(json.dumps({"format": MANIFEST_FORMAT, "n_events": 1, "files": [
        {"path": "absent.h5", "start": 0, "stop": 1, "events_in_file": 1}]}))
    assert str(missing) in _error(EventSource, gone)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({"format": MANIFEST_FORMAT, "n_events": 1, "files": [
        {"path": str(train), "start": 0, "stop": 1, "events_in_file": N_TRAIN + 1}]}))
    with EventSource(changed) as source:
        message = _error(source.read, 0)
    assert str(train) in message and "changed" in message
    assert str(out) in _error(read_events, out, None, [4])
    assert str(tmp_path / "nothing.json") in _error(count_events, tmp_path / "nothing.json")


def test_usable_matches_get(data, preprocessing, tmp_path):
    out = tmp_path / "both.json"
    write_split_manifest([data / "train.h5", data / "val.h5"], (3, 13), out)
    for prep in (preprocessing, {"min_points": 10**9}, {"min_points": 0}):
        with EventStore(out, prep, TOKENIZER) as store:
            usable = store.usable()
            assert not store._cache  # streamed, nothing kept
            kept = [i for i in range(store.n_events) if store.get(i) is not None]
            assert usable == kept
            assert usable == [e.index for e in read_events(out, prep)]
    assert 0 < len(EventStore(out, preprocessing, TOKENIZER).usable()) < 10


def test_cache_is_bounded(data, preprocessing):
    store = EventStore(data / "train.h5", {"min_points": 0}, TOKENIZER, cache_events=3)
    order = np.random.default_rng(0).integers(0, N_TRAIN, size=40).tolist()
    first = {}
    for i in order:
        event, grouping = store.get(i)
        assert len(store._cache) <= 3
        assert list(store._cache)[-1] == i  # the last one asked is the most recent
        if i in first:  # recomputed after eviction or cached: the same
            _same(event, first[i][0])
            assert torch.equal(grouping.members, first[i][1].members)
        first.setdefault(i, (event, grouping))
    batch = store.batch(list(range(N_TRAIN)))  # a batch larger than the cache
    assert batch is not None and len(store._cache) == 3
    off = EventStore(data / "train.h5", preprocessing, TOKENIZER, cache_events=0)
    off.get(0)
    assert not off._cache
    with pytest.raises(ValueError, match="cache_events"):
        EventStore(data / "train.h5", preprocessing, TOKENIZER, cache_events=-1)
    store.close()


def test_handles_stay_open_and_close(data, tmp_path):
    out = tmp_path / "both.json"
    write_split_manifest([data / "train.h5", data / "val.h5"], (8, 12), out)
    with EventSource(out) as source:
        assert not source._files  # opened on first use
        source.read(0)
        source.read(1)
        assert len(source._files) == 1
        handle = source._files[0].handle
        source.read(0)
        assert source._files[0].handle is handle  # kept open, not reopened
        source.read(3)
        handles = [f.handle for f in source._files.values()]
        assert len(handles) == 2 and all(h.id.valid for h in handles)
    assert not source._files and not any(h.id.valid for h in handles)
    assert source.read(2).index == 2  # a read after close opens the file again
    source.close()
    store = EventStore(data / "train.h5", {"min_points": 0}, TOKENIZER)
    handle = store.source._files[0].handle
    store.get(0)
    assert handle.id.valid
    store.close()
    assert not handle.id.valid
    with h5py.File(data / "train.h5", "r+"):  # nothing holds the file any more
        pass
