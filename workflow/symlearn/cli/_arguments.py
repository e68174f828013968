"""What several ``symlearn`` commands share: the argparse types (degrees, bounded counts,
JSON), the options of the analysis commands and the pairing of their --checkpoint and
--out-dir options."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _degree_arg(text: str) -> int:
    """A quadrature degree: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; a degree is >= 0")
    return value


def _at_least(minimum: int, what: str):
    """An argparse type: an integer >= ``minimum``, refused with what it counts."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value}: {what} must be >= {minimum}")
        return value
    return parse


#: the counts of the command line, checked where they are parsed
_THREADS = _at_least(1, "threads")
_COUNT = _at_least(1, "a count")
_BATCH = _at_least(1, "a batch size")
_SEED = _at_least(0, "a seed")
_ATTEMPTS = _at_least(0, "retries")


def _json_arg(text: str):
    """A JSON value given inline, or ``@file`` holding one."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise argparse.ArgumentTypeError(f"{text[1:]}: cannot be read ({err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from None


def _runtime_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", type=_json_arg, default=None,
                   help="settings that change how the command runs, not what it writes "
                        "(batch sizes, memory), JSON or @file: laid over --settings. The "
                        "workflow passes them here, apart from the settings it tracks")


def _analysis_arguments(p: argparse.ArgumentParser, settings: str, tables: str,
                        checkpoints: bool = False) -> None:
    """What every analysis command takes besides its inputs; ``checkpoints``: one
    --out-dir per --checkpoint, both repeatable (several checkpoints in one process)."""
    p.add_argument("--settings", type=_json_arg, required=True, help=settings)
    _runtime_argument(p)
    if checkpoints:
        p.add_argument("--out-dir", required=True, action="append",
                       help=f"receives {tables}; one per --checkpoint, in the same order")
    else:
        p.add_argument("--out-dir", required=True, help=f"receives {tables}")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=_THREADS, default=None)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _checkpoint_jobs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (checkpoint, output folder) pairs of an analysis command: its --checkpoint
    and --out-dir options, paired in the order given."""
    from ..checkpoints import check_all_complete
    from ..errors import SymlearnError

    if len(args.checkpoint) != len(args.out_dir):
        raise SymlearnError(f"{len(args.checkpoint)} --checkpoint but {len(args.out_dir)} "
                            "--out-dir: give one --out-dir per --checkpoint, in order")
    # every checkpoint before the first analysis: a bad one costs no computation
    check_all_complete(args.checkpoint)
    for option in ("as_given_only", "figure_layers_only"):
        unknown = sorted(set(getattr(args, option, None) or []) - set(args.checkpoint))
        if unknown:
            raise SymlearnError(f"--{option.replace('_', '-')} {unknown[0]}: not one of "
                                "the --checkpoint options")
    return list(zip(args.checkpoint, args.out_dir, strict=True))
