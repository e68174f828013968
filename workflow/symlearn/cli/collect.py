"""``symlearn`` commands that gather the per-job tables into one table each."""

from __future__ import annotations

import argparse
import logging

from ._arguments import _json_arg

LOGGER = logging.getLogger("symlearn")


def _collect(args: argparse.Namespace) -> None:
    from ..analyse.tables import collect_checkpoints, collect_inputs
    from ..errors import SymlearnError
    from ..io import atomic_path
    from ..table_schemas import TABLE_COLUMNS

    outputs = dict(item.split("=", 1) for item in args.out)
    # structures: the per-input rows (Parquet), the raw material of the intervals
    known = [*TABLE_COLUMNS, "structures"]
    unknown = sorted(set(outputs) - set(known))
    if unknown:
        raise SymlearnError(f"--out: unknown table(s) {', '.join(unknown)}; known: "
                            f"{', '.join(known)}")
    for table, out in outputs.items():
        if table == "structures":
            collected = collect_inputs(args.checkpoints, table)
            with atomic_path(out) as tmp:
                collected.to_parquet(tmp, index=False)
        else:
            collected = collect_checkpoints(args.checkpoints, table)
            with atomic_path(out) as tmp:
                collected.to_csv(tmp, index=False)
        LOGGER.info("wrote %s: %d rows from %d checkpoints", out, len(collected),
                    len(args.checkpoints))


def _register_collect(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("collect", help="one table of every checkpoint per kind")
    p.add_argument("--checkpoints", type=_json_arg, required=True,
                   help='JSON list of {"run", "augmentation", "epoch" (or "phase", "step"), '
                        '"errors": path, "spectrum": path, ...}')
    p.add_argument("--out", action="append", required=True, metavar="TABLE=PATH",
                   help="a collected table to write (repeat): errors, spectrum, instability, "
                        "purification; structures: the per-input rows, as Parquet")
    p.set_defaults(func=_collect)


def _collect_benchmarks(args: argparse.Namespace) -> None:
    from ..benchmarks import OK, collect_benchmarks
    from ..io import atomic_path

    table = collect_benchmarks(args.folder)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    missing = table[table["status"] != OK]
    for row in missing.itertuples():
        LOGGER.warning("%s: %s", row.record, row.status)
    LOGGER.info("wrote %s: %d jobs, %d without a readable record", args.out, len(table),
                len(missing))


def _register_collect_benchmarks(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("collect-benchmarks",
                            help="one table of every job's benchmark record")
    p.add_argument("--folder", required=True, help="results/benchmarks")
    p.add_argument("--out", required=True, help="the table, CSV")
    p.set_defaults(func=_collect_benchmarks)


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_collect(commands)
    _register_collect_benchmarks(commands)
