"""``symlearn`` commands that draw and document the results: the O(3) grid as a table,
the figures, the provenance record, claims side by side."""

from __future__ import annotations

import argparse
import logging

from ._arguments import _degree_arg, _json_arg

LOGGER = logging.getLogger("symlearn")


def _quadrature_table(args: argparse.Namespace) -> None:
    from ..io import atomic_path
    from ..symmetry import o3_quadrature

    quadrature = o3_quadrature(args.degree, args.rule)
    with atomic_path(args.out) as tmp:
        quadrature.table().to_csv(tmp, index=False)
    LOGGER.info("wrote %s: %s", args.out, quadrature.describe())


def _register_quadrature_table(commands: argparse._SubParsersAction) -> None:
    from ..symmetry.rules import CHOICES as QUADRATURE_CHOICES

    p = commands.add_parser("quadrature-table", help="the O(3) grid of a degree, as a table")
    p.add_argument("--degree", type=_degree_arg, required=True)
    p.add_argument("--rule", choices=QUADRATURE_CHOICES, default="auto",
                   help="the rule family (analysis.quadrature; auto: the smallest)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_quadrature_table)


def _figure(args: argparse.Namespace) -> None:
    from ..figures import build
    from ..io import writable_file

    writable_file(args.out)
    inputs = dict(item.split("=", 1) for item in args.input)
    paths = build(args.figure, inputs, args.out, args.options)
    LOGGER.info("%s: wrote %s", args.figure, ", ".join(str(p) for p in paths.values()))


def _register_figure(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("figure", help="draw one figure or table from analysis tables")
    p.add_argument("figure", help="fig1 ... fig8, table1")
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH",
                   help="an input table (repeat), e.g. errors=results/analysis/pet/errors.csv")
    p.add_argument("--options", type=_json_arg, default={},
                   help="figure options, JSON (fig3: layers)")
    p.add_argument("--out", required=True,
                   help="path prefix: receives OUT.pdf, OUT.png, OUT.csv (table1: .csv, .md)")
    p.set_defaults(func=_figure)


def _provenance(args: argparse.Namespace) -> None:
    from ..figures.provenance import write

    write(args.config, args.config_out, args.software_out)


def _register_provenance(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("provenance",
                            help="write the resolved configuration and software versions")
    p.add_argument("--config", type=_json_arg, required=True, help="the config, JSON")
    p.add_argument("--config-out", required=True)
    p.add_argument("--software-out", required=True)
    p.set_defaults(func=_provenance)


def _compare_claims(args: argparse.Namespace) -> None:
    from ..figures.tables import FigureError, read_table
    from ..findings.claims import COLUMNS, side_by_side

    tables = {}
    for item in args.claims:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise FigureError(f"{item!r}: expected NAME=CLAIMS_CSV")
        tables[name] = read_table(path, COLUMNS)
    print(side_by_side(tables), end="")


def _register_compare_claims(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "compare-claims",
        help="the verdicts of several runs' claims.csv side by side, as a Markdown table")
    p.add_argument("claims", nargs="+", metavar="NAME=CLAIMS_CSV",
                   help="a column name and the claims.csv it shows, e.g. "
                        "default=results/figures/claims.csv")
    p.set_defaults(func=_compare_claims)


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_quadrature_table(commands)
    _register_figure(commands)
    _register_provenance(commands)
    _register_compare_claims(commands)
