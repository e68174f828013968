"""PoLAr-MAE: grouping geometry, tokenizer, forward shapes, losses, augmentation,
training with resume, and the checkpoint analysis on tiny simulated events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from symlearn.pet.train import CheckpointError
from symlearn.polarmae import train as training
from symlearn.polarmae.analyse import (
    OUTPUT,
    PolarMAEAdapter,
    analyse_polarmae_checkpoint,
    example_event,
    instability_table,
    point_rows,
)
from symlearn.polarmae.grouping import collate, farthest_points, group_event
from symlearn.polarmae.lartpc import make_lartpc, read_events
from symlearn.polarmae.model import PolarMAE, chamfer_distance, focal_loss
from symlearn.symmetry import GridContext, o3_quadrature

PREPROCESSING = {"energy_threshold": 0.13, "log_energy": {"emin": 0.01, "emax": 20.0},
                 "drop_low_energy": True, "min_points": 200, "normalize": True}
TOKENIZER = {"centres": "fps", "n_init": 64, "n_tokens": 24, "group_size": 8,
             "radius": 5.0, "overlap_factor": 0.72, "members": "fps", "upscale_points": 64,
             "upsample_neighbours": 5}
GROUPING = training.grouping_settings(TOKENIZER, PREPROCESSING)
MODEL = {"width": 16, "depth": 2, "heads": 2, "mlp_ratio": 2, "pointnet": [8, 16, 32],
         "position_hidden": 16, "seg_head_dim": 16}


def _settings(augmentation: str = "o3", steps: int = 4) -> dict:
    phase = {"steps": steps, "checkpoint_every": 2, "batch_size": 2, "learning_rate": 3e-3,
             "weight_decay": 0.01, "warmup_steps": 1, "warmup_start_lr": 1e-4,
             "min_learning_rate": 1e-5, "schedule_steps": None, "gradient_clip": 3.0}
    return {"augmentation": augmentation,
            "model": dict(MODEL, decoder_depth=1, segmentation_blocks=None),
            "tokenizer": dict(TOKENIZER), "seed": 0, "preprocessing": dict(PREPROCESSING),
            "pretrain": {**phase, "mask_ratio": 0.6, "energy_weight": 1.0,
                         "energy_loss": "mse", "huber_delta": 0.2},
            "finetune": {**phase, "focal_gamma": 2.0, "class_weights": "reference"}}


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lartpc")
    make_lartpc(folder, seed=3, n_events={"train": 6, "val": 2, "test": 2})
    return {split: str(folder / f"{split}.h5") for split in ("train", "val", "test")}


@pytest.fixture(scope="module")
def event(events):
    return read_events(events["test"], PREPROCESSING)[0]


def _model(**kwargs) -> PolarMAE:
    torch.manual_seed(0)
    options = {**MODEL, "decoder_depth": 1, "segmentation_blocks": None, **kwargs}
    return PolarMAE(**options, group_size=GROUPING["group_size"],
                    group_radius=GROUPING["radius"]).double().eval()


def _batch(event, points=None):
    points = torch.as_tensor(event.points if points is None else points)
    grouping = group_event(points, **GROUPING)
    return collate([points], [torch.as_tensor(event.energy)], [grouping],
                   [torch.as_tensor(event.semantic)])


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("centres", ["fps", "cnms"])
def test_grouping_does_not_depend_on_orientation(event, centres):
    points = torch.as_tensor(event.points)
    settings = {**GROUPING, "centres": centres}
    reference = group_event(points, **settings)
    for seed in range(3):
        g = torch.as_tensor(_rotation(seed) * (-1) ** seed)
        other = group_event(points @ g.T, **settings)
        for name in ("centres", "members", "member_mask", "neighbours"):
            assert torch.equal(getattr(other, name), getattr(reference, name)), name
        assert torch.allclose(other.weights, reference.weights, atol=1e-12)


def test_groups_hold_ball_points_and_cnms_spreads_centres(event):
    points = torch.as_tensor(event.points)
    radius = GROUPING["radius"]
    grouping = group_event(points, **GROUPING)
    assert grouping.n_tokens == TOKENIZER["n_tokens"]
    assert len(set(grouping.centres.tolist())) == grouping.n_tokens
    centres = points[grouping.centres]
    distance = (points[grouping.members] - centres[:, None]).norm(dim=-1)
    assert bool((distance <= radius + 1e-12).all())  # padding repeats the first member
    assert bool(grouping.member_mask[:, 0].all())
    padded = ~grouping.member_mask
    first = grouping.members[:, :1].expand_as(grouping.members)
    assert torch.equal(grouping.members[padded], first[padded])
    # the upsampling: 5 centres per point, weights 1/(d^2 + eps) that sum to 1
    assert grouping.neighbours.shape == grouping.weights.shape == (event.n_points, 5)
    assert torch.allclose(grouping.weights.sum(-1), torch.ones(event.n_points,
                                                               dtype=torch.float64))
    d2 = (points[:, None] - centres[grouping.neighbours]).square().sum(-1)
    expected = 1 / (d2 + np.finfo(np.float32).eps)
    assert torch.allclose(grouping.weights, expected / expected.sum(-1, keepdim=True))
    nearest5 = torch.cdist(points, centres, compute_mode="donot_use_mm_for_euclid_dist")
    assert torch.allclose(d2.sqrt().sort(-1).values,
                          nearest5.topk(5, largest=False).values, atol=1e-12)
    # C-NMS with K large enough to see every neighbour: no two kept centres are closer
    # than the suppression radius 2 r f, and every point lies within it of a kept one
    central = group_event(points, **{**GROUPING, "centres": "cnms", "n_init": 10_000,
                                     "n_tokens": 10_000})
    kept = points[central.centres]
    gaps = torch.cdist(kept, kept) + torch.eye(len(kept), dtype=torch.float64) * 1e9
    suppression = 2 * radius * TOKENIZER["overlap_factor"]
    assert float(gaps.min()) > suppression * (1 - 1e-9)
    assert float(torch.cdist(points, kept).amin(-1).max()) <= suppression * (1 + 1e-9)


def test_cnms_follows_the_reference_kernel():
    """Five points on a line, 1 apart, suppression radius 2 r f = 1.44, worked by hand
    through the reference kernel (extensions/cnms: ball query, sort by count, greedy
    removal of every ball member, even one kept before)."""
    from symlearn.polarmae.grouping import cnms_centres

    points = torch.tensor([[float(x), 0.0, 0.0] for x in range(5)], dtype=torch.float64)
    # balls {0,1} {0,1,2} {1,2,3} {2,3,4} {3,4}: counts 2 3 3 3 2, visited 1 2 3 0 4;
    # 1 removes 0 and 2, 2 is skipped, 3 removes 2 and 4, 0 and 4 are skipped
    assert cnms_centres(points, 1.0, 0.72, 16, 16).tolist() == [1, 3]
    assert cnms_centres(points, 1.0, 0.72, 16, 1).tolist() == [1]
    # K = 2 cuts each ball to its first two points by index: {0,1} {0,1} {1,2} {2,3}
    # {3,4}, all counts 2, visited in index order: 0 removes 1; 2 removes 1; 3, still
    # kept, removes 2 (already kept: the kernel removes it all the same); 4 removes 3
    assert cnms_centres(points, 1.0, 0.72, 2, 16).tolist() == [0, 4]


def test_farthest_point_sampling_spreads_points():
    corners = [(x, y, z) for x in (0.0, 3.0) for y in (0.0, 3.0) for z in (0.0, 3.0)]
    inner = (1.5 + 0.2 * np.random.default_rng(0).normal(size=(20, 3))).tolist()
    points = torch.tensor(inner + corners, dtype=torch.float64)
    chosen = farthest_points(points, 8)
    assert set(map(tuple, points[chosen].tolist())) == set(corners)


def test_tokenizer_is_invariant_to_point_order(event):
    """The same groups given with their points in any order (in the event and within
    each group) give the same tokens and the same per-point predictions."""
    model = _model()
    batch = _batch(event)
    rng = np.random.default_rng(0)
    permutation = torch.as_tensor(rng.permutation(event.n_points))
    inverse = torch.argsort(permutation)
    within = torch.stack([torch.as_tensor(rng.permutation(batch.members.shape[-1]))
                          for _ in range(batch.members.shape[1])])
    shuffled = type(batch)(**{
        **vars(batch),
        "points": batch.points[:, permutation], "energy": batch.energy[:, permutation],
        "point_mask": batch.point_mask[:, permutation],
        "centres": inverse[batch.centres],
        "members": inverse[batch.members.gather(2, within[None])],
        "member_mask": batch.member_mask.gather(2, within[None]),
        "neighbours": batch.neighbours[:, permutation],
        "weights": batch.weights[:, permutation], "labels": batch.labels[:, permutation]})
    with torch.no_grad():
        tokens = model.features(batch, ["tokenizer", "blocks.1"])
        again = model.features(shuffled, ["tokenizer", "blocks.1"])
        logits, _ = model.segment(batch)
        logits_shuffled, _ = model.segment(shuffled)
    for name in tokens:
        assert torch.allclose(tokens[name], again[name], atol=1e-12), name
    assert torch.allclose(logits[0, permutation], logits_shuffled[0], atol=1e-12)


def test_forward_shapes_and_padding(events):
    model = _model()
    batch_events = read_events(events["train"], PREPROCESSING)[:3]
    batches = [_batch(e) for e in batch_events]
    together = collate([torch.as_tensor(e.points) for e in batch_events],
                       [torch.as_tensor(e.energy) for e in batch_events],
                       [group_event(torch.as_tensor(e.points), **GROUPING)
                        for e in batch_events],
                       [torch.as_tensor(e.semantic) for e in batch_events])
    n_max = max(e.n_points for e in batch_events)
    with torch.no_grad():
        logits, features = model.segment(together, model.feature_names())
        assert logits.shape == (3, n_max, 4)
        assert set(features) == {"tokenizer", "blocks.0", "blocks.1"}
        for value in features.values():
            assert value.shape == (3, TOKENIZER["n_tokens"], 16)
        for i, alone in enumerate(batches):  # padding never leaks into an event
            single, _ = model.segment(alone)
            n = batch_events[i].n_points
            assert torch.allclose(single[0], logits[i, :n], atol=1e-10)
        mask = model.random_mask(together, 0.6, torch.Generator().manual_seed(0))
        assert mask.sum(-1).tolist() == [round(0.6 * TOKENIZER["n_tokens"])] * 3
        losses = model.pretrain_loss(together, mask)
    assert all(math.isfinite(float(v)) and float(v) >= 0 for v in losses.values())
    with pytest.raises(ValueError, match="unknown PoLAr-MAE feature"):
        model.features(together, ["blocks.7"])
    with pytest.raises(ValueError, match="segmentation blocks"):
        _model(segmentation_blocks=[5])


def _visible_only(batch, keep):
    """A one-event batch with only the tokens ``keep`` (G,) bool."""
    index = torch.nonzero(keep).flatten()
    return type(batch)(**{**vars(batch), "centres": batch.centres[:, index],
                          "token_mask": batch.token_mask[:, index],
                          "members": batch.members[:, index],
                          "member_mask": batch.member_mask[:, index]})


def test_masked_tokens_are_hidden_exactly(event):
    """The encoder's outputs for the visible tokens are the same, in float64 to
    round-off, whether the masked tokens are hidden as keys (as pre-training runs) or
    dropped from the sequence altogether: hiding leaks nothing."""
    model = _model(depth=3)
    batch = _batch(event)
    mask = model.random_mask(batch, 0.6, torch.Generator().manual_seed(1))[0]
    assert 0 < int(mask.sum()) < batch.token_mask.sum()
    with torch.no_grad():
        _, hidden, _ = model.encode(batch, hidden=mask[None])
        _, dropped, _ = model.encode(_visible_only(batch, ~mask))
        _, unhidden, _ = model.encode(batch)
    for i, (a, b) in enumerate(zip(hidden, dropped, strict=True)):
        assert torch.allclose(a[0, ~mask], b[0], rtol=0, atol=1e-12), f"block {i}"
    # and the test can fail: without hiding, the visible tokens see the masked ones
    assert not torch.allclose(unhidden[-1][0, ~mask], dropped[-1][0], atol=1e-6)


def test_decoder_and_energy_infilling_shapes_and_gradients(event):
    """Pre-training reaches every part it trains: the decoder, the mask token, the
    point head and both pieces of the energy infilling (the masked group's
    mini-PointNet with its slot embedding, and the linear head)."""
    model = _model(decoder_depth=2).float().train()
    batch = _batch(event).to(dtype=torch.float32)
    mask = model.random_mask(batch, 0.6, torch.Generator().manual_seed(0))
    losses = model.pretrain_loss(batch, mask)
    assert set(losses) == {"loss", "chamfer", "energy"}
    losses["loss"].backward()
    for name in ("mask_token", "decoder.1.attn.in_proj_weight", "decoder_norm.weight",
                 "point_head.weight", "energy_encoder.first_in.weight",
                 "energy_encoder.slots.linear.weight", "energy_head.weight",
                 "blocks.0.mlp.0.weight", "tokenizer.second_out.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name
    # the heads' outputs: K points of 4 channels, and K energies, per masked group
    m = int(mask.sum())
    k = GROUPING["group_size"]
    assert model.point_head(torch.zeros(m, 16)).reshape(m, k, -1).shape == (m, k, 4)
    encoded = model.energy_encoder(torch.zeros(m, k, 3), torch.ones(m, k, dtype=torch.bool))
    assert model.energy_head(torch.cat([encoded, torch.zeros(m, 16)], -1)).shape == (m, k)
    # fine-tuning reaches the upsampling and the segmentation head
    model.zero_grad()
    logits, _ = model.segment(batch)
    focal_loss(logits, batch.labels).backward()
    for name in ("upsample_in.weight", "upsample_norm2.weight", "head_in.weight",
                 "head_out.weight", "blocks.1.norm1.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name


def test_chamfer_distance_follows_pytorch3d_lengths():
    """With x_lengths = y_lengths = n, only the first n predicted points count."""
    truth = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [9, 9, 9]]])
    mask = torch.tensor([[True, True, False]])
    far = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [50, 50, 50]]])
    assert float(chamfer_distance(far, truth, mask)) == 0.0


def test_chamfer_and_focal_loss():
    truth = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [9, 9, 9]]])
    mask = torch.tensor([[True, True, False]])
    assert float(chamfer_distance(truth[:, :2].clone(), truth, mask)) == 0.0
    predicted = torch.tensor([[[0.0, 0, 0], [0, 2, 0]]])
    # to truth: min(0, 1) and min(4, 5) -> mean 2; to prediction: 0 and 1 -> mean 0.5
    assert float(chamfer_distance(predicted, truth, mask)) == pytest.approx(2.5)
    logits = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 3, 0, 1, -1, 2, 3, 0])
    valid = labels >= 0
    ce = torch.nn.functional.cross_entropy(logits[valid], labels[valid])
    assert float(focal_loss(logits, labels, gamma=0.0)) == pytest.approx(float(ce))
    assert float(focal_loss(logits, labels, gamma=2.0)) < float(ce)


def _rotation_angles(g: np.ndarray) -> np.ndarray:
    """Rotation angle of each proper part: cos(theta) = (tr R - 1) / 2."""
    proper = g * np.linalg.det(g)[:, None, None]
    return np.arccos(np.clip((np.trace(proper, axis1=1, axis2=2) - 1) / 2, -1, 1))


def test_augmentations():
    from scipy.spatial.transform import Rotation
    from scipy.stats import kstest

    rng = np.random.default_rng(0)
    for scheme in ("o3", "euler", "none"):
        g = training.random_rotations(200, scheme, rng)
        assert np.allclose(g @ g.transpose(0, 2, 1), np.eye(3), atol=1e-12)
        dets = np.round(np.linalg.det(g)).astype(int)
        assert set(dets) == ({-1, 1} if scheme == "o3" else {1})
    assert np.array_equal(training.random_rotations(3, "none", rng), np.tile(np.eye(3), (3, 1, 1)))
    # o3 draws per event; euler one rotation for the whole batch (the reference's)
    assert len({m.tobytes() for m in training.random_rotations(8, "o3", rng)}) == 8
    assert len({m.tobytes() for m in training.random_rotations(8, "euler", rng)}) == 1
    # euler is pytorch3d's euler_angles_to_matrix(angles, "XYZ"): intrinsic X, Y, Z
    # (scipy's upper-case "XYZ"), angles uniform in [-pi, pi]
    draws = np.random.default_rng(7)
    angles = 2 * np.pi * np.random.default_rng(7).random(3) - np.pi
    assert np.allclose(training.euler_rotation(draws),
                       Rotation.from_euler("XYZ", angles).as_matrix(), atol=1e-14)

    def about(axis, t):  # the right-handed rotation by t about one axis
        i, j = (axis + 1) % 3, (axis + 2) % 3
        m = np.eye(3)
        m[i, i] = m[j, j] = np.cos(t)
        m[i, j], m[j, i] = -np.sin(t), np.sin(t)
        return m

    product = about(0, angles[0]) @ about(1, angles[1]) @ about(2, angles[2])
    assert np.allclose(training.euler_rotation(np.random.default_rng(7)), product,
                       atol=1e-14)
    # the two distributions differ: the rotation angle of a Haar-uniform rotation has
    # the density (1 - cos t) / pi on [0, pi], the distribution function (t - sin t) / pi
    haar_cdf = lambda t: (t - np.sin(t)) / np.pi  # noqa: E731
    o3 = _rotation_angles(training.random_rotations(20000, "o3", rng))
    euler = _rotation_angles(np.stack([training.euler_rotation(rng) for _ in range(20000)]))
    assert kstest(o3, haar_cdf).pvalue > 1e-3
    assert kstest(euler, haar_cdf).pvalue < 1e-12
    # and a moment that shows how: E[R_xx^2] = E[cos^2 b cos^2 c] = 1/4 for the Euler
    # draw, 1/3 for Haar
    euler_rotations = np.stack([training.euler_rotation(rng) for _ in range(20000)])
    assert np.mean(euler_rotations[:, 0, 0] ** 2) == pytest.approx(1 / 4, abs=0.01)
    haar = training.random_rotations(20000, "o3", rng)
    assert np.mean(haar[:, 0, 0] ** 2) == pytest.approx(1 / 3, abs=0.01)
    with pytest.raises(ValueError, match="unknown augmentation"):
        training.random_rotations(1, "rotate", rng)


def _train(events, tmp_path, phase="pretrain", **kwargs):
    out = tmp_path / phase
    init = kwargs.pop("init_from", None)
    return training.train_polarmae(phase, kwargs.pop("settings", _settings()),
                                   events["train"], events["val"], out, device="cpu",
                                   threads=1, init_from=init), out


def test_training_writes_checkpoints_and_resumes_exactly(events, tmp_path, monkeypatch):
    summary, out = _train(events, tmp_path / "a")
    assert summary["steps"] == [0, 2, 4]
    assert sorted(p.name for p in out.iterdir()) == [
        "step_0.ckpt", "step_2.ckpt", "step_4.ckpt", "train_log.csv"]
    log = pd.read_csv(out / "train_log.csv")
    assert log["step"].tolist() == [0, 2, 4]
    assert np.isfinite(log["val_loss"]).all() and np.isfinite(log["train_loss"][1:]).all()

    calls = {"n": 0}
    step = training.Trainer.step

    def failing(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return step(self)

    monkeypatch.setattr(training.Trainer, "step", failing)
    with pytest.raises(KeyboardInterrupt):
        _train(events, tmp_path / "b")
    partial = tmp_path / "b" / "pretrain"
    assert not list(partial.glob("step_*.ckpt"))  # nothing published half way
    assert (partial / "resume" / "step_2.ckpt").exists()
    monkeypatch.setattr(training.Trainer, "step", step)
    summary, resumed = _train(events, tmp_path / "b")
    assert summary["resumed_from_step"] == 2
    final = torch.load(out / "step_4.ckpt", weights_only=False)
    again = torch.load(resumed / "step_4.ckpt", weights_only=False)
    for key, value in final["model"].items():
        assert torch.equal(value, again["model"][key]), key
    assert not (resumed / "resume").exists()

    # fine-tuning starts from the pre-trained encoder, with a fresh head
    _, tuned = _train(events, tmp_path / "a", phase="finetune",
                      init_from=out / "step_4.ckpt")
    start = torch.load(tuned / "step_0.ckpt", weights_only=False)["model"]
    for key, value in final["model"].items():
        if key.startswith(training.ENCODER):
            assert torch.equal(value, start[key]), key
    log = pd.read_csv(tuned / "train_log.csv")
    assert {"val_loss", "val_accuracy"} <= set(log.columns)
    with pytest.raises(CheckpointError, match="not pretrain"):
        _train(events, tmp_path / "c", phase="finetune", init_from=tuned / "step_4.ckpt")
    with pytest.raises(CheckpointError, match="train_log.csv: not a readable checkpoint"):
        training.load_polarmae(out / "train_log.csv")
    torch.save({"format": "other"}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a PoLAr-MAE checkpoint"):
        training.load_polarmae(tmp_path / "other.ckpt")


def test_adapter_copies_match_rotated_events(event):
    model = _model()
    adapter = PolarMAEAdapter(model, "finetune")
    grouping = group_event(torch.as_tensor(event.points), **GROUPING)
    g = torch.as_tensor(np.stack([np.eye(3), _rotation(1), -_rotation(2)]))
    out = adapter.evaluate(adapter.batch(event, grouping), g)
    assert out[OUTPUT].shape == (3, event.n_points, 4)
    assert torch.allclose(out[OUTPUT].sum(-1), torch.ones(3, event.n_points,
                                                          dtype=torch.float64))
    for k in range(3):
        rotated = type(event)(**{**vars(event), "points": event.points @ g[k].numpy().T})
        with torch.no_grad():
            logits, features = model.segment(_batch(rotated), ["blocks.1"])
        assert torch.allclose(torch.softmax(logits, -1)[0], out[OUTPUT][k], atol=1e-10)
        assert torch.allclose(features["blocks.1"][0], out["blocks.1"][k], atol=1e-10)


def test_instability_of_an_invariant_model_is_zero(event):
    """A model whose every input is invariant (energies only: positions scaled to 0)
    has A = 0 and no unstable point; the fractions are all in (0, +1)."""
    model = _model()
    adapter = PolarMAEAdapter(model, "finetune")
    flat = type(event)(**{**vars(event), "points": event.points * 0.0})
    grouping = group_event(torch.as_tensor(event.points), **GROUPING)
    context = GridContext(o3_quadrature(4), 2)
    result, predicted = adapter.analyse(flat, grouping, context)
    assert predicted.shape == (context.quadrature.n_rotations, event.n_points)
    assert float(result.outputs[OUTPUT][(0, 1)].variance.max()) < 1e-25
    for spectrum in result.spectra.values():
        assert spectrum.fractions()[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_instability_is_weighted_by_the_grid():
    """A point whose class changes on one grid point has the instability of that point's
    weight, not 1 / (grid points): the grid's weights are not uniform."""
    from types import SimpleNamespace

    from symlearn.symmetry import InputAnalysis, IrrepStatistics

    q = o3_quadrature(8)
    weights = q.weights[np.r_[0:q.n_rotations:2]]  # any order works: it is given
    assert weights.std() > 0
    n_grid = len(weights)
    mean = torch.tensor([[0.9, 0.1, 0.0, 0.0], [0.2, 0.8, 0.0, 0.0]], dtype=torch.float64)
    stats = IrrepStatistics(4, mean, torch.zeros(2), torch.zeros(2), torch.zeros(2))
    predicted = np.zeros((n_grid, 2), dtype=np.int8)
    predicted[:, 1] = 1
    predicted[5, 0] = 2   # point 0 changes class on grid point 5 only
    predicted[:, 1][weights > np.median(weights)] = 0
    event = SimpleNamespace(index=0, n_points=2, semantic=np.array([0, 1]),
                            branching=np.array([False, False]))
    rows = point_rows(event, InputAnalysis({OUTPUT: {(0, 1): stats}}, {}), predicted,
                      weights)
    assert rows.loc[0, "instability"] == pytest.approx(weights[5], rel=1e-12)
    assert rows.loc[0, "instability"] != pytest.approx(1 / n_grid, rel=1e-3)
    assert rows.loc[1, "instability"] == pytest.approx(
        weights[weights > np.median(weights)].sum(), rel=1e-12)


def test_instability_table_by_hand():
    points = pd.DataFrame({
        "semantic": [0, 0, 1, 1, 1, 3], "location": ["", "branching", "track segment",
                                                      "track segment", "branching", ""],
        "equivariance_mse": [0.01, 0.04, 0.0, 0.09, 0.16, 0.25],
        "instability": [0.0, 0.5, 0.0, 0.25, 1.0, 0.0],
        "correct": [True, False, True, True, False, True]})
    table = instability_table(points).set_index(["grouping", "group"])
    assert table.loc[("class", "track"), "n_points"] == 3
    assert table.loc[("class", "track"), "instability"] == pytest.approx(1.25 / 3)
    assert table.loc[("class", "track"), "unstable_fraction"] == pytest.approx(2 / 3)
    assert table.loc[("class", "track"), "equivariance_rmse"] == pytest.approx(
        math.sqrt(0.25 / 3))
    assert table.loc[("location", "branching"), "accuracy"] == 0.0
    assert table.loc[("class", "michel"), "n_points"] == 0
    assert np.isnan(table.loc[("class", "michel"), "instability"])


def test_checkpoint_analysis_tables(events, tmp_path):
    _, pre = _train(events, tmp_path, settings=_settings(steps=2))
    _, tuned = _train(events, tmp_path, phase="finetune", settings=_settings(steps=2),
                      init_from=pre / "step_2.ckpt")
    settings = {"n_events": 1, "seed": 0, "lambda_max": 2, "grid_degree": None,
                "batch_points": 20000, "dtype": "float64", "layers": None,
                "branching_radius": 3.0}
    out = tmp_path / "analysis"
    summary = analyse_polarmae_checkpoint(str(tuned / "step_2.ckpt"), events["test"],
                                          str(out), settings, device="cpu", progress=False)
    assert summary["copies"] == o3_quadrature(4).n_rotations
    errors = pd.read_csv(out / "errors.csv")
    assert errors[["target", "o3_lambda", "o3_sigma"]].values.tolist() == [[OUTPUT, 0, 1]]
    assert float(errors["equivariance_rmse"].iloc[0]) > 0
    spectrum = pd.read_csv(out / "spectrum.csv")
    assert list(dict.fromkeys(spectrum["layer"])) == ["tokenizer", "blocks.0", "blocks.1"]
    sums = spectrum.groupby("layer")["fraction"].sum() + spectrum.groupby("layer")[
        "residual"].first()
    assert np.allclose(sums, 1.0)
    assert (spectrum["fraction"] >= 0).all()
    points = pd.read_parquet(out / "points.parquet")
    assert points["instability"].between(0, 1).all()
    instability = pd.read_csv(out / "instability.csv")
    classes = instability[instability["grouping"] == "class"]
    assert classes["n_points"].sum() == len(points)
    # a pre-training checkpoint has no head: B only
    analyse_polarmae_checkpoint(str(pre / "step_0.ckpt"), events["test"], str(tmp_path / "p"),
                                settings, device="cpu", progress=False)
    assert pd.read_csv(tmp_path / "p" / "errors.csv").empty
    assert len(pd.read_csv(tmp_path / "p" / "spectrum.csv")) == len(spectrum)
    example = example_event(str(tuned / "step_2.ckpt"), events["test"],
                            str(tmp_path / "example.csv"), settings, "tiny")
    assert len(example) == points["event"].eq(example["event"].iloc[0]).sum()
    assert example["x"].between(0, 768).all()
    assert (example["changed"] == (example["predicted"] != example["predicted_rotated"])).all()
    # fig1 (b) from a pre-training checkpoint: one line naming the file, nothing written
    with pytest.raises(CheckpointError, match=r"step_0.ckpt: a pretrain checkpoint has "
                                              r"no trained segmentation head"):
        example_event(str(pre / "step_0.ckpt"), events["test"],
                      str(tmp_path / "pretrain_example.csv"), settings, "tiny")
    assert not (tmp_path / "pretrain_example.csv").exists()
