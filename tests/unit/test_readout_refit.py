"""The readout_refit purification stage (symlearn.pet.readout_refit): the closed-form
minimiser of MSE + mu A^2 against brute force, mu = 0 against an ordinary least-squares
refit, the output's linearity in the readout weights on a real PET, and the stage on a
tiny PET: A falls with mu, and the saved checkpoint analyses to the table's numbers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from symlearn.data.extxyz import frame_labels, read_frames
from symlearn.pet import readout_refit
from symlearn.pet.analyse import PETAdapter, load_pet
from symlearn.pet.purification import purify_checkpoint
from symlearn.pet.readout_refit import Readout, ReadoutRefit, TargetFit
from symlearn.symmetry.quadrature import haar_o3
from symlearn.table_schemas import PURIFICATION_COLUMNS, refit_choices

N_IN, N_EDGE, K = 4, 3, 3  # node and edge features, raw components (= output's)


def _fit(rng: np.random.Generator) -> tuple[TargetFit, list, list]:
    """A readout of a vector target on made-up features: its quadratics from a few
    structures (as given, and on a small grid of random rotations), and the raw data
    they were built from."""
    torch.manual_seed(0)
    readout = Readout("t", False, [torch.nn.Linear(N_IN, K).double()],
                      [torch.nn.Linear(N_EDGE, K).double()], [("node", "edge")])
    fit = TargetFit(readout)
    fit.L = torch.as_tensor(np.diag([1.0, 1.3, 0.7]))
    d = readout.n_features
    given, grids = [], []
    for n in (8, 12):  # samples per structure: more equations than weights
        phi = torch.as_tensor(rng.normal(size=(n, d)))
        residual = torch.as_tensor(rng.normal(size=(n, K)))
        fit.add_mse(residual, phi)
        given.append((residual, phi))
        g = torch.as_tensor(haar_o3(6, rng))
        weights = torch.full((6,), 1 / 6, dtype=torch.float64)
        outputs = torch.as_tensor(rng.normal(size=(6, n, K)))
        features = torch.as_tensor(rng.normal(size=(6, n, d)))
        rho = g.transpose(1, 2)  # a vector: rho(g)^-1 = g^T
        fit.add_grid(fit.grid_sums(weights, outputs, features, rho))
        grids.append((weights, outputs, features, rho))
    return fit, given, grids


def _objective(w, fit, given, grids, mu_scaled):
    """MSE + mu' A^2 computed directly from the outputs, per component and sample,
    averaged over the structures."""
    dw = w.reshape(fit.w0.shape)
    mse = sum(((fit.L @ dw @ phi.T).T - r).square().mean() for r, phi in given) / len(given)
    a2 = 0.0
    for weights, outputs, features, rho in grids:
        y = outputs + torch.einsum("ka,ad,gid->gik", fit.L, dw, features)
        z = torch.einsum("gkl,gil->gik", rho, y)
        mean = torch.einsum("g,gik->ik", weights, z)
        a2 = a2 + torch.einsum("g,gik->", weights, (z - mean).square()) / mean.numel()
    return mse + mu_scaled * a2 / len(grids)


@pytest.mark.parametrize("mu", [0.0, 0.3, 30.0])
def test_closed_form_is_the_minimum_of_the_objective(mu, monkeypatch):
    """The solve against an iterative minimisation of the same objective written out
    directly (conjugate gradients on its autograd gradient, which is affine in the
    weights: a Hessian-vector product is a difference of two gradients), to 1e-8."""
    monkeypatch.setattr(readout_refit, "RIDGE", 0.0)
    fit, given, grids = _fit(np.random.default_rng(1))
    (change,), ratio = fit.solve([mu])

    def gradient(w):
        w = w.detach().clone().requires_grad_(True)
        _objective(w, fit, given, grids, mu * ratio).backward()
        return w.grad

    w = torch.zeros(fit.w0.numel(), dtype=torch.float64)
    for _ in range(3):  # restarts wash out round-off
        r = -gradient(w)
        p = r.clone()
        for _ in range(len(w)):
            hp = gradient(w + p) - gradient(w)
            alpha = (r @ r) / (p @ hp)
            w = w + alpha * p
            r_new = r - alpha * hp
            if float(r_new.norm()) < 1e-15:
                break
            p = r_new + (r_new @ r_new) / (r @ r) * p
            r = r_new
    brute = w.detach().reshape(change.shape)
    assert torch.linalg.norm(change - brute) <= 1e-8 * torch.linalg.norm(brute)
    # and the objective's gradient vanishes at the closed form
    at = change.reshape(-1).clone().requires_grad_(True)
    _objective(at, fit, given, grids, mu * ratio).backward()
    assert float(at.grad.abs().max()) < 1e-10


def test_mu_zero_is_an_ordinary_least_squares_refit(monkeypatch):
    """mu = 0: the least-squares solution of the stacked design kron(L, phi_i^T) w = r_i,
    each structure's rows weighted by 1 / sqrt(samples x components)."""
    monkeypatch.setattr(readout_refit, "RIDGE", 0.0)
    fit, given, _ = _fit(np.random.default_rng(2))
    (change,), _ = fit.solve([0.0])
    rows, rhs = [], []
    for residual, phi in given:
        scale = 1 / np.sqrt(residual.numel())
        for i in range(len(phi)):
            rows.append(scale * torch.kron(fit.L, phi[i][None]).numpy())
            rhs.append(scale * residual[i].numpy())
    solution, *_ = np.linalg.lstsq(np.concatenate(rows), np.concatenate(rhs), rcond=None)
    np.testing.assert_allclose(change.reshape(-1).numpy(), solution, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def standard_model(tiny_pet_run):
    _, out, _ = tiny_pet_run
    return load_pet(out / "checkpoints" / "epoch_4.ckpt")


def test_outputs_are_the_linear_prediction_of_a_changed_readout(standard_model,
                                                                 tiny_pet_data):
    """Every output of PET with its readouts changed by dW equals the original's plus
    c L dW phi(g x), the features captured from the original's forward pass, to 1e-10:
    energy, forces and stress, node and edge layers, on rotated copies."""
    original = PETAdapter(copy.deepcopy(standard_model), layers=[])
    refit = ReadoutRefit(original)
    frames = read_frames(tiny_pet_data["train"])
    index = next(i for i, a in enumerate(frames) if a.pbc.all())
    structure = original.structure(index, frames[index],
                                   frame_labels(frames[index], tiny_pet_data["train"], index))
    refit.add_as_given(structure)  # measures each output's map on this structure
    generator = torch.Generator().manual_seed(0)
    changes = {t: 0.1 * torch.randn(f.w0.shape, generator=generator, dtype=torch.float64)
               for t, f in refit.fits.items()}
    changed = PETAdapter(copy.deepcopy(standard_model), layers=[])
    refit.apply(changed.model, changes)
    predictor = refit.predictor([changes])
    names = list(original.names(structure, [], outputs=True)[0])
    assert {"energy", "non_conservative_force", "non_conservative_stress"} <= set(names)
    predictor.begin(structure, names)
    g = torch.as_tensor(haar_o3(4, np.random.default_rng(5)))
    values, (delta,) = predictor.evaluate(original.rotated_systems(structure, g), names)
    actual = changed.evaluate(changed.rotated_systems(structure, g), names)
    for name in names:
        assert float(delta[name].abs().max()) > 1e-3  # the change is felt
        torch.testing.assert_close(values[name] + delta[name], actual[name], rtol=1e-10,
                                   atol=1e-10 * float(actual[name].abs().max()))


MUS = [0.0, 0.01, 1.0, 100.0, 1e4]


@pytest.fixture(scope="module")
def refitted(tiny_pet_run, tiny_pet_data, tmp_path_factory):
    _, out, _ = tiny_pet_run
    folder = tmp_path_factory.mktemp("refit")
    settings = {"n_structures": 3, "seed": 0, "lambda_max": 1, "grid_degree": None,
                "geometric_grid_degree": None, "batch_atoms": 512, "dtype": "float64",
                "threads": 1, "memory_gb": 1, "layers": None,
                "quadrature_check": {"n_inputs": 1, "delta": 2, "tolerance": 0.05}}
    table = purify_checkpoint(str(out / "checkpoints" / "epoch_4.ckpt"),
                              str(tiny_pet_data["test"]), str(folder / "p.csv"), settings,
                              n_rotations=2, seed=0, train=str(tiny_pet_data["train"]),
                              n_offset_structures=6, refit_mu=MUS,
                              refit_checkpoint=str(folder / "refit.ckpt"))
    return table, folder, settings


def test_refit_rows_and_costs(refitted):
    table, folder, _ = refitted
    assert list(table.columns) == PURIFICATION_COLUMNS
    assert pd.read_csv(folder / "p.csv").shape == table.shape
    refit = table[table["stage"] == "readout_refit"]
    assert sorted(set(refit["mu"])) == MUS
    assert table.loc[table["stage"] != "readout_refit", "mu"].isna().all()
    assert (refit["evaluations_per_prediction"] == 1).all()
    assert (refit["setup_evaluations"] > table.loc[table["stage"] == "offset_removed",
                                                  "setup_evaluations"].max()).all()
    # the quadrature check ran on the refits too
    assert refit["quadrature_error"].notna().all()


def test_a_falls_with_mu(refitted):
    """The refit's A of every output with a non-invariant part, on the test structures,
    falls with mu overall (a rank correlation near -1: the A^2 it minimises is on other,
    training structures, so a step may go up), and is far below the ordinary
    least-squares refit's (under half) at the largest mu."""
    table, _, _ = refitted
    refit = table[(table["stage"] == "readout_refit") & (table["o3_lambda"] > 0)
                  & (table["rmse_as_given"] > 0)]
    for (_, lam), rows in refit.groupby(["target", "o3_lambda"]):
        a = rows.sort_values("mu")["equivariance_rmse"].to_numpy()
        assert a[-1] < 0.5 * a[0], (lam, a)
        assert pd.Series(a).corr(pd.Series(MUS), method="spearman") <= -0.7, (lam, a)


def test_saved_refit_analyses_to_the_table(refitted, tiny_pet_data):
    """The saved checkpoint is an ordinary PET checkpoint: analysed as one (its
    original stage), each output's A and test RMSE equal the table's rows of that
    output's chosen mu (the original's where none qualifies), to 1e-8 relative."""
    from symlearn.pet.train import load_checkpoint

    table, folder, settings = refitted
    # what metatrain's export reads (the best-model weights) is the refit too
    restart = load_checkpoint(folder / "refit.ckpt", context="restart").state_dict()
    export = load_checkpoint(folder / "refit.ckpt", context="export").state_dict()
    for name, value in restart.items():
        if "last_layers" in name:
            torch.testing.assert_close(export[name], value, rtol=0, atol=0)
    again = purify_checkpoint(str(folder / "refit.ckpt"), str(tiny_pet_data["test"]),
                              str(folder / "again.csv"), settings, n_rotations=2, seed=0)
    analysed = again[again["stage"] == "original"].set_index(["target", "o3_lambda",
                                                               "o3_sigma"])
    choices = refit_choices(table)
    assert any(mu is not None for mu, _ in choices.values())
    for target, (mu, _) in choices.items():
        rows = table[(table["target"] == target)
                     & ((table["stage"] == "original") if mu is None
                        else (table["stage"] == "readout_refit") & (table["mu"] == mu))]
        for row in rows.itertuples():
            saved = analysed.loc[(target, row.o3_lambda, row.o3_sigma)]
            for column in ("equivariance_rmse", "rmse_as_given", "accuracy_rmse"):
                expected = getattr(row, column)
                assert saved[column] == pytest.approx(expected, rel=1e-8, abs=1e-14), \
                    (target, row.o3_lambda, column)
