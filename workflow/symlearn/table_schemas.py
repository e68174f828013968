"""The columns of every table the analyses write, the collect step gathers and the
figures read, in one place. Torch-free: the figures and the command line import it
without loading a model.

A per-checkpoint table (``errors``, ``spectrum``, ``instability``, ``purification``)
has the columns of ``TABLE_COLUMNS``; collecting prepends the keys of its checkpoint
(``PET_KEYS``, ``GEOMETRIC_KEYS`` or ``POLARMAE_KEYS``), which gives the collected
tables (``ERRORS``, ``SPECTRUM``, ...) that the figures select from.
"""

from __future__ import annotations

#: columns added after tables were first written: a table that lacks one is read with
#: NaN there (output_rms, the RMS of an output over the grid beside A), so results of an
#: earlier version still collect and draw
ADDED_COLUMNS = ("output_rms", "grid_rule", "check_rule")


def with_added_columns(frame, columns) -> None:
    """Give ``frame`` (in place) NaN in every column of :data:`ADDED_COLUMNS` that
    ``columns`` asks for and it lacks."""
    for column in ADDED_COLUMNS:
        if column in columns and column not in frame.columns:
            frame[column] = float("nan")
#: the grid degrees of a table, the rule families of the two grids (analysis.quadrature
#: resolved: lebedev, graef_so3, graef_s2), and whether its quadrature check flagged a
#: value
CHECK_COLUMNS = ["grid_degree", "check_degree", "grid_rule", "check_rule",
                 "quadrature_flagged"]
#: an output part: rmse_as_given, the error on the inputs as given (the identity
#: orientation); accuracy_rmse, averaged over the orientations of the grid;
#: equivariance_rmse, A; reference_rms, the RMS of the reference values (so that
#: rmse_as_given / reference_rms is a relative error, 1: no better than zero);
#: output_rms, the RMS of the model's output over the grid's orientations (what A is
#: small against: an exactly equivariant model's A / output_rms is round-off);
#: quadrature_error / accuracy_quadrature_error: the largest change of the
#: equivariance / accuracy RMSE of one checked input between the grid and the finer
#: check grid (docs/symmetry.md, "Quadrature error")
ERRORS_COLUMNS = ["target", "o3_lambda", "o3_sigma", "rmse_as_given", "accuracy_rmse",
                  "equivariance_rmse", "n_samples", "reference_rms", "output_rms",
                  "quadrature_error",
                  "accuracy_quadrature_error", *CHECK_COLUMNS]
#: a layer's character fraction per irrep (B) and its content above lambda_max
#: (residual, the same on every row of a layer), each with its quadrature error
SPECTRUM_COLUMNS = ["layer", "o3_lambda", "o3_sigma", "fraction", "residual",
                    "quadrature_error", "residual_quadrature_error", *CHECK_COLUMNS]
#: the semantic classes of PILArNet-M, by label (0..4); the models learn the first four
#: (class 4, low-energy depositions, is dropped in preprocessing), and they are the
#: groups of the instability table's "class" grouping and of fig1 (b) and fig4
SEMANTIC_CLASSES = ("shower", "track", "michel", "delta", "low_energy")
LEARNED_CLASSES = SEMANTIC_CLASSES[:4]
#: PoLAr-MAE's predicted classes under rotation, per grouping of the points: accuracy
#: is that of the symmetrized (orbit-averaged) prediction; recall_as_given the share
#: of the group's points the model classifies right on the events as given (for a
#: class row, that class's recall)
INSTABILITY_COLUMNS = ["grouping", "group", "n_points", "instability", "unstable_fraction",
                       "equivariance_rmse", "accuracy", "recall_as_given", "grid_degree",
                       "check_degree"]
#: accuracy and A of a checkpoint's readouts as trained and after each purification
#: stage (STAGES, in order), with the model evaluations each stage costs: once, to
#: build it, and per prediction; the projected stage's A is estimated on random
#: rotations (equivariance_estimate), its quadrature error may be NaN. The
#: readout_refit stage has one set of rows per weight mu of A^2 in its objective
#: (column mu; NaN for the other stages)
PURIFICATION_COLUMNS = [*ERRORS_COLUMNS[:3], "stage", "mu", *ERRORS_COLUMNS[3:],
                        "equivariance_estimate", "setup_evaluations",
                        "evaluations_per_prediction"]
STAGES = ("original", "bias_removed", "offset_removed", "projected", "readout_refit")
REFIT = "readout_refit"
#: the chosen refit of each output: the largest mu whose test RMSE (as given) of that
#: output is at most this factor times the original model's (for the stress, finding
#: 7's criterion); an output no mu keeps within it stays as trained
REFIT_RMSE_FACTOR = 1.1


def whole_rmse(parts) -> float:
    """The test RMSE (as given) of a whole output from its irrep rows (columns
    o3_lambda, rmse_as_given), per component: each part weighted by its 2 lambda + 1
    components (the parts are orthonormal, so squared errors add)."""
    weights = 2 * parts["o3_lambda"].astype(float) + 1
    return float(((weights * parts["rmse_as_given"].astype(float) ** 2).sum()
                  / weights.sum()) ** 0.5)


def refit_choices(rows) -> dict[str, tuple[float | None, float]]:
    """Per output of one purified checkpoint's table (its original and readout_refit
    rows; a pandas frame): the chosen mu (None where no mu qualifies) and the test RMSE
    (as given) at that mu divided by the original's (NaN where none qualifies), by
    :data:`REFIT_RMSE_FACTOR`. The outputs are refitted independently (each has its own
    readout), so each gets its own mu."""
    original = rows[rows["stage"] == STAGES[0]]
    refits = rows[rows["stage"] == REFIT]
    choices = {}
    for target in dict.fromkeys(refits["target"]):
        before = whole_rmse(original[original["target"] == target])
        own = refits[refits["target"] == target]
        chosen = (None, float("nan"))
        for mu in sorted(set(own["mu"].astype(float))):
            ratio = whole_rmse(own[own["mu"].astype(float) == mu]) / before \
                if before > 0 else float("nan")
            if ratio <= REFIT_RMSE_FACTOR:
                chosen = (mu, ratio)
        choices[target] = chosen
    return choices
#: the per-checkpoint tables that are collected, and their columns
TABLE_COLUMNS = {"errors": ERRORS_COLUMNS, "spectrum": SPECTRUM_COLUMNS,
                 "instability": INSTABILITY_COLUMNS, "purification": PURIFICATION_COLUMNS}

#: the keys collecting prepends: PET checkpoints by epoch ...
PET_KEYS = ["run", "augmentation", "epoch"]
#: ... the PET runs on the geometric targets also by their edge embedding (cartesian,
#: or solid_harmonics up to edge_lmax; edge_lmax empty for cartesian) ...
GEOMETRIC_KEYS = ["run", "augmentation", "edge_embedding", "edge_lmax", "epoch"]
#: ... PoLAr-MAE checkpoints by (phase, step), the optimiser steps within a phase
POLARMAE_KEYS = ["run", "augmentation", "phase", "step"]
PRETRAIN, FINETUNE = "pretrain", "finetune"

#: the collected tables
ERRORS = PET_KEYS + ERRORS_COLUMNS
SPECTRUM = PET_KEYS + SPECTRUM_COLUMNS
GEOMETRIC_ERRORS = GEOMETRIC_KEYS + ERRORS_COLUMNS
GEOMETRIC_SPECTRUM = GEOMETRIC_KEYS + SPECTRUM_COLUMNS
PURIFICATION = GEOMETRIC_KEYS + PURIFICATION_COLUMNS
#: PoLAr-MAE: fine-tuning checkpoints only in the errors, pre-training ones too in the
#: spectrum
POLARMAE_ERRORS = POLARMAE_KEYS + ERRORS_COLUMNS
POLARMAE_SPECTRUM = POLARMAE_KEYS + SPECTRUM_COLUMNS
INSTABILITY = POLARMAE_KEYS + INSTABILITY_COLUMNS
#: one event classified in two orientations (fig1 (b))
EXAMPLE = ["run", "event", "rotation_deg", "point", "x", "y", "z", "semantic", "predicted",
           "predicted_rotated", "changed"]
