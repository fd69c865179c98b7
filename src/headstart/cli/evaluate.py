"""`headstart eval PROTOCOL SOURCE`: one command per registered protocol, its options made
from the protocol's settings — so an option that does not apply to a protocol does not exist
for it. `headstart eval STORE` still means the k-shot grid (`eval few-shot STORE`)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from headstart import api
from headstart.cli.common import _choice, _options, _print_grid, _split, app, mil_app
from headstart.exceptions import DataError

DEFAULT = "few-shot"
# the flags of the single `eval` command before protocols had commands of their own
MOVED = {"--open-set": "open-set", "--incremental": "incremental", "--adapt": "base-novel"}


class DefaultProtocol(TyperGroup):
    """`eval STORE ...` runs the default protocol; `eval PROTOCOL STORE ...` the named one."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        moved = [MOVED[a.split("=")[0]] for a in args if a.split("=")[0] in MOVED]
        if moved:
            raise typer.BadParameter(
                f"each protocol is a command of its own now: headstart eval {moved[0]} STORE "
                f"(see headstart eval {moved[0]} --help)"
            )
        if args and args[0] not in self.commands and args[0] != "--help":
            args = [DEFAULT, *args]  # `eval STORE ...` and `eval --seeds 2 STORE ...`
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=DefaultProtocol,
    help="Evaluate heads under a protocol: eval [PROTOCOL] STORE (default: few-shot).",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")

PARSERS: dict[str, Callable[[str], Any]] = {  # settings types given as one string
    "list[str]": _split,
    "list[int | str]": lambda text: api.parse_shots(text),
    "list[int]": lambda text: _integers(text),
}
PLAIN = {"int": int, "float": float, "bool": bool, "str": str}


def _integers(text: str) -> list[int]:
    """`"1,2,5"` → [1, 2, 5] and `"1-5"` → [1, 2, 3, 4, 5], or an error naming the part
    that is neither an integer nor a range."""
    out: list[int] = []
    for part in _split(text):
        if part.lstrip("-").isdigit():
            out.append(int(part))
        elif (span := re.fullmatch(r"(\d+)-(\d+)", part)) and int(span[1]) <= int(span[2]):
            out.extend(range(int(span[1]), int(span[2]) + 1))
        else:
            raise DataError(
                f"expected integers or ranges (1-5) separated by commas; got {part!r} in {text!r}"
            )
    return out


def _parameter(spec: dataclasses.Field) -> tuple[inspect.Parameter, Callable[[Any], Any]]:
    """A typer option for one settings field, and how its value becomes the setting."""
    meta, kind = spec.metadata, str(spec.type)
    default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
    flag = "--" + spec.name.replace("_", "-")
    extra: dict[str, Any] = {"help": meta["help"], "show_default": True}
    if meta.get("choices"):
        extra["callback"] = _choice(tuple(meta["choices"]))
    if meta.get("minimum") is not None:
        extra["min"] = meta["minimum"]
    if kind in PARSERS:
        text = ",".join(str(v) for v in default)
        option = typer.Option(text, flag, **extra)
        return _keyword(spec.name, option, str), PARSERS[kind]
    if meta.get("kind") == "pairs":  # key=value, repeatable
        option = typer.Option([], flag.removesuffix("s"), **extra)
        return _keyword(spec.name, option, list[str]), _options
    base, _, none = kind.partition(" | ")
    if base not in PLAIN or (none and none != "None"):
        raise TypeError(f"settings field {spec.name}: no command-line form for {kind}")
    if meta.get("required"):
        option = typer.Option(..., flag, **extra)
    else:
        option = typer.Option(default, flag, **extra)
    annotation = PLAIN[base] if not none else PLAIN[base] | None
    return _keyword(spec.name, option, annotation), lambda value: value


def _keyword(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def protocol_command(name: str, source_option: str | None = None) -> Callable[..., None]:
    """The command of protocol `name`: its settings as options, the shared ones after them
    (`source_option`: take the store or bag set as that option instead of an argument)."""
    protocol = api.PROTOCOLS.create(name)
    fields = [f for f in dataclasses.fields(protocol.settings_type) if f.metadata.get("cli", True)]
    converters, parameters = {}, []
    what = (
        "bag set (musk1, ...), a classic CSV or a feature folder"
        if protocol.inputs == "bags"
        else "a store folder"
    )
    metavar = "BAGS" if protocol.inputs == "bags" else "STORE"
    if source_option:
        source = typer.Option(..., source_option, help=what, metavar=metavar)
    else:
        source = typer.Argument(..., help=what, metavar=metavar)
    parameters.append(_keyword("source", source, str))
    for spec in fields:
        parameter, converters[spec.name] = _parameter(spec)
        parameters.append(parameter)
    metrics = tuple(m.name for m in protocol.metrics)
    parameters += [
        _keyword("out", typer.Option(None, "--out", "-o", help="folder for results"), Path | None),
        _keyword(
            "metric",
            typer.Option(
                protocol.main_metric,
                help=f"metric shown in the table: {', '.join(metrics)}",
                callback=_choice(metrics),
            ),
            str,
        ),
        _keyword("quiet", typer.Option(False, "--quiet", "-q", help="no progress bar"), bool),
        _keyword(
            "as_json",
            typer.Option(False, "--json", help="print the best heads and summary as JSON"),
            bool,
        ),
    ]

    def command(**given: Any) -> None:
        values = {key: converters[key](given[key]) for key in converters}
        results = api.run_protocol(
            name, given["source"], given["out"], progress=not given["quiet"], **values
        )
        if given["metric"] not in results.metrics():
            raise DataError(
                f"--metric {given['metric']} was not measured by this run (it measured "
                f"{', '.join(results.metrics())}); calibrated metrics need --calibrate, far_* "
                "ones --far"
                + (f"; the results are saved in {given['out']}" if given["out"] else "")
            )
        where = f"{given['out']}/summary.json" if given["out"] else "not saved (no --out)"
        _print_grid(results, given["metric"], f"{name} — {where}", given["as_json"])

    command.__signature__ = inspect.Signature(parameters)
    command.__doc__ = protocol.__doc__ + (
        f" Composes with {protocol.composes}." if protocol.composes else ""
    )
    command.__name__ = name.replace("-", "_")
    return command


for _entry in sorted(api.PROTOCOLS, key=lambda e: (e.name != DEFAULT, e.name)):
    eval_app.command(_entry.name)(protocol_command(_entry.name))
mil_app.command("eval")(protocol_command("mil-cv", source_option="--dataset"))
