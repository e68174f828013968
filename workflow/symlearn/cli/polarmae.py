"""``symlearn`` commands of the PoLAr-MAE branch: the simulated LArTPC events, the
training, the analysis of checkpoints and fig1 (b)'s example event."""

from __future__ import annotations

import argparse
import json
import logging
import time

from ._arguments import (
    _SEED,
    _THREADS,
    _analysis_arguments,
    _at_least,
    _checkpoint_jobs,
    _json_arg,
    _runtime_argument,
)

LOGGER = logging.getLogger("symlearn")


def _make_lartpc(args: argparse.Namespace) -> None:
    from ..polarmae.simulator import make_lartpc

    start = time.perf_counter()
    summary = make_lartpc(args.out_dir, seed=args.seed, n_events=args.n_events,
                          layout=args.layout)
    LOGGER.info("simulated in %.1f s: %s", time.perf_counter() - start,
                json.dumps(summary, default=str))


def _register_make_lartpc(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("make-lartpc",
                            help="simulate the embedded LArTPC events (PILArNet-M layout)")
    p.add_argument("--n-events", type=_json_arg, required=True,
                   help='events per split, JSON, e.g. \'{"train": 96, "val": 12, "test": 12}\'')
    p.add_argument("--seed", type=_SEED, required=True)
    p.add_argument("--layout", choices=["v1", "v2"], default="v2")
    p.add_argument("--out-dir", required=True, help="receives train/val/test.h5")
    p.set_defaults(func=_make_lartpc)


def _train_polarmae(args: argparse.Namespace) -> None:
    from ..cluster import single_process
    from ..polarmae.train import train_polarmae

    start = time.perf_counter()
    with single_process(f"symlearn train-polarmae {args.phase}"):
        summary = train_polarmae(args.phase, args.settings, train=args.train, val=args.val,
                                 out_dir=args.out_dir, device=args.device,
                                 threads=args.threads, init_from=args.init_from,
                                 cache_events=args.cache_events)
    summary["wall_time_s"] = round(time.perf_counter() - start, 1)
    LOGGER.info("training finished: %s", json.dumps(summary))


def _register_train_polarmae(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train-polarmae",
                            help="pre-train or fine-tune one PoLAr-MAE run")
    p.add_argument("phase", choices=["pretrain", "finetune"])
    p.add_argument("--settings", type=_json_arg, required=True,
                   help="the run's settings (polarmae_run_settings), JSON or @file")
    p.add_argument("--train", required=True, help="HDF5 events (PILArNet-M layout)")
    p.add_argument("--val", required=True)
    p.add_argument("--init-from", default=None,
                   help="finetune: the pre-training checkpoint whose encoder it starts from")
    p.add_argument("--out-dir", required=True, help="receives step_K.ckpt, train_log.csv")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=_THREADS, default=None)
    p.add_argument("--cache-events", type=_at_least(0, "cached events"), default=2048,
                   help="preprocessed events (with their grouping) kept in memory")
    p.set_defaults(func=_train_polarmae)


def _analyse_polarmae(args: argparse.Namespace) -> None:
    from ..polarmae.analyse import analyse_polarmae_checkpoint

    for checkpoint, out_dir in _checkpoint_jobs(args):
        summary = analyse_polarmae_checkpoint(checkpoint, args.events, out_dir,
                                              args.settings, device=args.device,
                                              threads=args.threads,
                                              progress=not args.no_progress)
        LOGGER.info("%s: analysis finished: %s", checkpoint, json.dumps(summary))


def _register_analyse_polarmae(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("analyse-polarmae",
                            help="A, B and instability of PoLAr-MAE checkpoints")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="a PoLAr-MAE checkpoint; repeat it to analyse several in one process")
    p.add_argument("--events", required=True, help="HDF5 events (the test split)")
    _analysis_arguments(p, "the analysis.polarmae settings and branching_radius, JSON or "
                        "@file", "errors.csv, spectrum.csv, instability.csv, points.parquet",
                        checkpoints=True)
    p.set_defaults(func=_analyse_polarmae)


def _polarmae_example(args: argparse.Namespace) -> None:
    from ..polarmae.analyse import example_event

    table = example_event(args.checkpoint, args.events, args.out, args.settings, args.run,
                          device=args.device)
    LOGGER.info("wrote %s: event %d, %d of %d points change class", args.out,
                int(table["event"].iloc[0]), int(table["changed"].sum()), len(table))


def _register_polarmae_example(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("polarmae-example",
                            help="fig1 (b)'s data: one event classified in two orientations")
    p.add_argument("--checkpoint", required=True, help="a fine-tuning checkpoint")
    p.add_argument("--events", required=True)
    p.add_argument("--settings", type=_json_arg, required=True,
                   help="the analysis.polarmae settings and branching_radius, JSON")
    _runtime_argument(p)
    p.add_argument("--run", required=True, help="the run's name (a column of the table)")
    p.add_argument("--out", required=True, help="CSV")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_polarmae_example)


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_make_lartpc(commands)
    _register_train_polarmae(commands)
    _register_analyse_polarmae(commands)
    _register_polarmae_example(commands)
