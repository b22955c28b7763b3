"""`stratopt strategies [NAME]`: the built-in strategies and their parameters."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from stratopt._suggest import did_you_mean
from stratopt.cli._app import app
from stratopt.cli._console import out
from stratopt.errors import ConfigError
from stratopt.strategies import BUILTIN_STRATEGIES, Param, Strategy


@app.command()
def strategies(
    name: Annotated[str | None, typer.Argument(help="A built-in strategy to describe.")] = None,
) -> None:
    """List the built-in strategies, or one strategy's parameters.

    Example: stratopt strategies sma_cross
    """
    if name is None:
        for key, cls in BUILTIN_STRATEGIES.items():
            params = ", ".join(cls.parameters)
            out.print(f"{key}: {_summary(cls)} ({params})", soft_wrap=True, highlight=False)
        out.print("stratopt strategies NAME shows one strategy's parameters.", highlight=False)
        return
    found = BUILTIN_STRATEGIES.get(name)
    if found is None:
        known = ", ".join(BUILTIN_STRATEGIES)
        raise ConfigError(f"strategy: unknown {name!r}{did_you_mean(name, BUILTIN_STRATEGIES)} "
                          f"(built-ins: {known})")  # fmt: skip
    out.print(f"{name}: {_summary(found)}", soft_wrap=True, highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("parameter", "type", "default", "allowed", "meaning"):
        table.add_column(col, overflow="fold")
    for key, param in found.parameters.items():
        table.add_row(key, param.kind, str(param.default), _allowed(param), param.doc)
    out.print(table)


def _summary(cls: type[Strategy]) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def _allowed(param: Param) -> str:
    if param.choices:
        return " | ".join(map(str, param.choices))
    if param.kind == "bool":
        return "true | false"
    low = "" if param.low is None else f">= {param.low:g}"
    high = "" if param.high is None else f"<= {param.high:g}"
    return " and ".join(x for x in (low, high) if x) or "any"
