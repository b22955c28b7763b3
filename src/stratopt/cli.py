"""The `stratopt` command line. Thin: parse, call the library, print.

Exit codes: 0 success, 1 a failed run, 2 bad input (study file, data, options).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratopt import __version__
from stratopt.errors import UserInputError

app = typer.Typer(
    name="stratopt",
    help="Find trading-strategy parameters that hold up out of sample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_out = Console()
_err = Console(stderr=True, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a study-file field: dotted.path=value (value parsed as YAML). Repeatable.",
        metavar="KEY=VALUE",
    ),
]


def _version(value: bool) -> None:
    if value:
        _out.print(f"stratopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """stratopt: search, score and validate trading-strategy parameters."""


@app.command()
def backtest(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
    set_: SetOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    equity: Annotated[
        Path | None, typer.Option("--equity", help="Write the equity curve (CSV).")
    ] = None,
    trades: Annotated[
        Path | None, typer.Option("--trades", help="Write the trade list (CSV).")
    ] = None,
) -> None:
    """Run one backtest with the study's fixed params."""
    from stratopt.backtest import backtest_study
    from stratopt.config import load_study

    cfg = load_study(study, set_ or [])
    results = backtest_study(cfg)
    if equity is not None:
        _write_csv(equity, _equity_frame(results))
    if trades is not None:
        _write_csv(trades, _trades_frame(results))
    if as_json:
        sys.stdout.write(json.dumps(_json_report(cfg.name, results), default=_jsonable) + "\n")
        return
    _print_backtest(cfg.name, results)


def _equity_frame(results: list[Any]) -> pd.DataFrame:
    frames = []
    for res in results:
        eq = res.equity.rename("equity").reset_index()
        if len(results) > 1:
            eq.insert(0, "symbol", res.bars.symbol)
        frames.append(eq)
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def _trades_frame(results: list[Any]) -> pd.DataFrame:
    frames = []
    for res in results:
        t = res.trades
        if len(results) > 1:
            t.insert(0, "symbol", res.bars.symbol)
        frames.append(t)
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S")
    except OSError as exc:
        raise UserInputError(f"cannot write {path}: {exc}") from None


def _finite(value: float) -> float | None:
    # JSON has no NaN/inf: non-finite metric values are written as null.
    return value if math.isfinite(value) else None


def _json_report(name: str, results: list[Any]) -> dict[str, Any]:
    per_symbol = {
        res.bars.symbol: {
            "source": res.bars.source,
            "bars": len(res.bars),
            "start": str(res.bars.index[0]),
            "end": str(res.bars.index[-1]),
            "metrics": {k: _finite(v) for k, v in res.metrics.items()},
            "n_trades": res.n_trades,
            "final_equity": res.final_equity,
        }
        for res in results
    }
    first = results[0]
    return {
        "study": name,
        "strategy": first.strategy,
        "params": first.params,
        "settings": first.settings.__dict__,
        "symbol": first.bars.symbol,
        **per_symbol[first.bars.symbol],
        "per_symbol": per_symbol,
    }


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _format(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if unit in ("fraction", "%", "percent"):
        return f"{value * 100:,.2f}%"
    if unit in ("count", "bars", "trades"):
        return f"{value:,.0f}"
    if unit in ("currency", "$"):
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def _print_backtest(name: str, results: list[Any]) -> None:
    from stratopt.metrics import METRICS

    params = " ".join(f"{k}={v}" for k, v in results[0].params.items())
    _out.print(f"[bold]{escape(name)}[/]: {results[0].strategy} {escape(params)}", soft_wrap=True)
    table = Table()
    table.add_column("metric")
    for res in results:
        table.add_column(res.bars.symbol or "series", justify="right")
    for info in METRICS:
        cells = [_format(res.metrics[info.id], info.unit) for res in results]
        table.add_row(info.label, *cells)
    _out.print(table)
    for res in results:
        b = res.bars
        _out.print(
            f"{b.symbol}: {len(b)} bars {b.index[0]} → {b.index[-1]}, "
            f"{res.n_trades} trades, final equity {res.final_equity:,.2f}",
            soft_wrap=True,
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `stratopt` console script."""
    try:
        app(args=argv, standalone_mode=True)
    except UserInputError as exc:
        _err.print("[bold red]error:[/]", escape(str(exc)), highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
