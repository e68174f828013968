"""``symlearn`` commands that make, fetch and prepare the data sets: the embedded EMT
structures, downloads, LArTPC split manifests, PET's training views."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from ._arguments import _ATTEMPTS, _COUNT, _SEED, _at_least, _degree_arg, _json_arg

LOGGER = logging.getLogger("symlearn")


def _make_atomistic(args: argparse.Namespace) -> None:
    from ..data.atomistic import Elements, generate, split, summary
    from ..data.extxyz import write_frames
    from ..errors import ConfigError
    from ..io import atomic_path
    from ..settings.data import SPLITS, synthetic_split_sizes

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


def _register_make_atomistic(commands: argparse._SubParsersAction) -> None:
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


def _fetch(args: argparse.Namespace) -> None:
    from ..data.fetch import fetch

    start = time.perf_counter()
    fetched = fetch(args.url, args.output, sha256=args.sha256, retries=args.retries,
                    timeout=args.timeout, progress=not args.no_progress)
    LOGGER.info("%s: %d bytes from %s in %.1f s", fetched.path, fetched.size,
                fetched.url, time.perf_counter() - start)


def _register_fetch(commands: argparse._SubParsersAction) -> None:
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


def _lartpc_split(args: argparse.Namespace) -> None:
    from ..polarmae.manifests import write_split_manifest

    manifest = write_split_manifest(args.files, args.events, args.output)
    LOGGER.info("%s: %d events from %s", args.output, manifest["n_events"],
                ", ".join(f"{p['path']} [{p['start']}, {p['stop']})"
                          for p in manifest["files"]))


def _register_lartpc_split(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "lartpc-split", help="check PILArNet-M files, write a split's manifest")
    p.add_argument("files", nargs="+", help="HDF5 files, read in this order")
    p.add_argument("--events", type=_at_least(0, "an event index"),
                   nargs=2, metavar=("FIRST", "STOP"),
                   help="events [FIRST, STOP) of the files taken together (default: all)")
    p.add_argument("--output", required=True, help="the manifest (.json)")
    p.set_defaults(func=_lartpc_split)


def _prepare_pet_data(args: argparse.Namespace) -> None:
    from ..data.extxyz import write_training_view
    from ..io import writable_file

    writable_file(args.output)

    summary = write_training_view(args.input, args.output,
                                  max_structures=args.max_structures, seed=args.seed)
    LOGGER.info("checked %s: %s", args.input, json.dumps(summary))


def _register_prepare_pet_data(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("prepare-pet-data",
                            help="check a MAD-style extxyz file, write its PET view")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--max-structures", type=_COUNT, default=None,
                   help="keep a seeded random subset of this many frames, in file order")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the subset")
    p.set_defaults(func=_prepare_pet_data)


def _pet_memmap(args: argparse.Namespace) -> None:
    from ..pet.memmap import write_memmap

    start = time.perf_counter()
    summary = write_memmap(args.input, args.output)
    LOGGER.info("wrote %s in %.1f s", json.dumps(summary), time.perf_counter() - start)


def _register_pet_memmap(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "pet-memmap", help="copy a PET view into metatrain's memory-mapped layout")
    p.add_argument("input", help="a PET training view (extxyz)")
    p.add_argument("output", help="the directory metatrain reads (replaced atomically)")
    p.set_defaults(func=_pet_memmap)


def _geometric_targets(args: argparse.Namespace) -> None:
    from ..data.extxyz import read_frames, write_frames
    from ..io import writable_file
    from ..pet.geometric import add_geometric_targets, target_irreps

    writable_file(args.output)
    start = time.perf_counter()
    frames = read_frames(args.input)
    add_geometric_targets(frames, cutoff=args.cutoff, width=args.cutoff_width,
                          lambda_max=args.lambda_max, source=args.input)
    write_frames(frames, args.output)
    LOGGER.info("wrote %s: %d structures (%d atoms) with %s in %.1f s", args.output,
                len(frames), sum(len(a) for a in frames),
                ", ".join(target_irreps(args.lambda_max)), time.perf_counter() - start)


def _register_geometric_targets(commands: argparse._SubParsersAction) -> None:
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


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's commands, in the order ``symlearn --help`` lists them."""
    _register_make_atomistic(commands)
    _register_fetch(commands)
    _register_lartpc_split(commands)
    _register_prepare_pet_data(commands)
    _register_pet_memmap(commands)
    _register_geometric_targets(commands)
