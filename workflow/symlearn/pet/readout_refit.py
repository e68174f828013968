"""The ``readout_refit`` purification stage: PET's last layers refitted in closed form.

Every output of PET is a sum of linear last layers (per target, per GNN layer, a node
and an edge ``torch.nn.Linear``) applied to features that do not depend on them: the
node layer to each atom's last-layer features, the edge layer to each pair's, its
result masked, weighted by the pair's cutoff function and summed over the neighbours.
What follows is linear too (the stress symmetrized and divided by the volume, the sum
over atoms of a per-structure target, the scaler's factor, the energy per atom) or
does not depend on the last layers at all (the composition energies). So, with ``W``
the (components x features) matrix of one target's last-layer weights and biases,
every output sample is

    ``f_W(x) = f_W0(x) + c(x) L (W - W0) phi(x)``

where ``phi`` concatenates, per GNN layer, the node features, a 1 (the node bias), the
cutoff-weighted neighbour sum of the edge features and the cutoff sum (the edge bias),
summed over the atoms for a per-structure target; ``L`` is the map from the readout's
raw components to the output's, the same for every structure and sample up to a scalar
``c(x)`` (1 / volume for the stress, 1 / atoms for the energy, the scaler's factor of
the atom's type for a per-atom target). ``L c(x)`` is measured, not assumed: on the
first structure, one forward pass of ``K + 1`` copies as given, copy ``k`` with the
``k``-th raw component of the first node readout's output raised by 1 (a forward hook),
gives its columns; on every later one, a pass of two copies, the second raised along
one generic direction, gives ``c(x)`` per sample; a response that is not a scalar
multiple of the first map's is refused.
The features come from the backend's own call (its ``_calculate_atomic_predictions``
is wrapped for the forward pass), so they are exactly what the last layers see.

With ``w = vec(W - W0)``, both objectives are quadratic forms ``w^T H w + 2 b^T w``
(see docs/symmetry.md, "Purification"), per target:

- ``MSE(w)``: the squared error on training structures as given, per component and
  sample, averaged over the structures with a reference;
- ``A^2(w)``: ``sum_g w_g ||rho(g)^-1 f(g x) - Pi(x)||^2`` per component and sample on the
  analysis grid, averaged over the structures; with ``rho`` orthogonal it is
  ``sum_g w_g ||f(g x)||^2 - ||Pi(x)||^2``, whose Hessian is
  ``kron(L^T L, G) - sum_i M_i^T M_i`` with ``G = sum_g w_g phi_g phi_g^T`` and
  ``M_i = sum_g w_g rho(g)^-1 kron(L, phi_gi^T)``;

and the refit is the solution of ``(H_mse + mu' H_A + r I) w = -(b_mse + mu' b_A)``, with
``mu' = mu tr(H_mse) / tr(H_A)`` (``mu = 1`` weighs both by the trace of their Hessian)
and the ridge ``r = RIDGE tr(H_mse + mu' H_A) / P`` (``P`` weights), which only pulls the
directions neither quadratic sees back to the trained weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

#: the ridge, relative to the mean diagonal of the solved system
RIDGE = 1e-9
#: a per-sample output map must be a scalar multiple of the first one to this tolerance
MAP_TOLERANCE = 1e-9


@dataclass
class Readout:
    """The last layers of one target (a single block): per GNN layer its node and edge
    ``torch.nn.Linear``, their state-dict names, and the layout of its features."""

    target: str
    system: bool  # a per-structure target (the features are summed over atoms)
    node: list[torch.nn.Linear]
    edge: list[torch.nn.Linear]
    names: list[tuple[str, str]]  # (node, edge) module paths per GNN layer

    @property
    def n_raw(self) -> int:
        """The readout's raw output components (components x properties)."""
        return self.node[0].out_features

    @property
    def n_features(self) -> int:
        return sum(n.in_features + (n.bias is not None) + e.in_features + (e.bias is not None)
                   for n, e in zip(self.node, self.edge, strict=True))

    def weights(self) -> torch.Tensor:
        """``W`` (raw components x features), float64, in the features' order."""
        blocks = []
        for linear in (x for pair in zip(self.node, self.edge, strict=True) for x in pair):
            blocks.append(linear.weight.detach().double())
            if linear.bias is not None:
                blocks.append(linear.bias.detach().double()[:, None])
        return torch.cat(blocks, dim=1)

    def split(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """``W`` cut back into the state-dict entries of its linear layers."""
        out, start = {}, 0
        for (node_name, edge_name), node, edge in zip(self.names, self.node, self.edge,
                                                      strict=True):
            for name, linear in ((node_name, node), (edge_name, edge)):
                out[f"{name}.weight"] = w[:, start:start + linear.in_features]
                start += linear.in_features
                if linear.bias is not None:
                    out[f"{name}.bias"] = w[:, start]
                    start += 1
        return out

    def assign(self, w: torch.Tensor) -> None:
        """Set, in place, the linear layers' weights and biases to ``W``."""
        entries = self.split(w)
        with torch.no_grad():
            for (node_name, edge_name), node, edge in zip(self.names, self.node, self.edge,
                                                          strict=True):
                for name, linear in ((node_name, node), (edge_name, edge)):
                    linear.weight.copy_(entries[f"{name}.weight"])
                    if linear.bias is not None:
                        linear.bias.copy_(entries[f"{name}.bias"])


def readouts(model: torch.nn.Module, targets: Sequence[str]) -> tuple[dict[str, Readout],
                                                                       list[str]]:
    """The refittable readouts of ``targets`` and notes on those left as trained."""
    from .analyse import sample_kind

    backend = model.backend
    found, notes = {}, []
    for target in targets:
        node_layers, edge_layers = backend.node_last_layers[target], backend.edge_last_layers[
            target]
        if any(len(per_key) != 1 for per_key in (*node_layers, *edge_layers)):
            notes.append(f"{target}: several blocks, left as trained")
            continue
        node = [next(iter(per_key.values())) for per_key in node_layers]
        edge = [next(iter(per_key.values())) for per_key in edge_layers]
        keys = [next(iter(per_key.keys())) for per_key in node_layers]
        names = [(f"backend.node_last_layers.{target}.{i}.{key}",
                  f"backend.edge_last_layers.{target}.{i}.{key}")
                 for i, key in enumerate(keys)]
        found[target] = Readout(target, sample_kind(target) == "system", node, edge, names)
    return found, notes


class FeatureCapture:
    """Within ``with``, records what the backend hands its last layers in each forward
    pass (per target and GNN layer the node and edge last-layer features, the padding
    mask and the cutoff factors), by wrapping its ``_calculate_atomic_predictions``."""

    def __init__(self, model: torch.nn.Module):
        self.backend = model.backend
        self.record: dict = {}

    def __enter__(self):
        original = type(self.backend)._calculate_atomic_predictions
        backend = self.backend

        def wrapped(node_features, edge_features, padding_mask, cutoff_factors, names):
            self.record = {"node": node_features, "edge": edge_features,
                           "mask": padding_mask, "cutoff": cutoff_factors}
            return original(backend, node_features, edge_features, padding_mask,
                            cutoff_factors, names)

        self.backend._calculate_atomic_predictions = wrapped
        return self

    def __exit__(self, *exc):
        del self.backend._calculate_atomic_predictions
        return False

    def features(self, readout: Readout, n_copies: int) -> torch.Tensor:
        """``phi`` of the last pass, (copies, samples, features): per atom, or summed
        over a copy's atoms for a per-structure target."""
        weight = torch.where(self.record["mask"], self.record["cutoff"],
                             torch.zeros_like(self.record["cutoff"]))
        parts = []
        for i, (node, edge) in enumerate(zip(readout.node, readout.edge, strict=True)):
            node_features = self.record["node"][readout.target][i]
            edge_features = self.record["edge"][readout.target][i]
            parts.append(node_features)
            if node.bias is not None:
                parts.append(torch.ones_like(node_features[:, :1]))
            edge_features = torch.where(self.record["mask"][..., None], edge_features,
                                        torch.zeros_like(edge_features))
            parts.append(torch.einsum("anf,an->af", edge_features, weight))
            if edge.bias is not None:
                parts.append(weight.sum(1, keepdim=True))
        phi = torch.cat(parts, dim=1).double()
        phi = phi.reshape(n_copies, -1, phi.shape[-1])
        return phi.sum(1, keepdim=True) if readout.system else phi


def evaluate_with_features(adapter, systems: list, names: Sequence[str],
                           readouts: Mapping[str, Readout]
                           ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The outputs of one batch of copies (as ``PETAdapter.evaluate``) and the features
    of each readout, (copies, samples, features)."""
    with FeatureCapture(adapter.model) as capture:
        values = adapter.evaluate(systems, names)
        features = {t: capture.features(r, len(systems)) for t, r in readouts.items()
                    if t in names}
    return values, features


def output_maps(adapter, structure, readouts: Mapping[str, Readout], names: Sequence[str],
                directions: torch.Tensor | None = None
                ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor],
                           dict[str, torch.Tensor]]:
    """On ``structure`` as given: the outputs (samples, K), the features (samples, D) and
    the output's response (samples, K, directions) of each readout to a unit change of
    its raw components along each of ``directions`` (rows; None: every raw component,
    which gives the map ``c(x) L``), from one forward pass of ``1 + directions`` copies
    (see the module docstring)."""
    targets = [t for t in names if t in readouts]
    n_raw = max(readouts[t].n_raw for t in targets)
    every = directions is None
    if every:
        directions = torch.eye(n_raw, dtype=adapter.dtype, device=adapter.device)
    n_dir = len(directions)
    n_atoms = structure.n_atoms
    eye = torch.eye(3, dtype=adapter.dtype, device=adapter.device)
    systems = adapter.rotated_systems(structure, eye.expand(n_dir + 1, 3, 3).contiguous())
    handles = []

    def raise_components(module, inputs, output):
        output = output.clone()
        shift = directions[:, :output.shape[-1]].to(output)
        blocks = output[n_atoms:].reshape(n_dir, n_atoms, -1) + shift[:, None, :]
        return torch.cat([output[:n_atoms], blocks.reshape(-1, output.shape[-1])])

    try:
        for t in targets:
            handles.append(readouts[t].node[0].register_forward_hook(raise_components))
        values, features = evaluate_with_features(adapter, systems, targets, readouts)
    finally:
        for handle in handles:
            handle.remove()
    outputs, phis, maps = {}, {}, {}
    for t in targets:
        readout = readouts[t]
        value = values[t].double().reshape(n_dir + 1, values[t].shape[1], -1)
        per_raw = n_atoms if readout.system else 1  # bias features summed over the atoms
        response = (value[1:] - value[0]) / per_raw  # (directions, samples, K)
        if every:
            response = response[:readout.n_raw]
        outputs[t] = value[0]
        phis[t] = features[t][0]
        maps[t] = response.permute(1, 2, 0)
    return outputs, phis, maps


def common_map(maps: torch.Tensor, reference: torch.Tensor | None, target: str,
               direction: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L, c)`` with ``maps[i] = c[i] L`` for every sample: ``L`` is ``reference``, or
    the first sample's map when None. With ``direction``, ``maps`` are the responses
    along it only (samples, K, 1), compared with ``L direction``. Refuses responses
    that are no such multiple."""
    if reference is None:
        reference = maps[0]
    expected = reference if direction is None else (reference @ direction)[:, None]
    scale = float(expected.square().sum())
    if not scale > 0:
        raise ValueError(f"{target}: the readout does not reach the output")
    c = torch.einsum("ika,ka->i", maps, expected) / scale
    residual = float((maps - c[:, None, None] * expected).abs().max())
    if residual > MAP_TOLERANCE * float(maps.abs().max()):
        raise ValueError(f"{target}: the output map of the readout differs between "
                         f"samples by more than a factor ({residual:.3g}); the refit "
                         "needs a common map")
    return reference, c


@dataclass
class Quadratic:
    """``sum_s q_s(w) / n``: a sum of per-structure quadratic forms ``w^T H w + 2 b^T w``
    in the readout's weights, and the number of structures in it."""

    size: int
    H: torch.Tensor = None
    b: torch.Tensor = None
    n: int = 0

    def __post_init__(self):
        self.H = torch.zeros(self.size, self.size, dtype=torch.float64)
        self.b = torch.zeros(self.size, dtype=torch.float64)

    def add(self, H: torch.Tensor, b: torch.Tensor) -> None:
        self.H += H
        self.b += b
        self.n += 1

    def mean(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.n:
            return torch.zeros_like(self.H), torch.zeros_like(self.b)
        H = self.H / self.n
        return (H + H.T) / 2, self.b / self.n


@dataclass
class TargetFit:
    """One readout's two quadratics, and the output map ``L`` they share."""

    readout: Readout
    L: torch.Tensor | None = None  # (K, raw components)
    mse: Quadratic = None
    a2: Quadratic = None
    w0: torch.Tensor = None
    notes: list = field(default_factory=list)

    def __post_init__(self):
        size = self.readout.n_raw * self.readout.n_features
        self.mse, self.a2 = Quadratic(size), Quadratic(size)
        self.w0 = self.readout.weights()

    def scaled(self, maps: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """``c_i phi_i`` (samples, D) for this target's common map (set on first use)."""
        self.L, c = common_map(maps, self.L, self.readout.target)
        return c[:, None] * phi

    def add_mse(self, residual: torch.Tensor, phi: torch.Tensor) -> None:
        """One structure as given: ``residual`` (samples, K) = reference - output,
        ``phi`` the scaled features (samples, D)."""
        n, k = residual.shape
        LtL = (self.L.T @ self.L).contiguous()
        H = torch.kron(LtL, (phi.T @ phi).contiguous())
        b = -torch.einsum("ka,ik,id->ad", self.L, residual, phi).reshape(-1)
        self.mse.add(H / (n * k), b / (n * k))

    def grid_sums(self, weights: torch.Tensor, outputs: torch.Tensor, phi: torch.Tensor,
                  rho_inv: torch.Tensor) -> dict[str, torch.Tensor]:
        """One batch of grid points of one structure: grid weights (G,), outputs (G,
        samples, K), scaled features (G, samples, D) and ``rho(g)^-1`` (G, K, K); the sums
        :meth:`add_grid` needs, to be added over the batches."""
        n, k = outputs.shape[1:]
        RL = rho_inv @ self.L  # (G, K, raw)
        return {"gram": torch.einsum("g,gid,gie->de", weights, phi, phi),
                "lab": torch.einsum("g,gik,gid->kd", weights, outputs, phi),
                "M": torch.einsum("g,gka,gid->ikad", weights, RL, phi).reshape(n, k, -1),
                "mean": torch.einsum("g,gkl,gil->ik", weights, rho_inv, outputs)}

    def add_grid(self, sums: Mapping[str, torch.Tensor]) -> None:
        """One structure on the whole grid, from its :meth:`grid_sums` added up."""
        M, mean = sums["M"], sums["mean"]
        n, k = mean.shape
        LtL = (self.L.T @ self.L).contiguous()
        H = torch.kron(LtL, sums["gram"].contiguous()) - torch.einsum("ikp,ikq->pq", M, M)
        b = (self.L.T @ sums["lab"]).reshape(-1) - torch.einsum("ikp,ik->p", M, mean)
        self.a2.add(H / (n * k), b / (n * k))

    def solve(self, mus: Sequence[float]) -> tuple[list[torch.Tensor], float]:
        """``W - W0`` (raw, D) per ``mu``, and the trace ratio ``tr H_mse / tr H_A`` that
        scales ``mu``. A target without training references keeps its weights."""
        H_mse, b_mse = self.mse.mean()
        H_a, b_a = self.a2.mean()
        shape = self.w0.shape
        t_mse, t_a = float(torch.trace(H_mse)), float(torch.trace(H_a))
        if not t_mse > 0:
            self.notes.append(f"{self.readout.target}: no training reference, left as "
                              "trained")
            return [torch.zeros(shape, dtype=torch.float64) for _ in mus], float("nan")
        ratio = t_mse / t_a if t_a > 0 else 0.0
        if not t_a > 0:
            self.notes.append(f"{self.readout.target}: on none of the grid structures, so "
                              "every mu gives the least-squares refit")
        changes = []
        for mu in mus:
            H = H_mse + mu * ratio * H_a
            b = b_mse + mu * ratio * b_a
            ridge = RIDGE * float(torch.trace(H)) / len(H)
            H = H + ridge * torch.eye(len(H), dtype=H.dtype)
            changes.append(torch.linalg.solve(H, -b).reshape(shape))
        return changes, ratio


def rho_inverse(kind, matrices: torch.Tensor, n_components: int) -> torch.Tensor:
    """``rho(g)^-1`` as (G, K, K) matrices on the flattened output components."""
    components = kind.components or (n_components,)
    basis = torch.eye(n_components, dtype=matrices.dtype, device=matrices.device)
    copies = basis.reshape(1, n_components, *components).expand(len(matrices), -1,
                                                               *components)
    out = kind.back_transform(copies, matrices).reshape(len(matrices), n_components, -1)
    return out.transpose(1, 2)


def flat(values: torch.Tensor) -> torch.Tensor:
    """(copies, samples, ...) -> (copies, samples, K), float64."""
    return values.double().reshape(values.shape[0], values.shape[1], -1)


class ReadoutRefit:
    """The refit of every refittable readout of one model: the quadratics accumulated
    structure by structure (:meth:`add_as_given`, and :meth:`begin_grid`,
    :meth:`grid_batch`, :meth:`end_grid` around the batches of one structure's grid),
    then the weight changes per ``mu`` (:meth:`solve`), which :meth:`predictor` turns
    into output changes on any structure without a forward pass per ``mu``."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.readouts, self.notes = readouts(adapter.model, adapter.targets)
        self.fits = {t: TargetFit(r) for t, r in self.readouts.items()}
        self.evaluations = 0
        self._scales: dict[str, torch.Tensor] = {}
        self._sums: dict[str, dict[str, torch.Tensor]] = {}

    def _targets(self, names: Sequence[str]) -> list[str]:
        return [t for t in names if t in self.fits]

    def scales(self, structure, names: Sequence[str]) -> tuple[dict, dict]:
        """The outputs and scaled features of ``structure`` as given, per target, and
        each sample's scale ``c`` on the common map (one forward pass of copies)."""
        targets = self._targets(names)
        if not targets:
            return {}, {}, {}
        known = all(self.fits[t].L is not None for t in targets)
        # once every map is known, a probe along one generic direction gives each
        # sample's scale (and checks it); the first structure measures the maps
        n_raw = max(self.readouts[t].n_raw for t in targets)
        direction = (1.0 + torch.arange(n_raw, dtype=torch.float64) / n_raw) if known \
            else None
        outputs, phis, maps = output_maps(
            self.adapter, structure, self.readouts, targets,
            None if direction is None else direction[None].to(self.adapter.dtype))
        self.evaluations += 1 + (1 if known else n_raw)
        scales, scaled = {}, {}
        for t in targets:
            fit = self.fits[t]
            probe = None if direction is None else direction[:self.readouts[t].n_raw]
            fit.L, scales[t] = common_map(maps[t], fit.L, t, probe)
            scaled[t] = scales[t][:, None] * phis[t]
        return outputs, scaled, scales

    def add_as_given(self, structure) -> None:
        """The squared error of ``structure`` as given (its references) to ``MSE(w)``."""
        kinds, _ = self.adapter.names(structure, [], outputs=True)
        names = [t for t in self._targets(kinds) if t in structure.references]
        if not names:
            return
        outputs, phis, _ = self.scales(structure, names)
        for t in names:
            reference = structure.references[t].double().reshape(len(outputs[t]), -1)
            self.fits[t].add_mse(reference - outputs[t], phis[t])

    def begin_grid(self, structure, names: Sequence[str]) -> None:
        _, _, self._scales = self.scales(structure, names)
        self._sums = {}

    def grid_batch(self, systems: list, g: torch.Tensor, weights: torch.Tensor,
                   names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Evaluate one batch of transformed copies (``g``: their matrices) and add it to
        the structure's grid sums; returns the outputs as ``PETAdapter.evaluate``."""
        values, features = evaluate_with_features(self.adapter, systems, names,
                                                  {t: self.readouts[t] for t in
                                                   self._targets(names)})
        self.evaluations += len(systems)
        for t in self._targets(names):
            fit = self.fits[t]
            outputs = flat(values[t])
            phi = self._scales[t][None, :, None] * features[t]
            rho = rho_inverse(self.adapter.kinds[t], g.double(), outputs.shape[-1])
            sums = fit.grid_sums(weights.double(), outputs, phi, rho)
            previous = self._sums.get(t)
            self._sums[t] = sums if previous is None else {
                key: previous[key] + value for key, value in sums.items()}
        return values

    def end_grid(self) -> None:
        for t, sums in self._sums.items():
            self.fits[t].add_grid(sums)
        self._sums = {}

    def solve(self, mus: Sequence[float], dtype: torch.dtype | None = None
              ) -> tuple[list[dict[str, torch.Tensor]], dict[str, float]]:
        """Per ``mu``, ``W - W0`` per target, with ``W`` rounded to ``dtype`` (the
        checkpoint's, so that a saved refit is exactly the model the tables describe);
        and the trace ratio that scales ``mu``, per target."""
        per_mu = [{} for _ in mus]
        ratios = {}
        for t, fit in self.fits.items():
            changes, ratios[t] = fit.solve(mus)
            self.notes += fit.notes
            for row, change in zip(per_mu, changes, strict=True):
                w = fit.w0 + change
                if dtype is not None:
                    w = w.to(dtype).double()
                row[t] = w - fit.w0
        return per_mu, ratios

    def apply(self, model: torch.nn.Module, changes: Mapping[str, torch.Tensor]) -> None:
        """Set ``model``'s (a copy of the refitted one) readouts to ``W0 + change``."""
        found, _ = readouts(model, list(changes))
        for t, change in changes.items():
            found[t].assign(self.fits[t].w0 + change)

    def state_entries(self, changes: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The state-dict entries of the refitted readouts, float64."""
        entries = {}
        for t, change in changes.items():
            entries.update(self.readouts[t].split(self.fits[t].w0 + change))
        return entries

    def predictor(self, changes: Sequence[Mapping[str, torch.Tensor]]) -> RefitPredictor:
        return RefitPredictor(self, changes)


class RefitPredictor:
    """The output changes ``c_i L (W - W0) phi_i(g x)`` of every refit (one per ``mu``)
    on the batches of one structure, from the original model's features."""

    def __init__(self, refit: ReadoutRefit, changes: Sequence[Mapping[str, torch.Tensor]]):
        self.refit, self.changes = refit, list(changes)
        self._scales: dict[str, torch.Tensor] = {}

    def begin(self, structure, names: Sequence[str]) -> None:
        targets = self.refit._targets(names)
        self._scales = self.refit.scales(structure, targets)[2] if targets else {}

    def evaluate(self, systems: list, names: Sequence[str]
                 ) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
        """The original's outputs of one batch and, per refit, its change of each."""
        targets = [t for t in names if t in self._scales]
        values, features = evaluate_with_features(self.refit.adapter, systems, names,
                                                  {t: self.refit.readouts[t]
                                                   for t in targets})
        deltas = []
        for change in self.changes:
            delta = {}
            for t in targets:
                if t not in change:  # left as trained (no mu kept its accuracy)
                    delta[t] = torch.zeros_like(values[t])
                    continue
                L = self.refit.fits[t].L
                phi = self._scales[t][None, :, None] * features[t]
                out = torch.einsum("ka,ad,gid->gik", L, change[t], phi)
                delta[t] = out.reshape(values[t].shape).to(values[t])
            deltas.append(delta)
        return values, deltas
