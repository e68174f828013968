"""``symlearn <step>``: the commands the Snakemake rules call.

Each rule is one of these commands, so every step can also be run, tested and
debugged by hand (``snakemake -n -p`` prints the exact command lines).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

LOGGER = logging.getLogger("symlearn")


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


def _make_atomistic(args: argparse.Namespace) -> None:
    from .config import SPLITS, ConfigError, synthetic_split_sizes
    from .data.atomistic import Elements, generate, split, summary
    from .data.extxyz import write_frames
    from .io import atomic_path

    sizes = synthetic_split_sizes(args.n_structures, args.split)
    empty = [name for name in SPLITS if not sizes.get(name)]
    if empty:
        raise ConfigError(
            f"--split: the {', '.join(empty)} split(s) would receive no structure "
            f"({sum(sizes.values())} structures split {json.dumps(args.split)}); raise "
            "--n-structures or the fraction")
    start = time.perf_counter()
    chosen = {"metals": args.metals, "adsorbates": args.adsorbates}
    elements = Elements(**{key: value for key, value in chosen.items() if value is not None})
    frames = generate(args.n_structures, seed=args.seed, max_atoms=args.max_atoms,
                      elements=elements)
    parts = split(frames, args.split, seed=args.seed)
    for name in SPLITS:
        path = Path(args.out_dir) / f"{name}.xyz"
        write_frames(parts[name], path)
        LOGGER.info("wrote %d structures (%d atoms) to %s", len(parts[name]),
                    sum(len(a) for a in parts[name]), path)
    with atomic_path(Path(args.out_dir) / "summary.csv") as tmp:
        summary(parts).to_csv(tmp, index=False, float_format="%.6g")
    LOGGER.info("generated %d structures in %.1f s", len(frames),
                time.perf_counter() - start)


def _fetch(args: argparse.Namespace) -> None:
    from .data.fetch import fetch

    start = time.perf_counter()
    fetched = fetch(args.url, args.output, sha256=args.sha256, retries=args.retries,
                    timeout=args.timeout, progress=not args.no_progress)
    LOGGER.info("%s: %d bytes from %s in %.1f s", fetched.path, fetched.size,
                fetched.url, time.perf_counter() - start)


def _lartpc_split(args: argparse.Namespace) -> None:
    from .polarmae.manifests import write_split_manifest

    manifest = write_split_manifest(args.files, args.events, args.output)
    LOGGER.info("%s: %d events from %s", args.output, manifest["n_events"],
                ", ".join(f"{p['path']} [{p['start']}, {p['stop']})"
                          for p in manifest["files"]))


def _prepare_pet_data(args: argparse.Namespace) -> None:
    from .data.extxyz import write_training_view
    from .io import writable_file

    writable_file(args.output)

    summary = write_training_view(args.input, args.output,
                                  max_structures=args.max_structures, seed=args.seed)
    LOGGER.info("checked %s: %s", args.input, json.dumps(summary))


def _pet_memmap(args: argparse.Namespace) -> None:
    from .pet.memmap import write_memmap

    start = time.perf_counter()
    summary = write_memmap(args.input, args.output)
    LOGGER.info("wrote %s in %.1f s", json.dumps(summary), time.perf_counter() - start)


def _geometric_targets(args: argparse.Namespace) -> None:
    from .data.extxyz import read_frames, write_frames
    from .io import writable_file
    from .pet.geometric import add_geometric_targets, target_irreps

    writable_file(args.output)
    start = time.perf_counter()
    frames = read_frames(args.input)
    add_geometric_targets(frames, cutoff=args.cutoff, width=args.cutoff_width,
                          lambda_max=args.lambda_max, source=args.input)
    write_frames(frames, args.output)
    LOGGER.info("wrote %s: %d structures (%d atoms) with %s in %.1f s", args.output,
                len(frames), sum(len(a) for a in frames),
                ", ".join(target_irreps(args.lambda_max)), time.perf_counter() - start)


def _train_pet(args: argparse.Namespace) -> None:
    from .cluster import single_process
    from .pet.train import train_pet

    start = time.perf_counter()
    with single_process("symlearn train-pet"):
        summary = train_pet(args.settings, train=args.train, val=args.val, test=args.test,
                            out_dir=args.out_dir, device=args.device, threads=args.threads)
    summary["wall_time_s"] = round(time.perf_counter() - start, 1)
    LOGGER.info("training finished: %s", json.dumps(summary))


def _checkpoint_jobs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (checkpoint, output folder) pairs of an analysis command: its --checkpoint
    and --out-dir options, paired in the order given."""
    from .checkpoints import check_all_complete
    from .errors import SymlearnError

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


def _analyse_pet(args: argparse.Namespace) -> None:
    from .pet.analyse import analyse_pet_checkpoint, evaluate_pet_as_given

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


def _analyse_metatomic(args: argparse.Namespace) -> None:
    from .metatomic.analyse import analyse_metatomic_model

    summary = analyse_metatomic_model(args.model, args.structures, args.out_dir,
                                      args.settings, device=args.device,
                                      threads=args.threads, progress=not args.no_progress)
    LOGGER.info("analysis finished: %s", json.dumps(
        {k: v for k, v in summary.items() if k not in ("errors", "spectrum")}))


def _diagnose(args: argparse.Namespace) -> None:
    from .metatomic.diagnose import defaults, diagnose

    settings = defaults()
    for key in ("lambda_max", "grid_degree", "quadrature", "n_structures", "seed", "forces",
                "dtype", "batch_atoms", "threads"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.outputs is not None:
        settings["outputs"] = args.outputs
    if args.layers is not None:
        settings["layers"] = args.layers
    out = args.out or f"diagnose-{Path(args.model).stem}"
    print(diagnose(args.model, args.structures, out, settings, device=args.device,
                   progress=not args.no_progress))
    print(f"\ntables: {out}/errors.csv, {out}/spectrum.csv, {out}/structures.parquet")


def _purify_pet(args: argparse.Namespace) -> None:
    from .pet.purification import purify_checkpoint

    table = purify_checkpoint(args.checkpoint, args.structures, args.out, args.settings,
                              n_rotations=args.n_rotations, seed=args.seed,
                              device=args.device, threads=args.threads, train=args.train,
                              n_offset_structures=args.n_offset_structures,
                              refit_mu=args.refit_mu, refit_structures=args.refit_structures,
                              refit_checkpoint=args.refit_checkpoint,
                              structures_out=args.structures_out)
    LOGGER.info("wrote %s: %d rows", args.out, len(table))


def _collect(args: argparse.Namespace) -> None:
    from .analyse.tables import collect_checkpoints, collect_inputs
    from .errors import SymlearnError
    from .io import atomic_path
    from .table_schemas import TABLE_COLUMNS

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


def _collect_benchmarks(args: argparse.Namespace) -> None:
    from .benchmarks import OK, collect_benchmarks
    from .io import atomic_path

    table = collect_benchmarks(args.folder)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    missing = table[table["status"] != OK]
    for row in missing.itertuples():
        LOGGER.warning("%s: %s", row.record, row.status)
    LOGGER.info("wrote %s: %d jobs, %d without a readable record", args.out, len(table),
                len(missing))


def _make_lartpc(args: argparse.Namespace) -> None:
    from .polarmae.simulator import make_lartpc

    start = time.perf_counter()
    summary = make_lartpc(args.out_dir, seed=args.seed, n_events=args.n_events,
                          layout=args.layout)
    LOGGER.info("simulated in %.1f s: %s", time.perf_counter() - start,
                json.dumps(summary, default=str))


def _train_polarmae(args: argparse.Namespace) -> None:
    from .cluster import single_process
    from .polarmae.train import train_polarmae

    start = time.perf_counter()
    with single_process(f"symlearn train-polarmae {args.phase}"):
        summary = train_polarmae(args.phase, args.settings, train=args.train, val=args.val,
                                 out_dir=args.out_dir, device=args.device,
                                 threads=args.threads, init_from=args.init_from,
                                 cache_events=args.cache_events)
    summary["wall_time_s"] = round(time.perf_counter() - start, 1)
    LOGGER.info("training finished: %s", json.dumps(summary))


def _analyse_polarmae(args: argparse.Namespace) -> None:
    from .polarmae.analyse import analyse_polarmae_checkpoint

    for checkpoint, out_dir in _checkpoint_jobs(args):
        summary = analyse_polarmae_checkpoint(checkpoint, args.events, out_dir,
                                              args.settings, device=args.device,
                                              threads=args.threads,
                                              progress=not args.no_progress)
        LOGGER.info("%s: analysis finished: %s", checkpoint, json.dumps(summary))


def _polarmae_example(args: argparse.Namespace) -> None:
    from .polarmae.analyse import example_event

    table = example_event(args.checkpoint, args.events, args.out, args.settings, args.run,
                          device=args.device)
    LOGGER.info("wrote %s: event %d, %d of %d points change class", args.out,
                int(table["event"].iloc[0]), int(table["changed"].sum()), len(table))


def _quadrature_table(args: argparse.Namespace) -> None:
    from .io import atomic_path
    from .symmetry import o3_quadrature

    quadrature = o3_quadrature(args.degree, args.rule)
    with atomic_path(args.out) as tmp:
        quadrature.table().to_csv(tmp, index=False)
    LOGGER.info("wrote %s: %s", args.out, quadrature.describe())


def _figure(args: argparse.Namespace) -> None:
    from .figures import build
    from .io import writable_file

    writable_file(args.out)
    inputs = dict(item.split("=", 1) for item in args.input)
    paths = build(args.figure, inputs, args.out, args.options)
    LOGGER.info("%s: wrote %s", args.figure, ", ".join(str(p) for p in paths.values()))


def _provenance(args: argparse.Namespace) -> None:
    from .figures.provenance import write

    write(args.config, args.config_out, args.software_out)


def _compare_claims(args: argparse.Namespace) -> None:
    from .figures.claims import COLUMNS, side_by_side
    from .figures.tables import FigureError, read_table

    tables = {}
    for item in args.claims:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise FigureError(f"{item!r}: expected NAME=CLAIMS_CSV")
        tables[name] = read_table(path, COLUMNS)
    print(side_by_side(tables), end="")


def _check_config(args: argparse.Namespace) -> None:
    from .config import (
        DEFAULT_CONFIG,
        check_config,
        coerce_command_line_strings,
        config_warnings,
        deep_merge,
        load_config_file,
    )

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


def build_parser() -> argparse.ArgumentParser:
    from .symmetry.rules import CHOICES as QUADRATURE_CHOICES

    parser = argparse.ArgumentParser(prog="symlearn", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("make-atomistic",
                            help="generate the embedded EMT data set, split")
    p.add_argument("--n-structures", type=_json_arg, required=True,
                   help='structures per subset, JSON, e.g. \'{"bulk": 40}\'')
    p.add_argument("--split", type=_json_arg, required=True,
                   help='fractions, JSON, e.g. \'{"train": 0.8, "val": 0.1, "test": 0.1}\'')
    p.add_argument("--seed", type=_SEED, required=True)
    p.add_argument("--max-atoms", type=_COUNT, required=True)
    p.add_argument("--metals", nargs="+", default=None,
                   help="metals of the crystals, alloys, clusters and surfaces (default: "
                        "every metal EMT knows)")
    p.add_argument("--adsorbates", nargs="*", default=None,
                   help="adsorbates on half of the surfaces (default: H, C, N and O; the "
                        "flag alone: bare surfaces)")
    p.add_argument("--out-dir", required=True, help="receives train/val/test.xyz")
    p.set_defaults(func=_make_atomistic)

    p = commands.add_parser(
        "fetch", help="download one file (mirrors, resume, retries, SHA-256 check)")
    p.add_argument("output", help="where the verified file goes")
    p.add_argument("--url", action="append", required=True,
                   help="a URL of the file; repeat for mirrors, tried in order")
    p.add_argument("--sha256", default=None,
                   help="the pinned SHA-256; omitted: unpinned, the sum seen is recorded")
    p.add_argument("--retries", type=_ATTEMPTS, default=5,
                   help="extra rounds over the mirrors after a failure (back-off 2 s, 4 s, ...)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds without data before a connection counts as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_fetch)

    p = commands.add_parser(
        "lartpc-split", help="check PILArNet-M files, write a split's manifest")
    p.add_argument("files", nargs="+", help="HDF5 files, read in this order")
    p.add_argument("--events", type=_at_least(0, "an event index"),
                   nargs=2, metavar=("FIRST", "STOP"),
                   help="events [FIRST, STOP) of the files taken together (default: all)")
    p.add_argument("--output", required=True, help="the manifest (.json)")
    p.set_defaults(func=_lartpc_split)

    p = commands.add_parser("prepare-pet-data",
                            help="check a MAD-style extxyz file, write its PET view")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--max-structures", type=_COUNT, default=None,
                   help="keep a seeded random subset of this many frames, in file order")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the subset")
    p.set_defaults(func=_prepare_pet_data)

    p = commands.add_parser(
        "pet-memmap", help="copy a PET view into metatrain's memory-mapped layout")
    p.add_argument("input", help="a PET training view (extxyz)")
    p.add_argument("output", help="the directory metatrain reads (replaced atomically)")
    p.set_defaults(func=_pet_memmap)

    p = commands.add_parser("geometric-targets",
                            help="add the pseudoscalar and neighbour-density targets")
    p.add_argument("input", help="extxyz file (a PET training view)")
    p.add_argument("output", help="the same frames with the targets as per-atom arrays")
    p.add_argument("--cutoff", type=float, required=True, help="neighbour cutoff, Å")
    p.add_argument("--cutoff-width", type=float, required=True,
                   help="width of the smooth step ending at the cutoff, Å")
    p.add_argument("--lambda-max", type=_degree_arg, required=True,
                   help="highest angular momentum of the density projections")
    p.set_defaults(func=_geometric_targets)

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

    p = commands.add_parser("analyse-metatomic",
                            help="A and B of one exported metatomic model on the O(3) grid")
    p.add_argument("--model", required=True, help="an exported AtomisticModel (.pt)")
    p.add_argument("--structures", required=True, help="extxyz file")
    _analysis_arguments(p, "analysis.metatomic with the model's entry on top, JSON or @file",
                        "errors.csv, spectrum.csv, structures.parquet")
    p.set_defaults(func=_analyse_metatomic)

    p = commands.add_parser(
        "diagnose", help="how equivariant an exported metatomic model is, layer by layer",
        description="A (equivariance error of each output, forces conservative by "
                    "default) and B (character spectrum of every feature output) of "
                    "one exported metatomic model on the structures of an extxyz file; "
                    "prints a summary and writes the pipeline's tables")
    p.add_argument("model", help="an exported AtomisticModel (.pt), e.g. from mtt export")
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_diagnose)

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

    p = commands.add_parser("collect", help="one table of every checkpoint per kind")
    p.add_argument("--checkpoints", type=_json_arg, required=True,
                   help='JSON list of {"run", "augmentation", "epoch" (or "phase", "step"), '
                        '"errors": path, "spectrum": path, ...}')
    p.add_argument("--out", action="append", required=True, metavar="TABLE=PATH",
                   help="a collected table to write (repeat): errors, spectrum, instability, "
                        "purification; structures: the per-input rows, as Parquet")
    p.set_defaults(func=_collect)

    p = commands.add_parser("collect-benchmarks",
                            help="one table of every job's benchmark record")
    p.add_argument("--folder", required=True, help="results/benchmarks")
    p.add_argument("--out", required=True, help="the table, CSV")
    p.set_defaults(func=_collect_benchmarks)

    p = commands.add_parser("make-lartpc",
                            help="simulate the embedded LArTPC events (PILArNet-M layout)")
    p.add_argument("--n-events", type=_json_arg, required=True,
                   help='events per split, JSON, e.g. \'{"train": 96, "val": 12, "test": 12}\'')
    p.add_argument("--seed", type=_SEED, required=True)
    p.add_argument("--layout", choices=["v1", "v2"], default="v2")
    p.add_argument("--out-dir", required=True, help="receives train/val/test.h5")
    p.set_defaults(func=_make_lartpc)

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

    p = commands.add_parser("analyse-polarmae",
                            help="A, B and instability of PoLAr-MAE checkpoints")
    p.add_argument("--checkpoint", required=True, action="append",
                   help="a PoLAr-MAE checkpoint; repeat it to analyse several in one process")
    p.add_argument("--events", required=True, help="HDF5 events (the test split)")
    _analysis_arguments(p, "the analysis.polarmae settings and branching_radius, JSON or "
                        "@file", "errors.csv, spectrum.csv, instability.csv, points.parquet",
                        checkpoints=True)
    p.set_defaults(func=_analyse_polarmae)

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

    p = commands.add_parser("quadrature-table", help="the O(3) grid of a degree, as a table")
    p.add_argument("--degree", type=_degree_arg, required=True)
    p.add_argument("--rule", choices=QUADRATURE_CHOICES, default="auto",
                   help="the rule family (analysis.quadrature; auto: the smallest)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_quadrature_table)

    p = commands.add_parser("figure", help="draw one figure or table from analysis tables")
    p.add_argument("figure", help="fig1 ... fig8, table1")
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH",
                   help="an input table (repeat), e.g. errors=results/analysis/pet/errors.csv")
    p.add_argument("--options", type=_json_arg, default={},
                   help="figure options, JSON (fig3: layers)")
    p.add_argument("--out", required=True,
                   help="path prefix: receives OUT.pdf, OUT.png, OUT.csv (table1: .csv, .md)")
    p.set_defaults(func=_figure)

    p = commands.add_parser("provenance",
                            help="write the resolved configuration and software versions")
    p.add_argument("--config", type=_json_arg, required=True, help="the config, JSON")
    p.add_argument("--config-out", required=True)
    p.add_argument("--software-out", required=True)
    p.set_defaults(func=_provenance)

    p = commands.add_parser(
        "compare-claims",
        help="the verdicts of several runs' claims.csv side by side, as a Markdown table")
    p.add_argument("claims", nargs="+", metavar="NAME=CLAIMS_CSV",
                   help="a column name and the claims.csv it shows, e.g. "
                        "default=results/figures/claims.csv")
    p.set_defaults(func=_compare_claims)

    p = commands.add_parser("check-config",
                            help="validate configuration files as the workflow reads them")
    p.add_argument("configfile", nargs="+",
                   help="YAML files, later ones overriding earlier ones, laid on "
                        "config/config.yaml as the workflow lays them")
    p.add_argument("--alone", action="store_true",
                   help="check the files without the embedded default under them")
    p.set_defaults(func=_check_config)
    return parser


#: the config section each command's --settings come from, checked before any work
SETTINGS_SECTIONS = {"analyse-pet": "analysis.pet", "purify-pet": "analysis.pet",
                     "analyse-polarmae": "analysis.polarmae",
                     "polarmae-example": "analysis.polarmae",
                     "analyse-metatomic": "analysis.metatomic"}


def _terminate(signum, frame) -> None:
    """SIGTERM (scancel, a SLURM time limit, Snakemake stopping a job) unwinds like an
    exception, so the temporary files of unfinished outputs are removed on the way."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "runtime", None):
        args.settings = {**args.settings, **args.runtime}
    if section := SETTINGS_SECTIONS.get(args.command):
        from .config import settings_errors

        if problems := settings_errors(args.settings, section):
            print(f"symlearn {args.command}: error: " + "; ".join(problems),
                  file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="[%(asctime)s][%(levelname)s] %(name)s: %(message)s",
                        stream=sys.stderr)
    # font subsetting while writing PDFs logs every glyph at INFO
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    from .errors import SymlearnError

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


if __name__ == "__main__":
    sys.exit(main())
