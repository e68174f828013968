"""The workflow configuration: checks with messages that name the key, and the
settings each job receives.

The schema (``workflow/schemas/config.schema.yaml``) catches unknown keys, wrong types
and out-of-range values; :func:`semantic_errors` catches what a schema cannot
(fractions that must sum to 1, a checkpoint interval longer than the training, ...).
Both run when the workflow starts, before any job, and from ``symlearn check-config``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import SymlearnError
from .symmetry.degrees import grid_degree, required_degree
from .symmetry.rules import NoRule, choose, largest_degree

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
#: the embedded default, which the workflow lays every --configfile on
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
SPLITS = ("train", "val", "test")


class ConfigError(SymlearnError, ValueError):
    """The configuration is invalid; the message lists every problem by key."""


class DuplicateKey(ValueError):
    """A key given twice in one mapping of a YAML file (YAML keeps the last silently)."""


#: libyaml's parser where PyYAML has it (several times faster: every Snakemake process,
#: a cluster job's included, reads the configuration and the schema)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SAFE_LOADER):
    """yaml.safe_load, refusing a key repeated in one mapping, naming both lines."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKey(f"key {key!r} is given twice in one mapping (lines "
                                   f"{seen[key]} and {line}); YAML would keep the last "
                                   "silently")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config_file(path: str | Path) -> dict:
    """One configuration file as a mapping, refused as Snakemake's ``--configfile``
    refuses it, but naming the file (and the line of a YAML error): a missing or
    unreadable file, a YAML syntax error, an empty file, or a top level that is not a
    mapping of keys."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err})") from None
    try:
        loaded = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except DuplicateKey as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if loaded is None:
        raise ConfigError(f"{path}: the file is empty (Snakemake refuses an empty "
                          "configuration file); give at least one key")
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level is a {type(loaded).__name__}, not a "
                          "mapping of configuration keys")
    return loaded


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as handle:
        return yaml.load(handle, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{key}." if error.absolute_path else ""
        names = ", ".join(f"{prefix}{name}" for name in unknown)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {names}{hint}"
    return f"{key}: {error.message}"


def schema_errors(config: Mapping[str, Any], schema: Mapping | None = None) -> list[str]:
    """Every schema violation, one line each, naming the key."""
    schema = load_schema() if schema is None else schema
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors:
        # an allOf/$ref failure repeats its sub-errors; report the innermost ones
        leaves = [e for e in error.context if not e.context] if error.context else [error]
        messages.extend(_describe(leaf) for leaf in leaves)
    return list(dict.fromkeys(messages))


def settings_errors(settings: Mapping[str, Any], section: str,
                    option: str = "--settings") -> list[str]:
    """A command's ``--settings`` against the schema of the config section they come
    from (``analysis.pet``, ...): a missing key, a wrong type or a value out of range,
    one line each, naming the key. The how-it-runs keys that reach a command apart
    (its threads) are not required; keys the section lacks (the quadrature check the
    workflow adds) are allowed."""
    root = load_schema()
    node: Mapping = root
    for key in section.split("."):
        node = _resolve(node, root)["properties"][key]
    node = dict(_resolve(node, root))
    node["required"] = [key for key in node.get("required", []) if key != "threads"]
    node["additionalProperties"] = True
    node["$defs"] = root.get("$defs", {})
    validator = jsonschema.Draft202012Validator(node)
    missing, messages = [], []
    for error in sorted(validator.iter_errors(dict(settings)),
                        key=lambda e: list(e.absolute_path)):
        if error.validator == "required" and not error.absolute_path:
            missing += [key for key in node["required"] if key not in settings]
            continue
        leaves = [e for e in error.context if not e.context] if error.context else [error]
        messages += [f"{option}: {_describe(leaf)}" for leaf in leaves]
    if missing:
        messages.insert(0, f"{option} lacks {', '.join(dict.fromkeys(missing))} (the "
                           f"{section} settings)")
    return list(dict.fromkeys(messages))


_SCALAR_TYPES = {"integer": int, "number": (int, float), "boolean": bool,
                 "null": type(None), "array": list}


def _resolve(schema: Mapping, root: Mapping) -> Mapping:
    """A schema node with its ``$ref`` (to ``#/$defs/...``) followed and its ``allOf``
    parts merged."""
    while isinstance(schema, Mapping) and "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    if isinstance(schema, Mapping) and "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged["properties"] = {**part.get("properties", {}),
                                    **merged.get("properties", {})}
            merged.update({k: v for k, v in part.items()
                           if k != "properties" and k not in merged})
        schema = merged
    return schema


def _types(schema: Mapping) -> list[str]:
    types = schema.get("type")
    return [types] if isinstance(types, str) else list(types or [])


def _accepts(schema: Mapping, value: Any) -> bool:
    types = _types(schema)
    if "enum" in schema and value in schema["enum"]:
        return True
    for name in types:
        kind = _SCALAR_TYPES.get(name)
        if kind is None:
            continue
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, kind):
            return True
    return False


def coerce_command_line_strings(config: dict, schema: Mapping | None = None,
                                _node: Mapping | None = None) -> dict:
    """Turn the strings that ``snakemake --config key='{...}'`` leaves inside nested
    values back into what they spell, where the schema expects a number, a boolean,
    null or a list there: Snakemake parses only the top level of a ``--config`` value,
    so ``pet='{"training": {"epochs": 3}}'`` arrives as ``{"epochs": "3"}``. A string
    the schema accepts as a string is left alone; one that still does not fit is left
    for the check to name. YAML 1.1 strings such as ``1e-3`` become numbers the same
    way, and a whole float (``20.0``) where only an integer fits becomes that integer.
    The workflow and ``symlearn check-config`` both call it, so they accept and refuse
    the same files. Works in place and returns ``config``."""
    schema = load_schema() if schema is None else schema
    node = _resolve(schema if _node is None else _node, schema)
    if not isinstance(config, dict):
        return config
    properties = node.get("properties", {})
    extra = node.get("additionalProperties")
    for key, value in list(config.items()):
        child = properties.get(key, extra if isinstance(extra, Mapping) else None)
        if child is None:
            continue
        child = _resolve(child, schema)
        if isinstance(value, str) and not _accepts(child, value):
            types = _types(child)
            if "string" not in types:
                try:
                    parsed = yaml.safe_load(value)
                except yaml.YAMLError:
                    parsed = value
                if isinstance(parsed, str) and "number" in types:
                    try:  # YAML 1.1 reads 1e-3 as a string
                        parsed = float(parsed)
                    except ValueError:
                        pass
                if _accepts(child, parsed) or isinstance(parsed, dict) and (
                        "object" in types):
                    config[key] = value = parsed
        types = _types(child)
        if (isinstance(value, float) and value.is_integer() and "integer" in types
                and "number" not in types):
            config[key] = value = int(value)  # 20.0 where a count is expected
        if isinstance(value, dict):
            coerce_command_line_strings(value, schema, child)
    return config


def split_counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """How many of ``n`` structures of one subset go to each part: rounded cumulative
    fractions, so the counts always add up to ``n``."""
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must sum to 1, got {dict(fractions)}")
    counts, start, cumulative = {}, 0, 0.0
    for i, (name, fraction) in enumerate(fractions.items()):
        cumulative += fraction
        stop = n if i == len(fractions) - 1 else round(cumulative * n)
        counts[name] = stop - start
        start = stop
    return counts


def synthetic_split_sizes(n_structures: Mapping[str, int],
                          fractions: Mapping[str, float]) -> dict[str, int]:
    """Structures per split of the embedded generator: each subset is split on its own
    (:func:`split_counts`), so the sizes are the sums over subsets."""
    sizes = dict.fromkeys(fractions, 0)
    for n in n_structures.values():
        for name, count in split_counts(n, fractions).items():
            sizes[name] += count
    return sizes


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively by ``override`` (copies, inputs untouched), with
    Snakemake's own merge, so that it matches how ``--configfile`` files combine."""
    from snakemake.utils import update_config

    merged = copy.deepcopy(dict(base))
    update_config(merged, copy.deepcopy(dict(override)))
    return merged


def pet_runs(config: Mapping[str, Any]) -> list[str]:
    """Names of the PET runs to train (a run set to null is switched off)."""
    return [run for run, spec in config["pet"]["runs"].items() if spec is not None]


def run_seeds(config: Mapping[str, Any], family: str, run: str) -> list[int]:
    """The training seeds of one run of ``family`` (pet or polarmae): its own
    ``seeds``, else the family's (``pet.control_seeds`` for a control run)."""
    spec = config[family]["runs"].get(run) or {}
    if spec.get("seeds") is not None:
        return [int(seed) for seed in spec["seeds"]]
    key = "control_seeds" if (family == "pet" and (spec.get("architecture") or "pet")
                              != "pet") else "seeds"
    return [int(seed) for seed in config[family][key]]


def pet_run_settings(config: Mapping[str, Any], run: str,
                     seed: int | None = None) -> dict[str, Any]:
    """The settings of one PET run: the shared ``pet`` defaults, overridden by the run;
    with a training ``seed`` (None: the run's first)."""
    spec = config["pet"]["runs"].get(run)
    if spec is None:
        raise ConfigError(f"pet.runs.{run}: no such run (runs: {', '.join(pet_runs(config))})")
    targets = spec.get("targets", "standard")
    architecture = spec.get("architecture") or "pet"
    # the runs on the geometric targets take pet.geometric_runs over the shared
    # defaults, then their own keys; a control (SOAP-BPNN) run takes its model from
    # pet.control_model, and only the training settings from the shared ones
    shared = (config["pet"].get("geometric_runs") or {}) if targets == "geometric" else {}
    if architecture == "pet":
        model = deep_merge(config["pet"]["model"], shared.get("model") or {})
        embedding = dict(spec.get("edge_embedding") or {"type": "cartesian"})
    else:
        model = dict(config["pet"].get("control_model") or {})
        embedding = {"type": architecture}
    settings = {
        "architecture": architecture,
        "augmentation": spec["augmentation"],
        "targets": targets,
        "edge_embedding": embedding,
        "model": deep_merge(model, spec.get("model", {})),
        "training": deep_merge(deep_merge(config["pet"]["training"],
                                          shared.get("training") or {}),
                               spec.get("training", {})),
    }
    settings["training"]["seed"] = (run_seeds(config, "pet", run)[0] if seed is None
                                    else int(seed))
    if settings["targets"] == "geometric":
        settings["geometric"] = dict(config["data"]["atomistic"]["geometric_targets"])
    return settings


def pet_output_lambda_max(config: Mapping[str, Any], run: str) -> int:
    """The largest angular momentum among a run's outputs: the stress's lambda = 2
    part, or the largest lambda of the density projections."""
    if pet_run_settings(config, run)["targets"] == "geometric":
        return config["data"]["atomistic"]["geometric_targets"]["lambda_max"]
    return 2


#: the settings that change how a job runs, never what it writes, by config section
#: ("" for the top level): the workflow hands them to its commands outside Snakemake's
#: ``params``, so a change of one reruns nothing (docs/reruns.md gives the reasons).
#: Absent on purpose: ``pet.training.num_workers`` (metatrain draws the augmentation's
#: rotations in the data-loader workers, so their number changes the draws) and every
#: ``dtype`` and ``precision`` (they change the numbers).
HOW_IT_RUNS: dict[str, tuple[str, ...]] = {
    "": ("device", "resources"),
    "data.fetch": ("retries", "timeout"),
    "pet.training": ("threads",),
    "polarmae": ("threads", "cache_events"),
    "analysis": ("jobs", "grid_warning_copies"),
    "analysis.pet": ("threads", "batch_atoms", "memory_gb"),
    "analysis.polarmae": ("threads", "batch_points"),
    "analysis.metatomic": ("threads", "batch_atoms"),
}


class HowItRuns:
    """A ``params`` value that changes how a job runs, never what it writes. Snakemake
    reruns a job when a params value it can represent (a builtin type) changes, and
    leaves other types out of that comparison; in the shell command this one reads as
    its text (JSON for a mapping). tests/integration checks that a change reruns
    nothing."""

    def __init__(self, value: Any):
        self.value = value

    def __str__(self) -> str:
        return self.value if isinstance(self.value, str) else json.dumps(self.value,
                                                                          sort_keys=True)

    def __repr__(self) -> str:
        return f"HowItRuns({self.value!r})"


def _section(config: Mapping[str, Any], section: str, missing: Any = None) -> Any:
    """The mapping at a dotted config ``section`` ("" for the top level); with
    ``missing`` given, that value where a level is absent or null, else a KeyError."""
    settings: Any = config
    for key in filter(None, section.split(".")):
        settings = settings[key] if missing is None else (settings.get(key) or missing)
    return settings


def result_settings(settings: Mapping[str, Any], section: str) -> dict[str, Any]:
    """``settings`` (config section ``section``) without its how-it-runs keys: what a
    job's ``params`` carry, so that only these changes rerun it."""
    drop = HOW_IT_RUNS.get(section, ())
    return {key: value for key, value in settings.items() if key not in drop}


def result_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration without its how-it-runs settings (a PET run's own training
    threads included): what the results depend on, as the provenance records it."""
    result = copy.deepcopy(dict(config))
    for section, keys in HOW_IT_RUNS.items():
        settings = _section(result, section, missing={})
        for key in keys:
            settings.pop(key, None)
    for run in (result.get("pet", {}).get("runs") or {}).values():
        if run and isinstance(run.get("training"), dict):
            run["training"].pop("threads", None)
    return result


def how_it_runs(config: Mapping[str, Any], section: str,
                exclude: tuple[str, ...] = ("threads",)) -> dict[str, Any]:
    """The how-it-runs settings of one config section (``threads`` excluded: they reach
    a job through its ``threads``, which Snakemake does not track either)."""
    settings = _section(config, section)
    return {key: settings[key] for key in HOW_IT_RUNS[section]
            if key in settings and key not in exclude}


# the rules whose jobs ask a cluster for a GPU (config `resources`, profiles/slurm/)
GPU_RULES = ("train_pet", "pretrain_polarmae", "finetune_polarmae", "analyse_pet",
             "analyse_polarmae", "purify_pet", "analyse_pet_run",
             "analyse_pet_geometric_run", "analyse_polarmae_pretrain_run",
             "analyse_polarmae_finetune_run")
#: the checkpoint analysis rules of each analysis.jobs setting (only one set is defined)
ANALYSIS_RULES = {"per_checkpoint": ("analyse_pet", "analyse_polarmae"),
                  "per_run": ("analyse_pet_run", "analyse_pet_geometric_run",
                              "analyse_polarmae_pretrain_run",
                              "analyse_polarmae_finetune_run")}
#: a per-run analysis rule -> the resources entry it takes (its runtime per checkpoint)
RUN_ANALYSIS_RESOURCES = {"analyse_pet_run": "analyse_pet",
                          "analyse_pet_geometric_run": "analyse_pet",
                          "analyse_polarmae_pretrain_run": "analyse_polarmae",
                          "analyse_polarmae_finetune_run": "analyse_polarmae"}
#: GPU rules that run only when the configuration names an exported model
EXTERNAL_GPU_RULES = ("analyse_metatomic",)


def gpu_request(config: Mapping[str, Any], rule: str) -> dict[str, int]:
    """The GPU a job of ``rule`` asks a cluster for: one for GPU_RULES, none for the
    other rules or with ``device: cpu``. (The rules add their threads as CPUs per GPU;
    the SLURM profile may add a partition and a GPU model.)"""
    gpu = rule in GPU_RULES + EXTERNAL_GPU_RULES
    return {"gpu": 1} if gpu and config["device"] != "cpu" else {}


def job_threads(config: Mapping[str, Any]) -> dict[str, int]:
    """The CPU threads each threaded job of this configuration asks for, by the key
    that sets them (every other job runs on one thread)."""
    threads = {"analysis.pet.threads": config["analysis"]["pet"]["threads"],
               "analysis.polarmae.threads": config["analysis"]["polarmae"]["threads"],
               "polarmae.threads": config["polarmae"]["threads"]}
    if external_models(config):
        threads["analysis.metatomic.threads"] = config["analysis"]["metatomic"]["threads"]
    for run in pet_runs(config):
        threads[f"pet.runs.{run}.training.threads"] = \
            pet_run_settings(config, run)["training"]["threads"]
    return {key: int(value) for key, value in threads.items()}


def cluster_cores(config: Mapping[str, Any], *, main_process: bool, submits_jobs: bool,
                  remote_job: bool, in_slurm_job: bool) -> int | None:
    """Snakemake's ``--cores`` for a process of a cluster run, or None to keep its own.

    Snakemake caps every job's threads at ``--cores``, for remote jobs too. On a
    cluster that number means nothing for a job: the workflow profile's ``cores: all``
    is the core count of the login node that runs ``snakemake``, and inside a job
    Snakemake counts the cores it sees, which on a node without CPU binding is not
    the allocation. Either would cut a job below the threads it asked SLURM for,
    leaving allocated CPUs idle. So:

    - ``main_process`` and ``submits_jobs`` (Snakemake's remote job limit, ``--jobs``,
      is set, the case in which its own scheduler drops the local core limit too):
      the most threads any job asks for; the jobs get this as their ``--cores``;
    - ``remote_job`` (a job's own Snakemake, started by the executor) ``in_slurm_job``:
      the same number, so the job runs with the threads its allocation was sized for;
    - anything else (a local run): None, Snakemake's own count stands.

    ``--max-threads`` still caps every job's threads.
    """
    if (main_process and submits_jobs) or (remote_job and in_slurm_job):
        return max(job_threads(config).values())
    return None


def resource_errors(config: Mapping[str, Any]) -> list[str]:
    """An analysis job asks for more memory than its own sums may take."""
    errors = []
    budget = config["analysis"]["pet"]["memory_gb"]
    for rule in ("analyse_pet", "purify_pet"):
        mem_mb = (config["resources"].get(rule) or {}).get("mem_mb")
        if mem_mb is not None and mem_mb <= budget * 1024:
            errors.append(f"resources.{rule}.mem_mb: {mem_mb} MB is not above "
                          f"analysis.pet.memory_gb ({budget:g} GiB), the memory its "
                          "character sums alone may take; the job would be killed")
    return errors


def semantic_errors(config: Mapping[str, Any]) -> list[str]:
    """Problems a schema cannot express, one line each, naming the key."""
    errors = []
    atomistic = config["data"]["atomistic"]
    fractions = atomistic["split"]
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        errors.append(f"data.atomistic.split: fractions sum to {total:g}, must sum to 1")
    else:
        sizes = synthetic_split_sizes(atomistic["synthetic"]["n_structures"], fractions)
        for name, size in sizes.items():
            if size == 0:
                errors.append(
                    f"data.atomistic.split.{name}: the {name} split receives no "
                    "structure; raise data.atomistic.synthetic.n_structures or the "
                    "fraction")
    from .data.atomistic import element_errors  # with ase: only when checking

    synthetic = atomistic["synthetic"]
    errors += element_errors(synthetic["metals"], synthetic["adsorbates"],
                             synthetic["n_structures"], synthetic["max_atoms"],
                             prefix="data.atomistic.synthetic.")

    training = config["pet"]["training"]
    if training["checkpoint_every"] > training["epochs"]:
        errors.append(
            f"pet.training.checkpoint_every: {training['checkpoint_every']} is more than "
            f"pet.training.epochs ({training['epochs']})")
    if not pet_runs(config):
        errors.append("pet.runs: every run is switched off (null); keep at least one")
    for run in pet_runs(config):
        settings = pet_run_settings(config, run)
        model = settings["model"]
        # every PET run shares pet.training's checkpoint epochs (the training rule's
        # outputs and the figures' epoch axis are one list); a run of its own would
        # train, then fail the workflow for checkpoints it never wrote
        for key in ("epochs", "checkpoint_every"):
            if settings["training"][key] != training[key]:
                own = key in ((config["pet"]["runs"][run] or {}).get("training") or {})
                where = (f"pet.runs.{run}.training.{key}" if own
                         else f"pet.geometric_runs.training.{key}")
                message = (f"{where}: {settings['training'][key]} differs from "
                           f"pet.training.{key} ({training[key]}); every PET run shares "
                           "the checkpoint epochs of pet.training")
                if message not in errors:  # pet.geometric_runs: named once
                    errors.append(message)
        if settings["architecture"] != "pet":
            from .pet.control import control_errors

            errors += control_errors(run, config["pet"]["runs"][run], settings)
            continue
        if model["d_pet"] % model["num_heads"]:
            geometric = ((config["pet"].get("geometric_runs") or {}).get("model")
                         if settings["targets"] == "geometric" else None)
            where = ("pet.runs." + run + ".model" if "model" in config["pet"]["runs"][run]
                     else "pet.geometric_runs.model" if geometric else "pet.model")
            errors.append(
                f"{where}.num_heads: {model['num_heads']} does not divide d_pet "
                f"({model['d_pet']}) for run {run}")
        spec = config["pet"]["runs"][run]
        if (settings["edge_embedding"]["type"] == "solid_harmonics"
                and "lmax" not in settings["edge_embedding"]):
            errors.append(f"pet.runs.{run}.edge_embedding.lmax: solid_harmonics needs lmax")
        embedding = spec.get("edge_embedding") or {}
        for key in ("lmax", "scale"):
            if embedding.get("type") == "cartesian" and key in embedding:
                errors.append(f"pet.runs.{run}.edge_embedding.{key}: the cartesian "
                              f"embedding has no {key} (to switch a run back to PET's own "
                              "embedding in a file layered on top, set its "
                              "edge_embedding: null)")
    analysis = config["analysis"]["pet"]
    for key in ("grid_degree", "geometric_grid_degree"):
        degree = analysis[key]
        needed = required_degree(lambda_character=analysis["lambda_max"])
        if degree is not None and degree < needed:
            errors.append(
                f"analysis.pet.{key}: {degree} is too coarse for the character projections "
                f"up to lambda_max {analysis['lambda_max']} (needs >= "
                f"{needed}, or null to choose it)")
    rule = config["analysis"]["quadrature"]
    for key, degree in analysis_grids(config).items():
        largest = largest_degree(rule)
        if degree > largest:
            errors.append(f"{key}: asks for a grid of degree {degree}; analysis.quadrature "
                          f"{rule} reaches degree {largest} at most"
                          + ("" if rule == "auto" else " (auto chooses among every rule)"))
    mus = config["analysis"]["purification"]["refit_mu"]
    bad = [mu for mu in mus if not (isinstance(mu, (int, float)) and math.isfinite(mu)
                                    and mu >= 0)]
    if not mus or bad:
        errors.append("analysis.purification.refit_mu: "
                      + (f"{', '.join(map(str, bad))}: each weight must be finite and >= 0"
                         if bad else "empty; give at least one weight (0: an ordinary "
                                     "least-squares refit)"))
    for run in config["analysis"]["purification"]["runs"]:
        if run not in pet_runs(config):
            errors.append(f"analysis.purification.runs: {run!r} is not a PET run "
                          f"(runs: {', '.join(pet_runs(config))})")
        elif pet_run_settings(config, run)["architecture"] != "pet":
            errors.append(f"analysis.purification.runs: {run!r} is an equivariant "
                          "control; purification refits PET's readouts")
    fig3_layers = config.get("figures", {}).get("fig3_layers")
    if fig3_layers and analysis["layers"] is not None:
        unknown = [x for x in fig3_layers if x not in analysis["layers"]]
        if unknown:
            errors.append(f"figures.fig3_layers: {', '.join(unknown)} not analysed; "
                          "add them to analysis.pet.layers")
    return (errors + data_source_errors(config) + polarmae_errors(config)
            + resource_errors(config) + required_run_errors(config)
            + external_model_errors(config) + pet_layer_errors(config))


#: the first component of every module path of metatrain's PET backend, and the raw
#: featurizer inputs its feature hooks also answer (metatrain pet/modules/diagnostic.py)
PET_MODULES = ("combination_mlps", "combination_norms", "edge_backbone", "edge_embedder",
               "edge_heads", "edge_last_layers", "gnn_layers", "gnn_layers_post_mp_edge",
               "gnn_layers_post_mp_node", "node_backbone", "node_embedders", "node_heads",
               "node_last_layers")
PET_FEATURIZER_INPUTS = ("element_indices_nodes", "element_indices_neighbors",
                         "edge_vectors", "edge_distances", "reverse_neighbor_index",
                         "padding_mask", "cutoff_factors")


def pet_run_outputs(config: Mapping[str, Any], run: str) -> list[str]:
    """The outputs of a PET run as the tables name them (the geometric targets without
    metatrain's ``mtt::`` prefix)."""
    settings = pet_run_settings(config, run)
    if settings["targets"] != "geometric":
        return ["energy", "non_conservative_force", "non_conservative_stress"]
    lambda_max = int(config["data"]["atomistic"]["geometric_targets"]["lambda_max"])
    return ["pseudoscalar", *(f"density_l{lam}" for lam in range(lambda_max + 1))]


def pet_layer_problem(layer: str, config: Mapping[str, Any], run: str) -> str | None:
    """Why a layer name (a metatrain module path, ``feature``, a readout's
    ``mtt::aux::<target>_last_layer_features`` or an output) is not one of this run's
    PET, or None; checked against the run's hyperparameters, without building it."""
    outputs = pet_run_outputs(config, run)
    if layer == "feature" or layer in outputs or layer.removeprefix("mtt::") in outputs:
        return None
    if layer.startswith("mtt::aux::"):
        target = layer.removeprefix("mtt::aux::").removesuffix("_last_layer_features")
        if target in outputs and layer.endswith("_last_layer_features"):
            return None
        return f"no readout {layer!r} (outputs: {', '.join(outputs)})"
    if layer in PET_FEATURIZER_INPUTS:
        return None
    if layer in ("energy", "non_conservative_force", "non_conservative_stress",
                 "pseudoscalar") or re.fullmatch(r"(mtt::)?density_l\d+", layer):
        return f"{layer!r} is not an output of this run (outputs: {', '.join(outputs)})"
    path = layer.removesuffix("_node").removesuffix("_edge")
    parts = path.split(".")
    if parts[0] not in PET_MODULES:
        return (f"{layer!r} is not a module of PET (module paths start with "
                f"{', '.join(PET_MODULES)}), nor feature or an output")
    model = pet_run_settings(config, run)["model"]
    if parts[0] == "gnn_layers" and len(parts) > 1:
        n_gnn = int(model["num_gnn_layers"])
        if not parts[1].isdigit() or int(parts[1]) >= n_gnn:
            return f"{layer!r}: PET has gnn_layers.0 to gnn_layers.{n_gnn - 1}"
        if parts[2:4] == ["trans", "layers"] and len(parts) > 4:
            n_att = int(model["num_attention_layers"])
            if not parts[4].isdigit() or int(parts[4]) >= n_att:
                return (f"{layer!r}: each GNN layer has trans.layers.0 to "
                        f"trans.layers.{n_att - 1}")
    return None


def pet_layer_errors(config: Mapping[str, Any]) -> list[str]:
    """``analysis.pet.layers`` and ``figures.fig3_layers`` entries that no analysed run
    has, found at the start rather than in every analysis job."""
    errors = []
    # a control answers its own layers (symlearn.pet.control.control_layers)
    runs = [r for r in pet_runs(config) if pet_run_settings(config, r)["architecture"] == "pet"]
    for layer in config["analysis"]["pet"]["layers"] or []:
        for run in runs:
            problem = pet_layer_problem(layer, config, run)
            if problem:
                errors.append(f"analysis.pet.layers: run {run}: {problem}")
                break
    standard = [r for r in runs if pet_run_settings(config, r)["targets"] != "geometric"]
    for layer in (config.get("figures") or {}).get("fig3_layers") or []:
        problems = [pet_layer_problem(layer, config, run) for run in standard]
        if standard and all(problems):
            errors.append(f"figures.fig3_layers: {problems[0]}")
    return errors


def external_models(config: Mapping[str, Any]) -> list[str]:
    """The names of the exported models of ``external.models``, in order."""
    return list((config.get("external") or {}).get("models") or {})


def external_model_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """One exported model's analysis settings: ``analysis.metatomic`` and the quadrature
    check, with the model's entry on top (``forces`` conservative, ``structures`` test
    when left out)."""
    settings = dict(config["analysis"]["metatomic"])
    settings["quadrature_check"] = config["analysis"]["quadrature_check"]
    settings["quadrature"] = config["analysis"]["quadrature"]
    settings.update({"forces": "conservative", "structures": "test", "outputs": None,
                     "layers": None})
    settings.update(config["external"]["models"][model])
    return settings


def external_model_errors(config: Mapping[str, Any]) -> list[str]:
    """An exported model's file or structures that do not exist, found at the start."""
    errors = []
    for model in external_models(config):
        settings = external_model_settings(config, model)
        key = f"external.models.{model}"
        if not Path(settings["path"]).is_file():
            errors.append(f"{key}.path: {settings['path']}: no such model file")
        structures = settings["structures"]
        if structures != "test" and not Path(structures).is_file():
            errors.append(f"{key}.structures: {structures}: no such extxyz file (or "
                          "'test' for the test split of data.atomistic)")
        if 2 * settings["lambda_max"] > (settings["grid_degree"] or 2 * settings["lambda_max"]):
            errors.append(f"{key}: grid_degree {settings['grid_degree']} is below 2 "
                          f"lambda_max ({2 * settings['lambda_max']})")
    return errors


def required_run_errors(config: Mapping[str, Any]) -> list[str]:
    """The runs that ``required_runs`` names (a layered configuration file such as
    config/findings.yaml needs them) are all defined, each missing one named."""
    required = config.get("required_runs") or {}
    defined = {
        "pet": ("pet.runs", pet_runs(config)),
        "polarmae": ("polarmae.runs", polarmae_runs(config)),
        "purification": ("analysis.purification.runs",
                         list(config["analysis"]["purification"]["runs"])),
    }
    errors = []
    for kind, (where, runs) in defined.items():
        missing = [run for run in required.get(kind, []) if run not in runs]
        if missing:
            errors.append(
                f"required_runs.{kind}: {', '.join(missing)} missing from {where} "
                f"({', '.join(runs) or 'none'}); the layered configuration file that sets "
                "required_runs is judged on these runs: define them, or drop that file")
    return errors


def data_source_errors(config: Mapping[str, Any]) -> list[str]:
    """The data sets named as sources exist and their event ranges are not empty."""
    errors = []
    for kind in ("atomistic", "lartpc"):
        section = config["data"][kind]
        source, downloads = section["source"], section["downloads"]
        if source != "synthetic" and source not in downloads:
            errors.append(f"data.{kind}.source: {source!r} is neither 'synthetic' nor a "
                          f"data set of data.{kind}.downloads ({', '.join(downloads)})")
    for name, spec in config["data"]["lartpc"]["downloads"].items():
        for split, part in spec["splits"].items():
            events = part.get("events")
            if events is not None and events[0] >= events[1]:
                errors.append(f"data.lartpc.downloads.{name}.splits.{split}.events: "
                              f"{events} is empty (first must be below stop)")
    return errors


def configured_pet_degree(analysis: Mapping[str, Any], geometric: bool) -> int | None:
    """The grid degree the PET analysis settings fix (``geometric_grid_degree`` for a
    run on the geometric targets, when set, else ``grid_degree``), or None: the rule of
    :func:`symmetry.degrees.analysis_degree` chooses. Shared by the workflow and the
    analysis, so that both name the same grid."""
    if geometric and analysis.get("geometric_grid_degree") is not None:
        return analysis["geometric_grid_degree"]
    return analysis.get("grid_degree")


def pet_grid_degree(config: Mapping[str, Any], run: str | None = None,
                    auto: bool = False) -> int:
    """The quadrature degree of the PET analysis of ``run`` (default: of the runs
    trained on the standard targets): the configured one (``geometric_grid_degree``
    for a run on the geometric targets, when set), or (null, or ``auto``) the rule of
    :func:`symmetry.degrees.analysis_degree` for the run's outputs."""
    analysis = config["analysis"]["pet"]
    geometric = run is not None and pet_run_settings(config, run)["targets"] == "geometric"
    configured = None if auto else configured_pet_degree(analysis, geometric)
    output_lambda = 2 if run is None else pet_output_lambda_max(config, run)
    return grid_degree(configured, analysis["lambda_max"], output_lambda)


def polarmae_grid_degree(config: Mapping[str, Any], auto: bool = False) -> int:
    """The quadrature degree of the PoLAr-MAE analysis: the configured one, or (null, or
    ``auto``) the rule of :func:`symmetry.degrees.analysis_degree` for its invariant
    outputs (the class probabilities)."""
    analysis = config["analysis"]["polarmae"]
    return grid_degree(None if auto else analysis["grid_degree"], analysis["lambda_max"], 0)


def quadrature_check_degree(config: Mapping[str, Any], degree: int) -> int | None:
    """The degree of the finer grid of the quadrature check of an analysis on
    ``degree`` (None when the check is off)."""
    check = config["analysis"]["quadrature_check"]
    return degree + check["delta"] if check["n_inputs"] > 0 else None


def analysis_grids(config: Mapping[str, Any]) -> dict[str, int]:
    """The grid degrees the analyses of this configuration run on, each named by the
    key that sets it: the PET runs' (standard and geometric), PoLAr-MAE's, and their
    quadrature checks' finer grids."""
    grids = {}
    pet = config["analysis"]["pet"]
    standard = ("analysis.pet.grid_degree" if pet["grid_degree"] is not None
                else "analysis.pet.lambda_max")
    geometric = ("analysis.pet.geometric_grid_degree"
                 if pet["geometric_grid_degree"] is not None else
                 f"{standard} (geometric runs)" if pet["grid_degree"] is not None else
                 "analysis.pet.lambda_max with the geometric targets' lambda_max")
    for targets, key in (("standard", standard), ("geometric", geometric)):
        runs = [r for r in pet_runs(config)
                if pet_run_settings(config, r)["targets"] == targets]
        if runs:
            grids[key] = pet_grid_degree(config, runs[0])
    if polarmae_runs(config):
        grids[("analysis.polarmae.grid_degree"
               if config["analysis"]["polarmae"]["grid_degree"] is not None
               else "analysis.polarmae.lambda_max")] = polarmae_grid_degree(config)
    for key, degree in list(grids.items()):
        check = quadrature_check_degree(config, degree)
        if check is not None:
            grids[f"{key}, its quadrature check"] = check
    return grids


def grid_warnings(config: Mapping[str, Any]) -> list[str]:
    """A grid above ``analysis.grid_warning_copies`` rotated copies, with its size."""
    limit = config["analysis"]["grid_warning_copies"]
    if limit is None:
        return []
    warnings = []
    for key, degree in analysis_grids(config).items():
        # a rule exact to degree D has at least sum_{l <= D/2} (2l + 1)^2 rotations, so
        # 2 (D + 1)^3 / 6 copies or more: the exact count only where it may matter
        if 2 * (degree + 1) ** 3 / 3 <= limit:
            continue
        try:
            copies = 2 * choose(degree, config["analysis"]["quadrature"])[2]
        except NoRule:
            continue  # an error of semantic_errors
        if copies > limit:
            warnings.append(
                f"{key}: a grid of degree {degree}, {copies:,} rotated copies of each "
                f"input per checkpoint (above analysis.grid_warning_copies, {limit:,})")
    return warnings


def config_warnings(config: Mapping[str, Any]) -> list[str]:
    """What a valid configuration asks for that it may not want, one line each, naming
    the key: a grid above ``analysis.grid_warning_copies`` copies, and more analysed
    structures than the synthetic test split holds (the analysis then takes the whole
    split)."""
    warnings = grid_warnings(config)
    atomistic = config["data"]["atomistic"]
    if atomistic["source"] != "synthetic":
        return warnings  # a downloaded split's size is known only once it is fetched
    test = synthetic_split_sizes(atomistic["synthetic"]["n_structures"],
                                 atomistic["split"])["test"]
    analysis = config["analysis"]["pet"]
    asked = {"analysis.pet.n_structures": analysis["n_structures"],
             "analysis.pet.geometric_n_structures": analysis["geometric_n_structures"]}
    for key, n in asked.items():
        if n is not None and n > test:
            warnings.append(f"{key}: {n} asked, but the synthetic test split holds {test} "
                            f"structures; the analysis will use all {test}")
    return warnings


def results_folder_errors(config: Mapping[str, Any], workdir: str | Path,
                          repository: str | Path) -> list[str]:
    """The ``results`` folder that is surely a mistake: a null spelt as a string (what
    ``--config results=null`` gives), or a working folder inside the repository but
    not its root (``snakemake -s ../Snakefile`` from ``docs/``), which would write the
    results into that subfolder."""
    errors = []
    results = config.get("results")
    if isinstance(results, str) and results.strip().lower() in ("null", "none", "~", ""):
        errors.append(f"results: {results!r} is not a folder name (give a path, e.g. "
                      "results)")
    workdir, repository = Path(workdir).resolve(), Path(repository).resolve()
    if workdir != repository and workdir.is_relative_to(repository):
        errors.append(f"the working folder {workdir} is inside the repository but not its "
                      f"root: run snakemake from {repository} (or --directory elsewhere)")
    return errors


def check_config(config: Mapping[str, Any], schema: Mapping | None = None) -> None:
    """Raise :class:`ConfigError` listing every problem, schema first."""
    errors = schema_errors(config, schema)
    if not errors:
        errors = semantic_errors(config)
    if errors:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errors))


def checkpoint_epochs(epochs: int, every: int) -> list[int]:
    """Epochs (counted as completed epochs) that get a checkpoint: 0, every k, last."""
    if epochs < 1 or every < 1:
        raise ValueError(f"epochs and checkpoint_every must be >= 1, got {epochs}, {every}")
    return sorted({0, *range(every, epochs + 1, every), epochs})


def pet_checkpoint_epochs(config: Mapping[str, Any]) -> list[int]:
    """Epochs with a checkpoint, shared by every PET run."""
    training = config["pet"]["training"]
    return checkpoint_epochs(training["epochs"], training["checkpoint_every"])


def pet_analysed_epochs(config: Mapping[str, Any], run: str) -> list[int]:
    """The checkpoint epochs of one PET run that the analysis reads: every checkpoint,
    except for the runs on the geometric targets when ``analysis.pet.geometric_every``
    is set: their checkpoints at multiples of it, and the last (their degree-12 grid
    makes each analysis the cost of the default run; fig6 (a) and fig7 follow the test
    error at these epochs, fig6 (b) reads the last)."""
    epochs = pet_checkpoint_epochs(config)
    every = config["analysis"]["pet"].get("geometric_every")
    if every is None or pet_run_settings(config, run)["targets"] != "geometric":
        return epochs
    return [epoch for epoch in epochs if epoch % int(every) == 0 or epoch == epochs[-1]]


def pet_checkpoint_scope(config: Mapping[str, Any], run: str, epoch: int) -> str:
    """What the analysis of one checkpoint computes (``analysis.pet.scope``): ``all``
    (A and B of every layer of ``analysis.pet.layers``), or, with ``scope: figures``
    for a checkpoint before the run's last analysed one, what the figures and the
    claims read of it: ``as_given`` (a run on the geometric targets: the test error as
    given, no grid; fig6 (a)) or ``figure_layers`` (A and B of fig3's layers, when
    ``layers`` is null; fig3)."""
    pet = config["analysis"]["pet"]
    if pet.get("scope", "figures") != "figures":
        return "all"
    if int(epoch) == pet_analysed_epochs(config, run)[-1]:
        return "all"
    if pet_run_settings(config, run)["targets"] == "geometric":
        return "as_given"
    return "figure_layers" if pet.get("layers") is None else "all"


def polarmae_runs(config: Mapping[str, Any]) -> list[str]:
    """Names of the PoLAr-MAE runs (a run set to null is switched off)."""
    return [run for run, spec in config["polarmae"]["runs"].items() if spec is not None]


def polarmae_run_settings(config: Mapping[str, Any], run: str,
                          seed: int | None = None) -> dict[str, Any]:
    """Everything one PoLAr-MAE run's training reads: the shared ``polarmae`` settings
    overridden by the run, its training ``seed`` (None: the run's first), and the data's
    preprocessing (stored in every checkpoint, so the analysis reads events exactly as
    the model was trained on them)."""
    spec = config["polarmae"]["runs"].get(run)
    if spec is None:
        raise ConfigError(f"polarmae.runs.{run}: no such run "
                          f"(runs: {', '.join(polarmae_runs(config))})")
    shared = config["polarmae"]
    return {
        "augmentation": spec["augmentation"],
        "model": deep_merge(shared["model"], spec.get("model", {})),
        "tokenizer": deep_merge(shared["tokenizer"], spec.get("tokenizer", {})),
        "pretrain": dict(shared["pretrain"]),
        "finetune": dict(shared["finetune"]),
        "seed": run_seeds(config, "polarmae", run)[0] if seed is None else int(seed),
        "preprocessing": copy.deepcopy(dict(config["data"]["lartpc"]["preprocessing"])),
    }


def polarmae_checkpoint_steps(config: Mapping[str, Any], phase: str) -> list[int]:
    """Steps with a checkpoint in one phase (pretrain or finetune), shared by every run."""
    options = config["polarmae"][phase]
    return checkpoint_epochs(options["steps"], options["checkpoint_every"])


def polarmae_tokenizer_errors(config: Mapping[str, Any], run: str,
                              tokenizer: Mapping[str, Any]) -> list[str]:
    """Groups an event cannot supply: farthest-point centres need ``n_tokens`` points,
    and the farthest-point members of a group are chosen from ``upscale_points``."""
    where = (f"polarmae.runs.{run}.tokenizer"
             if "tokenizer" in config["polarmae"]["runs"][run] else "polarmae.tokenizer")
    errors = []
    min_points = config["data"]["lartpc"]["preprocessing"].get("min_points")
    if tokenizer["centres"] == "fps" and min_points and tokenizer["n_tokens"] > min_points:
        errors.append(f"{where}.n_tokens: {tokenizer['n_tokens']} farthest-point groups, "
                      f"but an event may have only {min_points} points "
                      f"(data.lartpc.preprocessing.min_points) (run {run})")
    if tokenizer["members"] == "fps" and tokenizer["group_size"] > tokenizer["upscale_points"]:
        errors.append(f"{where}.group_size: {tokenizer['group_size']} points per group, "
                      f"chosen from only upscale_points = {tokenizer['upscale_points']} "
                      f"(run {run})")
    return errors


def polarmae_errors(config: Mapping[str, Any]) -> list[str]:
    """The PoLAr-MAE part of :func:`semantic_errors`."""
    errors = []
    for phase in ("pretrain", "finetune"):
        options = config["polarmae"][phase]
        if options["checkpoint_every"] > options["steps"]:
            errors.append(f"polarmae.{phase}.checkpoint_every: {options['checkpoint_every']}"
                          f" is more than polarmae.{phase}.steps ({options['steps']})")
    runs = polarmae_runs(config)
    if not runs:
        errors.append("polarmae.runs: every run is switched off (null); keep at least one")
    depths = []
    for run in runs:
        settings = polarmae_run_settings(config, run)
        model = settings["model"]
        where = (f"polarmae.runs.{run}.model" if "model" in config["polarmae"]["runs"][run]
                 else "polarmae.model")
        depths.append(model["depth"])
        if model["width"] % model["heads"]:
            errors.append(f"{where}.heads: {model['heads']} does not divide width "
                          f"({model['width']}) for run {run}")
        blocks = model["segmentation_blocks"] or []
        bad = [b for b in blocks if not -model["depth"] <= b < model["depth"]]
        if bad:
            errors.append(f"{where}.segmentation_blocks: {bad} not blocks of a "
                          f"{model['depth']}-block encoder (run {run})")
        errors += polarmae_tokenizer_errors(config, run, settings["tokenizer"])
    log_energy = config["data"]["lartpc"]["preprocessing"]["log_energy"]
    if log_energy and log_energy["emin"] >= log_energy["emax"]:
        errors.append("data.lartpc.preprocessing.log_energy: emin must be below emax")
    analysis = config["analysis"]["polarmae"]
    layers = analysis["layers"] or []
    if depths:
        bad = [x for x in layers if x.startswith("blocks.") and int(x[7:]) >= min(depths)]
        if bad:
            errors.append(f"analysis.polarmae.layers: {', '.join(bad)} beyond the last block "
                          f"(blocks.{min(depths) - 1})")
    degree = analysis["grid_degree"]
    needed = polarmae_grid_degree(config, auto=True)
    if degree is not None and degree < needed:
        errors.append(f"analysis.polarmae.grid_degree: {degree} is too coarse; lambda_max "
                      f"{analysis['lambda_max']} needs a grid of degree >= {needed} "
                      "(or null to choose it)")
    fig1_run = config.get("figures", {}).get("fig1_run")
    if fig1_run is not None and fig1_run not in runs:
        errors.append(f"figures.fig1_run: {fig1_run!r} is not a PoLAr-MAE run "
                      f"(runs: {', '.join(runs)})")
    return errors
