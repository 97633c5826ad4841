"""The config: checked against ``workflow/schemas/config.schema.yaml``, defaults
filled, renamed keys translated, and each scale's effective settings.

Messages are our own: one line per problem, naming the setting, the value and
what is allowed. They come from iterating the schema's errors with a plain
``jsonschema`` validator; ``snakemake.utils.validate(..., set_default=True)``
then fills the defaults (its own error message is jsonschema's, which names
neither the setting nor what is allowed, so it only runs on a valid config).
Checks a schema cannot express (a duplicated scale, a batch larger than the
training set, too few steps for the timing schedule) follow.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from ..common.series import AXES
from ..common.sizes import canonical_scale, decimals, widths_of
from .runspec import Timing, Training, schedule_of

# The schema: the one place the settings, their defaults and what a scale entry may
# override are stated.
SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"


# Keys renamed since earlier versions: old name -> new name, in `timing` and scale
# entries, and in `refine` (its extra processes come in waves: "batch" is the
# batch size only).
RENAMED = {
    "repeats": "rounds",
    "steps_per_repeat": "steps_per_window",
    "mimic_seed_prints": "mimic_post_prints",
}
REFINE_RENAMED = {"max_batches": "max_waves", "batch_if_wider": "wave_if_wider"}


class ConfigError(ValueError):
    """A config that cannot be run; the message names each bad setting and what is
    allowed."""


def load_schema(path: str | Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def validate_config(config, schema_path: str | Path) -> tuple[dict, list[str]]:
    """The config with defaults filled, and deprecation notes; or one ConfigError
    listing every problem."""
    from snakemake.utils import validate

    if not isinstance(config, dict):
        raise ConfigError(
            f"the config must be a mapping of settings, got {type(config).__name__}: "
            f"{config!r}"
        )
    config = copy.deepcopy(config)
    notes, problems = translate_renamed(config)
    schema = load_schema(schema_path)
    errors = sorted(
        Draft202012Validator(schema).iter_errors(config),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    problems += list(dict.fromkeys(_message(e, schema) for e in errors))
    if not problems:
        validate(config, str(Path(schema_path).resolve()), set_default=True)
        problems = _semantic_problems(config)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
    return config, notes


def translate_renamed(config: dict) -> tuple[list[str], list[str]]:
    """Rename old keys in place; return (deprecation notes, conflicts)."""
    notes, problems = [], []
    places = [
        ("timing", config.get("timing"), RENAMED),
        ("refine", config.get("refine"), REFINE_RENAMED),
    ]
    places += [
        (f"scales[{i}]", e, RENAMED)
        for i, e in enumerate(config.get("scales") or [])
        if isinstance(e, dict)
    ]
    for where, section, renamed in places:
        if not isinstance(section, dict):
            continue
        for old, new in renamed.items():
            if old not in section:
                continue
            if new in section:
                problems.append(
                    f"{where}.{old} and {where}.{new} are both set; {old} is the old "
                    f"name of {new}: keep {new}"
                )
                del section[old]  # one message for it, not an unknown setting too
                continue
            section[new] = section.pop(old)
            notes.append(
                f"{where}.{old} is deprecated: read as {where}.{new} = "
                f"{section[new]!r}; rename it"
            )
    return notes, problems


def overridable(schema: dict) -> dict[str, str]:
    """Settings a scale entry may override, and the section each lives in: the
    properties of a scale entry in the schema, other than ``scale``."""
    entry = next(
        b for b in schema["properties"]["scales"]["items"]["anyOf"] if "properties" in b
    )
    sections = ("train", "timing")
    return {
        key: next(s for s in sections if key in schema["properties"][s]["properties"])
        for key in entry["properties"]
        if key != "scale"
    }


@functools.cache
def _overridable() -> dict[str, str]:
    return overridable(load_schema(SCHEMA))


def scale_of(entry) -> int | float:
    """A scale entry's scale, as one value whatever its spelling (``1.0`` is ``1``)."""
    return canonical_scale(entry["scale"] if isinstance(entry, dict) else entry)


def scale_sections(config: dict, entry) -> dict[str, dict]:
    """The effective ``train`` and ``timing`` settings of one scale: the global ones
    with the entry's overrides applied (a series axis may still hold a list:
    ``run_sections`` gives one run's)."""
    out = {section: dict(config[section]) for section in ("train", "timing")}
    if isinstance(entry, dict):
        for key, value in entry.items():
            if key != "scale":
                out[_overridable()[key]][key] = value
    return out


def values_of(setting) -> list:
    """A series axis's values: one value, or a list of them (in the order given)."""
    return list(setting) if isinstance(setting, list) else [setting]


def series_of(sections: dict) -> list[dict]:
    """Every combination of the series axes' values (``series.AXES``) one scale's
    settings list: each is a curve of its own."""
    combos = [{}]
    for axis in AXES:
        combos = [
            {**c, axis: v} for c in combos for v in values_of(sections["train"][axis])
        ]
    return combos


def run_sections(config: dict, entry) -> list[tuple[dict, dict[str, dict]]]:
    """One scale's runs: each series (its axes' values) with its effective ``train``
    and ``timing`` settings."""
    sections = scale_sections(config, entry)
    return [
        (values, {**sections, "train": {**sections["train"], **values}})
        for values in series_of(sections)
    ]


def _semantic_problems(config: dict) -> list[str]:
    problems, seen = [], {}
    for i, entry in enumerate(config["scales"]):
        raw = entry["scale"] if isinstance(entry, dict) else entry
        where = f"scales[{i}]" + (".scale" if isinstance(entry, dict) else "")
        if decimals(raw) > 2:
            problems.append(
                f"{where} = {raw} is not allowed; allowed: a positive number with at "
                "most two decimals (0.25, 1.5, 7)"
            )
            continue
        try:
            widths_of(raw)
        except ValueError as exc:
            problems.append(
                f"{where} = {raw} is not allowed: {exc}, and a layer needs at least "
                "one unit; allowed: a scale whose widths (100, 300 and 200 units per "
                "unit of scale, rounded) are all at least 1"
            )
            continue
        scale = scale_of(entry)
        if scale in seen:
            problems.append(
                f"scales[{i}] = {scale} duplicates scales[{seen[scale]}]; "
                "allowed: each scale once"
            )
        seen.setdefault(scale, i)
        raw = scale_sections(config, entry)
        problems += _repeated_values(raw, i, entry)
        for _, sections in run_sections(config, entry):
            problems += _protocol_problems(
                scale, raw, sections, i, entry, config["data"]["n_train"]
            )
    return list(dict.fromkeys(problems))


def _repeated_values(sections: dict, i: int, entry) -> list[str]:
    """A series axis that lists one value twice."""
    out = []
    for axis in AXES:
        values = values_of(sections["train"][axis])
        twice = sorted({str(v) for v in values if values.count(v) > 1})
        if twice:
            out.append(
                f"{_where(i, entry, axis)} = {values} lists {', '.join(twice)} more "
                "than once; allowed: each value once"
            )
    return out


def _where(i: int, entry, key: str) -> str:
    """Where a scale's effective value was set: its entry, or the global section."""
    if isinstance(entry, dict) and key in entry:
        return f"scales[{i}].{key}"
    return f"{_overridable().get(key, 'train')}.{key}"


def _protocol_problems(
    scale: float, raw: dict, s: dict, i: int, entry, n_train: int
) -> list[str]:
    """A batch larger than the training set, or a schedule the protocol cannot hold
    (each batch size has its own protocol: epochs x batches per epoch)."""
    batch = s["train"]["batch_size"]
    if batch > n_train:
        where, setting = _where(i, entry, "batch_size"), raw["train"]["batch_size"]
        shown = f"{setting} (its {batch})" if isinstance(setting, list) else batch
        return [
            f"{where} = {shown} is larger than the training set; allowed: at most "
            f"data.n_train = {n_train}"
        ]
    try:
        schedule_of(Training(**s["train"]), Timing(**s["timing"]), n_train)
    except ValueError as exc:
        keys = ("warmup_steps", "rounds", "switch_steps", "steps_per_window")
        names = ", ".join(f"{_where(i, entry, k)} = {s['timing'][k]!r}" for k in keys)
        return [
            f"scale {scale} at batch_size {batch}: {names}: {exc}; raise "
            f"{_where(i, entry, 'epochs')} or shorten the schedule"
        ]
    return []


def check_config_file(path: str | Path) -> None:
    """Refuse a config file that is not YAML or not a mapping, naming the file and the
    place.

    (Snakemake's own messages for these name neither.) A missing file is left to
    Snakemake, which names it.
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
        raise ConfigError(
            f"{path} must be a mapping of settings (scales:, devices:, ...), got "
            f"{type(data).__name__}: {data!r}"
        )


# --- messages from the schema's errors ---------------------------------------


def _setting_name(path) -> str:
    name = ""
    for part in path:
        name += (
            f"[{part}]"
            if isinstance(part, int)
            else (f".{part}" if name else str(part))
        )
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
    if kind == "integer" and schema.get("minimum") == 1:
        return "a positive integer"
    bounds = []
    if "minimum" in schema:
        bounds.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bounds.append(f"> {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema:
        bounds.append(f"< {schema['exclusiveMaximum']}")
    if kind:
        article = "an" if kind[0] in "aeiou" else "a"
        return f"{article} {kind} {' and '.join(bounds)}".strip()
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
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Explain through the branch that matches the value's kind (a wrong kind fails
        # on "type").
        same_kind = [e for e in error.context if e.validator != "type"]
        inner = [
            e
            for e in same_kind
            if len(e.absolute_path) > len(error.absolute_path)
            or e.validator == "additionalProperties"
        ]
        if inner:
            return _message(inner[0], schema)
    value = error.instance
    hint = ""
    if isinstance(value, str):
        try:
            float(value)
            hint = (
                " (YAML reads this as text: write the number with a decimal point, "
                "e.g. 1.0e-3)"
            )
        except ValueError:
            pass
    shown = json.dumps(value) if isinstance(value, (dict, list)) else repr(value)
    setting = _setting_name(error.absolute_path)
    allowed = _allowed(error, schema)
    return f"{setting} = {shown} is not allowed{hint}; allowed: {allowed}"
