"""``symlearn check-config``: configuration files checked as the workflow reads them."""

from __future__ import annotations

import argparse
import sys


def _check_config(args: argparse.Namespace) -> None:
    from ..settings.base import (
        DEFAULT_CONFIG,
        coerce_command_line_strings,
        deep_merge,
        load_config_file,
    )
    from ..settings.checks import check_config, config_warnings

    # as the workflow sees them: on top of the embedded default, read the same way
    files = list(args.configfile) if args.alone else [str(DEFAULT_CONFIG),
                                                      *args.configfile]
    config: dict = {}
    for path in files:
        config = deep_merge(config, load_config_file(path))
    coerce_command_line_strings(config)
    check_config(config)
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{' + '.join(files)}: valid")


def _register_check_config(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("check-config",
                            help="validate configuration files as the workflow reads them")
    p.add_argument("configfile", nargs="+",
                   help="YAML files, later ones overriding earlier ones, laid on "
                        "config/config.yaml as the workflow lays them")
    p.add_argument("--alone", action="store_true",
                   help="check the files without the embedded default under them")
    p.set_defaults(func=_check_config)


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_check_config(commands)
