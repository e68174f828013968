"""The embedded LArTPC simulator and the PILArNet-M reader (both layouts, preprocessing,
checks, branching points)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from symlearn.data.extxyz import DataError
from symlearn.polarmae.lartpc import (
    CLASS_NAMES,
    VOLUME_SIZE,
    RawEvent,
    count_events,
    log_energy,
    make_lartpc,
    normalize_coordinates,
    preprocessing_defaults,
    read_events,
    simulate_event,
    write_pilarnet,
)

MUON, PROTON, ELECTRON = 13, 2212, 11
#: every step off but the given ones: hand-built files are read step by step
NOTHING = {"energy_threshold": None, "drop_low_energy": False, "min_points": 0,
           "log_energy": None, "normalize": False}


@pytest.fixture(scope="module")
def events():
    return [simulate_event(0, i) for i in range(20)]


@pytest.fixture(scope="module")
def v2_file(events, tmp_path_factory):
    path = tmp_path_factory.mktemp("lartpc") / "sim.h5"
    write_pilarnet(path, events, layout="v2")
    return path


def _semantic(event: RawEvent) -> np.ndarray:
    return np.repeat(event.cluster[:, 4], event.cluster[:, 0])


def _rows(event: RawEvent) -> np.ndarray:
    return np.repeat(np.arange(len(event.cluster)), event.cluster[:, 0])


# ----------------------------------------------------------------------------- determinism


def test_simulate_event_is_deterministic():
    a, b = simulate_event(7, 3), simulate_event(7, 3)
    for name in ("point", "cluster", "cluster_extra"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    other_seed, other_index = simulate_event(8, 3), simulate_event(7, 4)
    assert a.point.shape != other_seed.point.shape or not np.array_equal(a.point,
                                                                         other_seed.point)
    assert a.point.shape != other_index.point.shape or not np.array_equal(a.point,
                                                                          other_index.point)


def _contents(path):
    with h5py.File(path, "r") as f:
        return {name: [np.asarray(x) for x in f[name][:]] for name in f}


def test_make_lartpc_is_reproducible_and_splits_differ(tmp_path):
    counts = {"train": 3, "val": 2, "test": 2}
    summary = make_lartpc(tmp_path / "a", seed=1, n_events=counts)
    make_lartpc(tmp_path / "b", seed=1, n_events=counts)
    for split, n in counts.items():
        path = tmp_path / "a" / f"{split}.h5"
        a, b = _contents(path), _contents(tmp_path / "b" / f"{split}.h5")
        assert sorted(a) == ["cluster", "cluster_extra", "point"]
        for name in a:
            assert len(a[name]) == n
            for x, y in zip(a[name], b[name], strict=True):
                assert x.tobytes() == y.tobytes()
        assert summary["splits"][split]["events"] == n == count_events(path)
    json.dumps(summary)
    assert set(summary["splits"]["train"]["class_points"]) == set(CLASS_NAMES)
    assert not list(tmp_path.glob("*/.*part*"))  # atomic writes leave no temporary file
    train = _contents(tmp_path / "a" / "train.h5")["point"]
    val = _contents(tmp_path / "a" / "val.h5")["point"]
    assert all(t.shape != v.shape or not np.array_equal(t, v) for t in train for v in val)
    # the events do not depend on how many are asked for
    make_lartpc(tmp_path / "c", seed=1, n_events={"train": 1})
    first = _contents(tmp_path / "c" / "train.h5")["point"][0]
    assert first.tobytes() == train[0].tobytes()


def test_make_lartpc_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="bogus"):
        make_lartpc(tmp_path, seed=0, n_events={"bogus": 1})


# ----------------------------------------------------------------------------- labels


def test_every_class_appears(events):
    seen = set(np.concatenate([_semantic(e) for e in events]).tolist())
    assert seen == set(range(len(CLASS_NAMES)))


def test_labels_are_sane(events):
    for event in events:
        point, cluster = event.point, event.cluster
        assert point.dtype == np.float32 and point.shape[1] == 8
        assert cluster.dtype == np.int64 and cluster.shape[1] == 6
        assert event.cluster_extra.shape == (len(cluster), 5)
        assert cluster[:, 0].sum() == len(point)
        xyz = point[:, :3]
        assert (xyz >= 0).all() and (xyz < VOLUME_SIZE).all()
        assert np.array_equal(xyz, np.floor(xyz))
        assert (point[:, 3] > 0).all() and (point[:, 4] > 0).all()
        # the first row is the low-energy deposits, outside any interaction
        assert cluster[0].tolist()[1:] == [-1, -1, -1, 4, -1]
        assert (cluster[1:, 4] != 4).all() and (cluster[1:, 3] == 0).all()
        assert cluster[1:, 1].tolist() == list(range(len(cluster) - 1))
        le = _semantic(event) == 4
        assert (point[le, 3] < 0.4).all() and 10 <= le.sum() <= 40
        muon = cluster[1]
        assert muon[4] == 1 and muon[5] == MUON
        for row in cluster[2:]:
            if row[4] in (2, 3):  # Michel and delta rays are in the muon's group
                assert row[2] == muon[1] and row[5] == ELECTRON
            else:  # protons and showers are primaries
                assert row[2] == row[1]
                assert row[5] == (PROTON if row[4] == 1 else ELECTRON)


def _components(xyz: np.ndarray, link: float) -> int:
    pairs = cKDTree(xyz).query_pairs(link, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(len(xyz), len(xyz)))
    return connected_components(graph, directed=False)[0]


def test_track_like_clusters_are_connected(events):
    checked = 0
    for event in events:
        rows = _rows(event)
        for c, row in enumerate(event.cluster):
            if row[4] in (1, 2, 3):  # muon, proton, Michel, delta ray
                xyz = event.point[rows == c, :3].astype(float)
                assert _components(xyz, 2.0) == 1, (c, row)
                checked += 1
    assert checked > 60


def test_stopping_muons_have_a_bragg_rise(events):
    rises = []
    for event in events:
        if 2 not in event.cluster[:, 4]:  # a Michel marks a muon that stopped inside
            continue
        muon = event.point[_rows(event) == 1]
        rises.append(muon[-8:, 4].mean() / np.median(muon[:, 4]))
    assert len(rises) >= 6 and np.median(rises) > 1.5


def test_delta_rays_and_michels_touch_their_muon(events, v2_file):
    read = read_events(v2_file, None)
    assert [e.index for e in read] == list(range(len(events)))
    touching = 0
    for raw, event in zip(events, read, strict=True):
        muon = cKDTree(raw.point[_rows(raw) == 1, :3])
        for c, row in enumerate(raw.cluster):
            if row[4] in (2, 3):
                mine = event.cluster == c
                assert muon.query(raw.point[_rows(raw) == c, :3])[0].min() <= 2.0
                assert event.branching[mine].any(), (c, row)
                touching += 1
        # isolated low-energy deposits are never branching points
        assert not event.branching[event.semantic == 4].any()
    assert touching > 20


def test_typical_events_are_large(events):
    sizes = [int(((e.point[:, 3] > 0.13) & (_semantic(e) != 4)).sum()) for e in events]
    assert np.median(sizes) > 700
    assert np.mean(np.array(sizes) > 500) >= 0.75


def test_class_shares_come_near_pilarnet_m():
    """Each class's share of the points (after the default preprocessing), over 150
    simulated events, is within a factor 1.5 of its share in PILArNet-M (the reference's
    counts, symlearn.polarmae.train.REFERENCE_CLASS_COUNTS)."""
    from symlearn.polarmae.preprocessing import preprocess_event, resolve_preprocessing
    from symlearn.polarmae.train import REFERENCE_CLASS_COUNTS

    prep = resolve_preprocessing({"min_points": 0})
    counts = np.zeros(4)
    for i in range(150):
        raw = simulate_event(0, i)
        event = preprocess_event(i, raw.point, raw.cluster, prep)
        counts += np.bincount(event.semantic, minlength=4)[:4]
    shares = counts / counts.sum()
    reference = np.asarray(REFERENCE_CLASS_COUNTS) / np.sum(REFERENCE_CLASS_COUNTS)
    ratio = shares / reference
    assert ((ratio > 1 / 1.5) & (ratio < 1.5)).all(), dict(zip(CLASS_NAMES[:4], ratio, strict=True))


# ----------------------------------------------------------------------------- reader


def _same(a, b):
    assert a.index == b.index
    for name in ("points", "energy", "raw_energy", "semantic", "cluster", "interaction",
                 "branching"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("preprocessing", [None, {"min_points": 0}, {}])
def test_layouts_read_identically(events, v2_file, tmp_path, preprocessing):
    reads = {"v2": read_events(v2_file, preprocessing)}
    for layout in ("v1", "v3"):
        write_pilarnet(tmp_path / f"{layout}.h5", events, layout=layout)
        reads[layout] = read_events(tmp_path / f"{layout}.h5", preprocessing)
    with h5py.File(tmp_path / "v1.h5", "r") as f:
        assert "cluster_extra" not in f and f["cluster"][0].size == 5 * len(events[0].cluster)
    for layout in ("v1", "v3"):
        assert len(reads[layout]) == len(reads["v2"]) > 0
        for a, b in zip(reads["v2"], reads[layout], strict=True):
            _same(a, b)


def test_default_preprocessing_on_simulated_events(events, v2_file):
    read = read_events(v2_file, {})
    kept = [e.index for e in read]
    expected = [i for i, e in enumerate(events)
                if ((e.point[:, 3] > 0.13) & (_semantic(e) != 4)).sum() >= 1024]
    assert kept == expected
    for event in read:
        assert event.n_points >= 1024
        assert set(np.unique(event.semantic)) <= {0, 1, 2, 3}
        assert (event.raw_energy > 0.13).all()
        assert (np.linalg.norm(event.points, axis=1) <= 1.0).all()
        assert (event.energy > -1).all() and event.energy.dtype == np.float64
    # indices read a subset, in the order asked
    assert [e.index for e in read_events(v2_file, None, indices=[5, 2])] == [5, 2]


def _write_hand_built(path, layout, events):
    """events: list of (points (N, 8), cluster rows (C, 6)); written with h5py directly."""
    with h5py.File(path, "w") as f:
        n = len(events)
        point = f.create_dataset("point", (n,), dtype=h5py.vlen_dtype(np.float32))
        cluster = f.create_dataset("cluster", (n,), dtype=h5py.vlen_dtype(np.int64))
        if layout != "v1":
            extra = f.create_dataset("cluster_extra", (n,), dtype=h5py.vlen_dtype(np.float32))
        for i, (p, c) in enumerate(events):
            c = np.asarray(c, dtype=np.int64)
            point[i] = np.asarray(p, dtype=np.float32).ravel()
            cluster[i] = (c[:, :5] if layout == "v1" else c).ravel()
            if layout != "v1":
                extra[i] = np.zeros(5 * len(c), dtype=np.float32)


def _pt(x, y, z, value):
    return [x, y, z, value, value, 0.0, value / 23.6e-6 * 0.7, 0.5]


def _tiny_events():
    # low-energy row (2 points), a track (3 points), a shower (1 point) / a track (5 points)
    first = ([_pt(10, 11, 12, 0.05), _pt(13, 14, 15, 0.2),
              _pt(100, 100, 100, 0.1), _pt(101, 100, 100, 0.5), _pt(102, 100, 100, 20.0),
              _pt(384, 384, 384, 1.0)],
             [[2, -1, -1, -1, 4, -1], [3, 0, 0, 0, 1, 13], [1, 1, 1, 0, 0, 11]])
    second = ([_pt(200 + k, 300, 400, 0.01 + k) for k in range(5)],
              [[0, -1, -1, -1, 4, -1], [5, 0, 0, 2, 1, 2212]])
    return [first, second]


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_hand_built_file(tmp_path, layout):
    path = tmp_path / f"tiny_{layout}.h5"
    _write_hand_built(path, layout, _tiny_events())
    assert count_events(path) == 2

    first, second = read_events(path, None)
    assert first.index == 0 and second.index == 1 and first.n_points == 6
    np.testing.assert_array_equal(first.points[1], [13, 14, 15])
    np.testing.assert_allclose(first.raw_energy, [0.05, 0.2, 0.1, 0.5, 20.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(first.energy, first.raw_energy)
    np.testing.assert_array_equal(first.semantic, [4, 4, 1, 1, 1, 0])
    np.testing.assert_array_equal(first.cluster, [0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(first.interaction, [-1, -1, 0, 0, 0, 0])
    np.testing.assert_array_equal(second.interaction, [2] * 5)

    # threshold (> 0.13) then the class-4 drop
    first, second = read_events(path, {**NOTHING, "energy_threshold": 0.13})
    np.testing.assert_array_equal(first.semantic, [4, 1, 1, 0])
    first, second = read_events(path, {**NOTHING, "energy_threshold": 0.13,
                                       "drop_low_energy": True})
    np.testing.assert_array_equal(first.semantic, [1, 1, 0])
    np.testing.assert_array_equal(first.cluster, [1, 1, 2])
    assert second.n_points == 4  # 0.01 MeV is below the threshold

    # min_points skips events, Event.index keeps the file index
    (only,) = read_events(path, {**NOTHING, "energy_threshold": 0.13,
                                 "drop_low_energy": True, "min_points": 4})
    assert only.index == 1

    # log energy and normalisation
    (first,) = read_events(path, {"min_points": 0}, indices=[0])
    np.testing.assert_allclose(first.energy[1:], [1.0, log_energy(1.0)], rtol=1e-6)
    np.testing.assert_allclose(first.raw_energy, [0.5, 20.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(first.points[2], [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(first.points[0], normalize_coordinates([101, 100, 100]))


def test_log_energy_and_normalisation():
    assert log_energy(0.0) == pytest.approx(-1.0)
    assert log_energy(20.0) == pytest.approx(1.0)
    assert log_energy(0.0, emin=0.01, emax=20.0) == pytest.approx(-1.0)
    assert np.all(np.diff(log_energy(np.linspace(0, 20, 50))) > 0)
    np.testing.assert_allclose(normalize_coordinates([384, 384, 384]), 0.0, atol=1e-12)
    corners = normalize_coordinates(np.array([[0, 0, 0], [768, 768, 768]]))
    np.testing.assert_allclose(np.linalg.norm(corners, axis=1), 1.0)
    assert preprocessing_defaults() == {
        "energy_threshold": 0.13, "log_energy": {"emin": 0.13, "emax": 20.0},
        "drop_low_energy": True, "min_points": 1024, "normalize": True}
    # the reference's transform (datasets/PILArNet.py, log_transform with eps = the
    # threshold 0.13): 2 (log10(x + eps) - log10 eps) / (log10(eps + 20) - log10 eps) - 1
    x = 1.0
    expected = 2 * (np.log10(x + 0.13) - np.log10(0.13)) / (np.log10(20.13) - np.log10(0.13)) - 1
    assert log_energy(x) == pytest.approx(expected, rel=1e-14)


def test_unknown_preprocessing_key_is_rejected(tmp_path):
    path = tmp_path / "tiny.h5"
    _write_hand_built(path, "v2", _tiny_events())
    with pytest.raises(ValueError, match="energy_treshold"):
        read_events(path, {"energy_treshold": 0.2})
    with pytest.raises(ValueError, match="emn"):
        read_events(path, {"log_energy": {"emn": 0.1}})


# ----------------------------------------------------------------------------- bad files


def test_missing_cluster_dataset(tmp_path):
    path = tmp_path / "nocluster.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("point", (1,), dtype=h5py.vlen_dtype(np.float32))
        ds[0] = np.zeros(8, dtype=np.float32)
    with pytest.raises(DataError, match="'cluster'") as err:
        read_events(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_cluster_sizes_must_sum_to_the_points(tmp_path, layout):
    path = tmp_path / "sizes.h5"
    good, bad = _tiny_events()
    bad[1][1][0] = 4  # five points, but sizes sum to 4
    _write_hand_built(path, layout, [good, bad])
    with pytest.raises(DataError, match="event 1.*sum to 4.*5 points") as err:
        read_events(path, {})
    assert str(path) in str(err.value)
    read_events(path, None, indices=[0])  # the good event alone reads


def test_flattened_arrays_must_divide_by_their_width(tmp_path):
    path = tmp_path / "width.h5"
    _write_hand_built(path, "v2", _tiny_events())
    with h5py.File(path, "a") as f:
        f["point"][1] = np.zeros(7, dtype=np.float32)
    with pytest.raises(DataError, match=r"event 1: 'point' holds 7 values"):
        read_events(path)
    _write_hand_built(path, "v2", _tiny_events())
    with h5py.File(path, "a") as f:
        f["cluster"][0] = np.zeros(5, dtype=np.int64)  # a v1 row in a v2 file
    with pytest.raises(DataError, match=r"event 0: 'cluster' holds 5 values.*of 6"):
        read_events(path)


def test_not_hdf5_truncated_or_missing_file(tmp_path, v2_file):
    text = tmp_path / "notes.h5"
    text.write_text("not an HDF5 file\n")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(v2_file.read_bytes()[: v2_file.stat().st_size // 2])
    for path in (text, truncated, tmp_path / "absent.h5"):
        for call in (read_events, count_events):
            with pytest.raises(DataError) as err:
                call(path)
            assert str(path) in str(err.value)


# ----------------------------------------------------------------------------- branching


def test_branching_points_on_a_hand_built_event(tmp_path):
    a = [(100 + k, 100, 100) for k in range(11)]         # interaction 0, x = 100..110
    b = [(110, 100 + k, 100) for k in range(1, 11)]      # interaction 0, up from a's end
    c = [(100 - k, 100, 100) for k in range(1, 4)]       # low energy (-1), touching a
    d = [(105, 100, 102), (105, 100, 103)]               # interaction 1, touching a
    points = [_pt(*p, 1.0) for p in c + a + b + d]
    rows = [[len(c), -1, -1, -1, 4, -1], [len(a), 0, 0, 0, 1, 13],
            [len(b), 1, 1, 0, 1, 2212], [len(d), 0, 0, 1, 1, 13]]
    path = tmp_path / "branch.h5"
    _write_hand_built(path, "v2", [(points, rows)])
    # normalised coordinates: the radius is still in voxels
    (event,) = read_events(path, {**NOTHING, "normalize": True}, branching_radius=3.0)
    flagged = {tuple(p) for p in event.points[event.branching]}
    # a at x = 108..110 is within 3 voxels of b's (110, 101, 100); b within 3 of a's end
    expected = {tuple(normalize_coordinates(p)) for p in a[8:] + b[:3]}
    assert flagged == expected
    # a larger radius reaches further; -1 and other interactions never count
    (wide,) = read_events(path, NOTHING, branching_radius=5.0)
    assert not wide.branching[wide.cluster == 0].any()
    assert not wide.branching[wide.cluster == 3].any()
    assert not wide.branching[(wide.cluster == 1) & (wide.points[:, 0] < 105)].any()
