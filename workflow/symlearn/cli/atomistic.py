"""``symlearn`` commands of the atomistic models: PET's training, the analysis of PET
checkpoints and of exported metatomic models, and PET's purification."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from ._arguments import (
    _BATCH,
    _COUNT,
    _SEED,
    _THREADS,
    _analysis_arguments,
    _at_least,
    _checkpoint_jobs,
    _degree_arg,
    _json_arg,
    _runtime_argument,
)

LOGGER = logging.getLogger("symlearn")


def _train_pet(args: argparse.Namespace) -> None:
    from ..cluster import single_process
    from ..pet.train import train_pet

    start = time.perf_counter()
    with single_process("symlearn train-pet"):
        summary = train_pet(args.settings, train=args.train, val=args.val, test=args.test,
                            out_dir=args.out_dir, device=args.device, threads=args.threads)
    summary["wall_time_s"] = round(time.perf_counter() - start, 1)
    LOGGER.info("training finished: %s", json.dumps(summary))


def _register_train_pet(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train-pet", help="train one PET run through metatrain")
    p.add_argument("--settings", type=_json_arg, required=True,
                   help="the run's settings (augmentation, model, training), JSON or @file")
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--test", default=None,
                   help="a split for metatrain's closing evaluation of the exported "
                        "model (with the training and validation splits); without it "
                        "(the pipeline gives none, so a training never depends on the "
                        "test split) the closing evaluation is skipped")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=_THREADS, default=None)
    p.set_defaults(func=_train_pet)


def _analyse_pet(args: argparse.Namespace) -> None:
    from ..pet.analyse import analyse_pet_checkpoint, evaluate_pet_as_given

    as_given = set(args.as_given_only or [])
    figure_layers = set(args.figure_layers_only or [])
    for checkpoint, out_dir in _checkpoint_jobs(args):
        if checkpoint in as_given:
            summary = evaluate_pet_as_given(checkpoint, args.structures, out_dir,
                                            args.settings, device=args.device,
                                            threads=args.threads)
        else:
            summary = analyse_pet_checkpoint(checkpoint, args.structures, out_dir,
                                             args.settings, device=args.device,
                                             threads=args.threads,
                                             progress=not args.no_progress,
                                             figure_layers_only=checkpoint in figure_layers)
        LOGGER.info("%s: analysis finished: %s", checkpoint, json.dumps(summary))


def _register_analyse_pet(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("analyse-pet",
                            help="A and B of PET checkpoints on the O(3) grid")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="a metatrain PET checkpoint; repeat it to analyse several in one "
                        "process")
    p.add_argument("--structures", required=True, help="extxyz file (the test split)")
    _analysis_arguments(p, "the analysis.pet settings, JSON or @file",
                        "errors.csv, spectrum.csv, structures.parquet", checkpoints=True)
    p.add_argument("--as-given-only", action="append", metavar="CHECKPOINT",
                   help="for this one of the checkpoints, only the test error on the "
                        "structures as given (one forward pass each, no grid): errors.csv "
                        "without A, spectrum.csv without rows; repeatable")
    p.add_argument("--figure-layers-only", action="append", metavar="CHECKPOINT",
                   help="for this one of the checkpoints, B of fig3's layers only (the "
                        "settings' figure_layers, else the last GNN layer's node "
                        "features, the shared features and every output); repeatable")
    p.set_defaults(func=_analyse_pet)


def _analyse_metatomic(args: argparse.Namespace) -> None:
    from ..metatomic.analyse import analyse_metatomic_model

    summary = analyse_metatomic_model(args.model, args.structures, args.out_dir,
                                      args.settings, device=args.device,
                                      threads=args.threads, progress=not args.no_progress)
    LOGGER.info("analysis finished: %s", json.dumps(
        {k: v for k, v in summary.items() if k not in ("errors", "spectrum")}))


def _register_analyse_metatomic(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("analyse-metatomic",
                            help="A and B of one exported metatomic model on the O(3) grid")
    p.add_argument("--model", required=True, help="an exported AtomisticModel (.pt)")
    p.add_argument("--structures", required=True, help="extxyz file")
    _analysis_arguments(p, "analysis.metatomic with the model's entry on top, JSON or @file",
                        "errors.csv, spectrum.csv, structures.parquet")
    p.set_defaults(func=_analyse_metatomic)


def _diagnose(args: argparse.Namespace) -> None:
    """A thin wrapper over :func:`symlearn.diagnose`: the tables written, the summary
    printed."""
    from ..diagnosis import SETTINGS, diagnose
    from ..errors import ConfigError
    from ..io import writable_folder

    settings = {key: getattr(args, key) for key in SETTINGS if hasattr(args, key)}
    if args.calculator is not None:
        if args.model is not None:
            raise ConfigError("diagnose: give a model file or --calculator, not both")
        from ..calculators.analyse import load_calculator

        model, name = load_calculator(args.calculator), args.calculator
        out = args.out or f"diagnose-{args.calculator.rpartition(':')[2]}"
    else:
        if args.model is None:
            raise ConfigError("diagnose: give a model file, or --calculator "
                              "package.module:factory for an ASE calculator")
        model, name = args.model, args.model
        out = args.out or f"diagnose-{Path(args.model).stem}"
    writable_folder(out)
    result = diagnose(model, args.structures, name=name, device=args.device,
                      progress=not args.no_progress, log=print, **settings)
    result.to_csv(out)
    print(result.summary())
    print(f"\ntables: {out}/errors.csv, {out}/spectrum.csv, {out}/structures.parquet")


def _register_diagnose(commands: argparse._SubParsersAction) -> None:
    from ..symmetry.rules import CHOICES as QUADRATURE_CHOICES

    p = commands.add_parser(
        "diagnose", help="how equivariant an exported metatomic model (layer by layer) "
                         "or an ASE calculator is",
        description="A (equivariance error of each output, forces conservative by "
                    "default) and B (character spectrum of every feature output) of "
                    "one exported metatomic model, or A of an ASE calculator's energy, "
                    "forces and stress (--calculator), on the structures of an extxyz "
                    "file; prints a summary and writes the pipeline's tables")
    p.add_argument("model", nargs="?", default=None,
                   help="an exported AtomisticModel (.pt), e.g. from mtt export")
    p.add_argument("structures", help="extxyz file; energy, forces and stress labels, "
                                      "when present, fill the accuracy columns")
    p.add_argument("--lambda-max", type=_degree_arg, default=None,
                   help="character projections up to this lambda (default 4)")
    p.add_argument("--grid-degree", type=_degree_arg, default=None,
                   help="quadrature degree (default: the smallest that does not alias "
                        "the outputs, max(2 lambda_max, lambda_max + L))")
    p.add_argument("--quadrature", choices=QUADRATURE_CHOICES, default=None,
                   help="the rule family of the grids (default auto: the smallest exact "
                        "to the degree)")
    p.add_argument("--n-structures", type=_COUNT, default=None,
                   help="a seeded random subset of this many structures (default 8)")
    p.add_argument("--seed", type=_SEED, default=None)
    p.add_argument("--forces", choices=["conservative", "non_conservative", "none"],
                   default=None, help="default conservative: -dE/dx and the virial")
    p.add_argument("--outputs", nargs="+", default=None, help="only these outputs")
    p.add_argument("--layers", nargs="+", default=None, help="only these feature outputs")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None)
    p.add_argument("--batch-atoms", type=_BATCH, default=None)
    p.add_argument("--threads", type=_THREADS, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None,
                   help="folder for the tables (default diagnose-<model name>)")
    p.add_argument("--calculator", default=None, metavar="PACKAGE.MODULE:FACTORY",
                   help="an ASE calculator instead of a model file: the factory is called "
                        "once and the calculator is called on every rotated copy (A of "
                        "energy, forces and, on periodic cells, stress; no B)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_diagnose)


def _purify_pet(args: argparse.Namespace) -> None:
    from ..pet.purification import purify_checkpoint

    table = purify_checkpoint(args.checkpoint, args.structures, args.out, args.settings,
                              n_rotations=args.n_rotations, seed=args.seed,
                              device=args.device, threads=args.threads, train=args.train,
                              n_offset_structures=args.n_offset_structures,
                              refit_mu=args.refit_mu, refit_structures=args.refit_structures,
                              refit_checkpoint=args.refit_checkpoint,
                              structures_out=args.structures_out)
    LOGGER.info("wrote %s: %d rows", args.out, len(table))


def _register_purify_pet(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("purify-pet",
                            help="accuracy and A of a PET checkpoint before and after "
                                 "purifying its readouts")
    p.add_argument("--checkpoint", required=True, help="a metatrain PET checkpoint")
    p.add_argument("--structures", required=True, help="extxyz file (the test split)")
    p.add_argument("--settings", type=_json_arg, required=True,
                   help="the analysis.pet settings, JSON or @file")
    p.add_argument("--n-rotations", type=_at_least(2, "random rotations (a variance)"),
                   required=True,
                   help="random O(3) elements for the projected model's own A")
    p.add_argument("--seed", type=_SEED, required=True)
    p.add_argument("--out", required=True, help="the purification table (CSV)")
    p.add_argument("--train", default=None,
                   help="extxyz file (the training split) over which the lab-frame offsets "
                        "are averaged; without it, no offset_removed stage")
    p.add_argument("--n-offset-structures", type=_COUNT, default=16,
                   help="training structures the offsets are averaged over")
    p.add_argument("--refit-mu", type=_json_arg, default=[],
                   help="JSON list of the weights mu of A^2 in the readout refit (one "
                        "readout_refit row set each; needs --train); [] for none")
    p.add_argument("--refit-structures", type=_COUNT, default=None,
                   help="training structures whose squared error (as given) the refit "
                        "minimises (default: all)")
    p.add_argument("--refit-checkpoint", default=None,
                   help="where to save the chosen refit as a PET checkpoint")
    p.add_argument("--structures-out", default=None,
                   help="where to write the per-structure rows of every stage (Parquet)")
    _runtime_argument(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=_THREADS, default=None)
    p.set_defaults(func=_purify_pet)


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_train_pet(commands)
    _register_analyse_pet(commands)
    _register_analyse_metatomic(commands)
    _register_diagnose(commands)
    _register_purify_pet(commands)
