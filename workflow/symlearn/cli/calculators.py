"""``symlearn`` command of the calculator family: one ASE calculator of
``external.calculators`` analysed on the O(3) grid (``symlearn diagnose --calculator``
is the same analysis by hand)."""

from __future__ import annotations

import argparse
import json
import logging

from ._arguments import _analysis_arguments

LOGGER = logging.getLogger("symlearn")


def _analyse_calculator(args: argparse.Namespace) -> None:
    from ..calculators.analyse import analyse_calculator, load_calculator
    from ..errors import ConfigError

    spec = args.settings.get("calculator")
    if not spec:
        raise ConfigError("--settings lacks calculator (package.module:factory, the "
                          "external.calculators entry)")
    if args.device != "auto":
        LOGGER.warning("--device %s is not used: a calculator runs where its factory put "
                       "it", args.device)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    summary = analyse_calculator(load_calculator(spec), args.structures, args.out_dir,
                                 args.settings, name=spec, progress=not args.no_progress)
    LOGGER.info("analysis finished: %s", json.dumps(
        {k: v for k, v in summary.items() if k not in ("errors", "spectrum")}))


def _register_analyse_calculator(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("analyse-calculator",
                            help="A of one ASE calculator's energy, forces and stress on "
                                 "the O(3) grid (no B: a calculator shows no features)")
    p.add_argument("--structures", required=True, help="extxyz file")
    _analysis_arguments(p, "analysis.metatomic with the calculator's entry on top "
                           "(calculator: package.module:factory), JSON or @file",
                        "errors.csv, spectrum.csv (empty), structures.parquet")
    p.set_defaults(func=_analyse_calculator)


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_analyse_calculator(commands)
