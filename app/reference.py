"""Reference tables written from the code itself: every setting from ``Settings``, every command and
option from the CLI. ``scripts/reference_docs.py`` puts them into docs/ between markers, and
``make lint`` fails when the docs and the code disagree, so the docs cannot drift."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic.fields import FieldInfo
from typer.main import get_command

from app.settings import Settings

_NAMES = {int: "integer", float: "number", bool: "`true` or `false`", str: "text", Path: "path"}


def _options(values: tuple[Any, ...]) -> str:
    quoted = [f"`{v}`" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _bounds(info: FieldInfo) -> str:
    low = high = ""
    for item in info.metadata:
        if isinstance(item, Ge):
            low = f"{item.ge:g}" if isinstance(item.ge, float) else str(item.ge)
        elif isinstance(item, Gt):
            low = f"above {item.gt:g}"
        elif isinstance(item, Le):
            high = f"{item.le:g}" if isinstance(item.le, float) else str(item.le)
        elif isinstance(item, Lt):
            high = f"below {item.lt:g}"
        elif isinstance(item, MinLen):
            low = str(item.min_length)
        elif isinstance(item, MaxLen):
            high = str(item.max_length)
    if low.startswith("above") and high:
        return f"{low} and at most {high}"
    if low and high:
        return f"{low}–{high}"
    if low:
        return low.replace("above ", "> ") if low.startswith("above") else f"≥ {low}"
    return f"≤ {high}" if high else ""


def setting_type(info: FieldInfo) -> str:
    """How the docs name a setting's type: from ``doc_type`` when given, else from the annotation
    and its bounds ("integer, 32–2048")."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "doc_type" in extra:
        return str(extra["doc_type"])
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return _options(get_args(annotation))
    if get_origin(annotation) is list:
        return "JSON list of " + _NAMES[get_args(annotation)[0]]
    name = next((text for kind, text in _NAMES.items() if annotation is kind), str(annotation))
    bounds = _bounds(info)
    if annotation is str and bounds:
        return f"{bounds} characters".replace("≥ ", "at least ")
    return f"{name}, {bounds}" if bounds else name


def setting_default(info: FieldInfo) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "doc_default" in extra:
        return str(extra["doc_default"])
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{json.dumps(value)}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def settings_table() -> str:
    """The "All settings" table of docs/configuration.md, one row per field, in class order."""
    rows = ["| Variable | Type | Default | Effect |", "|---|---|---|---|"]
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, info in Settings.model_fields.items():
        if not info.description:
            raise ValueError(f"setting {name} has no description: the docs are written from it")
        cells = [f"`{prefix}{name.upper()}`", setting_type(info), setting_default(info), info.description]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


# typer carries its own copy of click, so commands and parameters are read by their attributes.


def _option_row(param: Any) -> str:
    if param.param_type_name == "argument":
        names = f"`{_argument_usage(param)}`"
    else:
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    help_text = " ".join((getattr(param, "help", None) or "").split())
    default = param.default
    if param.required:
        shown = "required"
    elif getattr(param, "is_flag", False) or default in (None, (), []) or callable(default):
        shown = ""
    else:
        shown = f"`{getattr(default, 'value', default)}`"
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in (names, help_text, shown)) + " |"


def _argument_usage(param: Any) -> str:
    name = str(param.name).upper() + ("..." if param.nargs == -1 else "")
    return name if param.required else f"[{name}]"


def _command_section(path: str, command: Any) -> list[str]:
    lines = [f"### `{path}`", ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    usage = " ".join([path, "[OPTIONS]", *(_argument_usage(p) for p in arguments)])
    lines += ["```", usage, "```", ""]
    if command.help:
        lines += [" ".join(command.help.split("\n\n")[0].split()), ""]
    params = [p for p in command.params if p.name != "help"]
    if params:
        lines += ["| Argument or option | Meaning | Default |", "|---|---|---|"]
        lines += [_option_row(p) for p in params]
        lines.append("")
    return lines


def _walk(path: str, command: Any) -> list[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        return _command_section(path, command)
    own = [p for p in command.params if p.name != "help"]
    out: list[str] = _command_section(path, command) if own else []
    for name in subcommands:
        if not subcommands[name].hidden:
            out += _walk(f"{path} {name}", subcommands[name])
    return out


def cli_reference() -> str:
    """Every command with its arguments and options, as ``--help`` has them."""
    from app.cli.main import app

    return "\n".join(_walk("citewise", get_command(app))).rstrip() + "\n"
