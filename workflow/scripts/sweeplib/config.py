"""Config validation (JSON schema with defaults, plus checks a schema cannot express)
and the expansion of a config into the runs of a sweep, each with its cache key."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, validators

from .sizes import ModelSizes

# Settings a scale entry may override, and the section of the config each lives in.
OVERRIDABLE = {
    "epochs": "train",
    "batch_size": "train",
    "lr": "train",
    "warmup_steps": "timing",
    "repeats": "timing",
    "steps_per_repeat": "timing",
}


class ConfigError(ValueError):
    """A config that cannot be run; the message names each bad setting and what is allowed."""


def _with_defaults(validator_class):
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": fill_then_check})


DefaultFillingValidator = _with_defaults(Draft7Validator)


def _setting_name(path) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(the whole config)"


def _allowed(error, root_schema) -> str:
    """The nearest description of what a setting allows."""
    schema = error.schema
    if "description" in schema:
        return schema["description"]
    if "$ref" in schema:
        node = root_schema
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return node.get("description") or _describe(node)
    return _describe(schema)


def _describe(schema: dict) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    kind = schema.get("type")
    bounds = []
    if "minimum" in schema:
        bounds.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bounds.append(f"> {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema:
        bounds.append(f"< {schema['exclusiveMaximum']}")
    if kind == "integer" and schema.get("minimum") == 1:
        return "a positive integer"
    if kind:
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} {' and '.join(bounds)}".strip()
    return "see workflow/schemas/config.schema.yaml"


def _message(error, schema) -> str:
    """One line per problem: the setting, the bad value, what is allowed."""
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        where = _setting_name(error.absolute_path)
        keys = ", ".join(error.schema.get("properties", {}))
        names = ", ".join(f"{where}.{k}" if error.absolute_path else k for k in unknown)
        return f"unknown setting {names}; allowed here: {keys}"
    if error.validator == "required":
        return f"{_setting_name(error.absolute_path)}: {error.message}"
    setting = _setting_name(error.absolute_path)
    value = error.instance
    allowed = _allowed(error, schema)
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Explain through the branch that matches the value's kind (a wrong kind fails on "type").
        same_kind = [e for e in error.context if e.validator != "type"]
        inner = [e for e in same_kind if len(e.absolute_path) > len(error.absolute_path) or e.validator == "additionalProperties"]
        if inner:
            return _message(inner[0], schema)
    hint = ""
    if isinstance(value, str):
        try:
            float(value)
            hint = " (YAML reads this as text: write the number with a decimal point, e.g. 1.0e-3)"
        except ValueError:
            pass
    shown = json.dumps(value) if isinstance(value, (dict, list)) else repr(value)
    return f"{setting} = {shown} is not allowed{hint}; allowed: {allowed}"


def load_schema(path: str | Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def validate_config(config, schema: dict) -> dict:
    """Fill defaults and check everything; raise one ConfigError listing every problem."""
    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping of settings, got {type(config).__name__}: {config!r}")
    config = copy.deepcopy(config)
    errors = sorted(DefaultFillingValidator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = list(dict.fromkeys(_message(e, schema) for e in errors))
    if not problems:
        problems = _semantic_problems(config)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
    return config


def _semantic_problems(config: dict) -> list[str]:
    problems = []
    seen = {}
    for i, entry in enumerate(config["scales"]):
        scale = entry["scale"] if isinstance(entry, dict) else entry
        if scale in seen:
            problems.append(f"scales[{i}] = {scale} duplicates scales[{seen[scale]}]; allowed: each scale once")
        seen.setdefault(scale, i)
        settings = scale_settings(config, entry)

        def name(key: str) -> str:  # where the effective value was set: the scale's entry or the global section
            return f"scales[{i}].{key}" if isinstance(entry, dict) and key in entry else f"{OVERRIDABLE[key]}.{key}"

        n_train = config["data"]["n_train"]
        if settings["batch_size"] > n_train:
            problems.append(f"{name('batch_size')} = {settings['batch_size']} is larger than the training set; "
                            f"allowed: at most data.n_train = {n_train}")
            continue
        protocol = settings["epochs"] * -(-n_train // settings["batch_size"])
        if protocol - settings["warmup_steps"] < settings["repeats"]:
            problems.append(
                f"{name('warmup_steps')} = {settings['warmup_steps']} and {name('repeats')} = {settings['repeats']} "
                f"leave fewer than one step per repeat of the {protocol}-step protocol of scale {scale}; "
                f"allowed: warmup_steps + repeats <= epochs x batches per epoch"
            )
    return list(dict.fromkeys(problems))


def scale_settings(config: dict, entry) -> dict:
    """The effective settings of one scale: the global ones with the entry's overrides applied."""
    out = {"scale": entry["scale"] if isinstance(entry, dict) else entry}
    for key, section in OVERRIDABLE.items():
        out[key] = config[section][key]
    if isinstance(entry, dict):
        out.update({k: v for k, v in entry.items() if k != "scale"})
    return out


def digest(obj) -> str:
    """A short, stable hash of a JSON-able object (sorted keys, so key order never matters)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def code_digest(paths) -> str:
    """Hash of the source files that produce a result: edit one, and its results are recomputed."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Run:
    """One (scale, device) cell of the sweep and everything that determines its result."""

    scale: int
    device: str
    key: str
    dataset_key: str
    settings: dict

    @property
    def folder(self) -> str:
        return f"results/runs/scale{self.scale}/{self.device}/{self.key}"


def dataset_settings(config: dict, scale: int, torch_version: str, data_code: str) -> dict:
    d = config["data"]
    return {
        "num_inputs": ModelSizes.for_scale(scale).num_inputs,
        "n_train": d["n_train"],
        "n_test": d["n_test"],
        "seed": d["seed"],
        "torch": torch_version,
        "code": data_code,
    }


def expand_runs(config: dict, devices: dict[str, dict], torch_version: str, data_code: str, train_code: str) -> list[Run]:
    """Every (scale, device) run of a validated config, keyed on all that affects its result.

    ``devices`` maps each device name to what identifies its hardware
    (``{"threads": ..., "hardware": ..., "machine": ...}``).
    """
    runs = []
    for entry in config["scales"]:
        s = scale_settings(config, entry)
        sizes = ModelSizes.for_scale(s["scale"])
        data = dataset_settings(config, s["scale"], torch_version, data_code)
        dataset_key = digest(data)
        for name, hardware in devices.items():
            settings = {
                "scale": s["scale"],
                "sizes": sizes.to_dict(),
                "params": sizes.num_params,
                "data": {**data, "key": dataset_key},
                "train": {
                    "epochs": s["epochs"],
                    "batch_size": s["batch_size"],
                    "lr": s["lr"],
                    "model_seed": config["train"]["model_seed"],
                    "loader": config["train"]["loader"],
                    "num_workers": config["train"]["num_workers"],
                },
                "timing": {
                    "warmup_steps": s["warmup_steps"],
                    "repeats": s["repeats"],
                    "steps_per_repeat": s["steps_per_repeat"],
                    "mimic_seed_prints": config["timing"]["mimic_seed_prints"],
                },
                "device": {"name": name, **hardware},
                "torch": torch_version,
                "code": train_code,
            }
            runs.append(Run(s["scale"], name, digest(settings), dataset_key, settings))
    return runs


def check_config_file(path: str | Path) -> None:
    """Refuse a config file that is not YAML or not a mapping, naming the file and the place.

    (Snakemake's own messages for these name neither.) A missing file is left
    to Snakemake, which names it.
    """
    path = Path(path)
    if not path.exists():
        return
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path} is not valid YAML{at}: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings (scales:, devices:, ...), got {type(data).__name__}: {data!r}")
