"""``symlearn <step>``: the commands the Snakemake rules call.

Each rule is one of these commands, so every step can also be run, tested and
debugged by hand (``snakemake -n -p`` prints the exact command lines).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from . import atomistic, calculators, check, collect, data, figures, polarmae

#: the modules of the commands, in the order ``symlearn --help`` lists them: each
#: ``register`` adds its commands, their arguments written beside their handlers
COMMAND_MODULES = (data, atomistic, calculators, collect, polarmae, figures, check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symlearn", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


#: the config section each command's --settings come from, checked before any work
SETTINGS_SECTIONS = {"analyse-pet": "analysis.pet", "purify-pet": "analysis.pet",
                     "analyse-polarmae": "analysis.polarmae",
                     "polarmae-example": "analysis.polarmae",
                     "analyse-metatomic": "analysis.metatomic",
                     "analyse-calculator": "analysis.metatomic"}
#: keys of a command's section it does not take (a calculator is called on one
#: structure at a time: no batches of atoms)
NOT_TAKEN = {"analyse-calculator": ("batch_atoms",)}


def _terminate(signum, frame) -> None:
    """SIGTERM (scancel, a SLURM time limit, Snakemake stopping a job) unwinds like an
    exception, so the temporary files of unfinished outputs are removed on the way."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "runtime", None):
        args.settings = {**args.settings, **args.runtime}
    if section := SETTINGS_SECTIONS.get(args.command):
        from ..settings.base import settings_errors

        if problems := settings_errors(args.settings, section,
                                       not_taken=NOT_TAKEN.get(args.command, ())):
            print(f"symlearn {args.command}: error: " + "; ".join(problems),
                  file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="[%(asctime)s][%(levelname)s] %(name)s: %(message)s",
                        stream=sys.stderr)
    # font subsetting while writing PDFs logs every glyph at INFO
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    from ..errors import SymlearnError

    try:
        args.func(args)
    except SymlearnError as err:  # bad input; anything else is a bug: its traceback
        print(f"symlearn {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the machine's answer (read-only, full, no permission)
        where = f"{err.filename}: " if err.filename else ""
        print(f"symlearn {args.command}: error: {where}{err.strerror or err}",
              file=sys.stderr)
        return 2
    return 0
