"""Loading the configuration, its schema, and the coercion of command-line strings:
what every section module builds on.

The schema (``workflow/schemas/config.schema.yaml``) catches unknown keys, wrong types
and out-of-range values, each message naming the key; the section modules beside this
one catch what a schema cannot (:mod:`symlearn.settings.checks` gathers them).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..errors import ConfigError

#: the repository's workflow/ folder, when this package runs from a checkout
_WORKFLOW = Path(__file__).resolve().parents[2]


def _repository_or_shipped(in_repository: Path, shipped_name: str) -> Path:
    """A file of the repository when the package runs from a checkout (an editable
    install, the workflow), else the copy the wheel ships (setup.py copies it at build
    time): one source either way."""
    if in_repository.is_file() and (_WORKFLOW.parent / "Snakefile").is_file():
        return in_repository
    return Path(__file__).resolve().parent / "shipped" / shipped_name


SCHEMA_PATH = _repository_or_shipped(_WORKFLOW / "schemas" / "config.schema.yaml",
                                     "config.schema.yaml")
#: the embedded default, which the workflow lays every --configfile on
DEFAULT_CONFIG = _repository_or_shipped(_WORKFLOW.parent / "config" / "config.yaml",
                                        "config.yaml")


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
                    option: str = "--settings", not_taken: tuple[str, ...] = ()
                    ) -> list[str]:
    """A command's ``--settings`` against the schema of the config section they come
    from (``analysis.pet``, ...): a missing key, a wrong type or a value out of range,
    one line each, naming the key. The how-it-runs keys that reach a command apart
    (its threads) and the section's keys the command does not take (``not_taken``) are
    not required; keys the section lacks (the quadrature check the workflow adds) are
    allowed."""
    root = load_schema()
    node: Mapping = root
    for key in section.split("."):
        node = _resolve(node, root)["properties"][key]
    node = dict(_resolve(node, root))
    node["required"] = [key for key in node.get("required", [])
                        if key not in ("threads", *not_taken)]
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


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively by ``override`` (copies, inputs untouched), with
    Snakemake's own merge, so that it matches how ``--configfile`` files combine."""
    from snakemake.utils import update_config

    merged = copy.deepcopy(dict(base))
    update_config(merged, copy.deepcopy(dict(override)))
    return merged


def config_section(config: Mapping[str, Any], section: str, missing: Any = None) -> Any:
    """The mapping at a dotted config ``section`` ("" for the top level); with
    ``missing`` given, that value where a level is absent or null, else a KeyError."""
    settings: Any = config
    for key in filter(None, section.split(".")):
        settings = settings[key] if missing is None else (settings.get(key) or missing)
    return settings
