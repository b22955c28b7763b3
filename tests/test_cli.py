from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

import stratopt.cli

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "examples" / "sma_cross_synthetic.yaml"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_backtest_json_and_files(tmp_path: Path) -> None:
    eq, tr = tmp_path / "eq.csv", tmp_path / "out" / "trades.csv"
    proc = _run("backtest", SYNTHETIC, "--json", "--equity", eq, "--trades", tr,
                "--set", "params.fast=15", "--set", "backtest.cash=5000")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["params"] == {"fast": 15, "slow": 40, "mode": "reversal"}
    assert report["settings"]["cash"] == 5000
    assert {"sharpe", "max_drawdown", "trades", "cagr"} <= set(report["metrics"])
    assert report["n_trades"] == report["metrics"]["trades"] > 0
    # synthetic daily bars run every day: docs/data.md's 365 (issue 13 item 9)
    rule = "1d bars on all seven weekdays: 365 days"
    assert report["annualization"] == {"periods_per_year": 365.0, "rule": rule}
    equity = pd.read_csv(eq)
    assert list(equity.columns) == ["timestamp", "equity", "drawdown", "position"]
    assert equity["equity"].iloc[-1] == pytest.approx(report["final_equity"])
    trades = pd.read_csv(tr)
    assert len(trades) == report["n_trades"]
    assert {"entry_time", "exit_time", "entry_price", "exit_price", "side", "units", "pnl",
            "fees", "ret", "exit_reason"} <= set(trades.columns)  # fmt: skip


def test_backtest_table() -> None:
    proc = _run("backtest", SYNTHETIC)
    assert proc.returncode == 0, proc.stderr
    assert "Sharpe ratio" in proc.stdout and "Max drawdown" in proc.stdout
    assert "sma_cross fast=10 slow=40 mode=reversal" in proc.stdout
    assert "trades, final equity" in proc.stdout
    line = "SYN: annualized with 365 bars per year (1d bars on all seven weekdays: 365 days)"
    assert line in proc.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--set", "backtest.commission=abc"], "backtest.commission"),
        (["--set", "params.fast=500"], "'fast' (500) must be < 'slow' (40)"),
        (["--set", "strategy=sma_crosss"], "did you mean 'sma_cross'"),
        (["--set", "data.path=missing.csv", "--set", "data.synthetic=null"], "missing.csv"),
    ],
)
def test_bad_input_exits_2_without_traceback(args: list[str], fragment: str) -> None:
    proc = _run("backtest", SYNTHETIC, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert fragment in proc.stderr.replace("\n", " ")
    assert "Traceback" not in proc.stderr


def test_missing_study_file_exits_2(tmp_path: Path) -> None:
    proc = _run("backtest", tmp_path / "nope.yaml")
    assert proc.returncode == 2 and "cannot read the study file" in proc.stderr


def test_optimize_and_study_commands(tmp_path: Path) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(
        "name: clistudy\n"
        "data: {synthetic: {bars: 1500, seed: 1, edge_period: 90}}\n"
        "strategy: sma_cross\n"
        "space: {fast: [3, 5, 8], slow: [20, 40]}\n"
        "search: {method: grid}\n"
        f"output: {tmp_path / 'runs'}\n"
    )
    proc = _run("optimize", study, "--top", "3")
    assert proc.returncode == 0, proc.stderr
    assert "run folder:" in proc.stdout and "6 complete" in proc.stdout
    folder = Path(proc.stdout.split("run folder:")[1].split()[0])
    assert (folder / "summary.json").is_file() and (folder / "best_config.yaml").is_file()
    storage = f"sqlite:///{tmp_path / 'runs' / 'stratopt.db'}"
    listing = _run("studies", "--storage", storage)
    assert listing.returncode == 0 and "clistudy" in listing.stdout
    shown = _run("show", study, "--top", "2")
    assert shown.returncode == 0 and "fast" in shown.stdout
    out = tmp_path / "all.csv"
    exported = _run("export", "clistudy", "--storage", storage, "--csv", out)
    assert exported.returncode == 0 and len(pd.read_csv(out)) == 6
    cleaned = _run("cleanup", study, "--keep-top", "2", "--yes")
    assert cleaned.returncode == 0 and "kept 2 trials, deleted 4" in cleaned.stdout
    after = _run("export", study, "--csv", out)
    assert after.returncode == 0
    kept = pd.read_csv(out)
    assert len(kept) == 2 and kept["value"].iloc[0] >= kept["value"].iloc[1]


def test_optimize_bad_input_exits_2(tmp_path: Path) -> None:
    proc = _run("optimize", SYNTHETIC, "--method", "annealing")
    assert proc.returncode == 2 and "search.method" in proc.stderr
    proc = _run("optimize", SYNTHETIC, "--set", "space.fast.low=abc")
    assert proc.returncode == 2 and "space.fast" in proc.stderr
    proc = _run("show", "nostudy", "--storage", f"sqlite:///{tmp_path / 'x.db'}")
    assert proc.returncode == 2 and "no study database at" in proc.stderr
    assert not (tmp_path / "x.db").exists()  # reading never creates a database


_CLOSE_STRATEGY = """\
from stratopt import Strategy
from stratopt.strategies import IntParam, crosses_above, crosses_below, sma


class Upper(Strategy):
    n = IntParam(10, low=2, high=50)

    def rules(self, p):
        return [crosses_above("close", sma("Close", p["n"])).buy(),
                crosses_below("close", sma("close", p["n"])).sell()]
"""

_SIGNALS_STRATEGY = """\
import numpy as np
from stratopt import Strategy
from stratopt.strategies import IntParam


class Short(Strategy):
    n = IntParam(10, low=2, high=50)

    def signals(self, bars, p, cache):
        return np.ones(len(bars) - 1, dtype=np.int8)


class Entries(Strategy):
    n = IntParam(10, low=2, high=50)

    def signals(self, bars, p, cache):
        return bars.close > bars.open
"""


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        ("upper.py:Upper", "unknown price source 'Close'; did you mean 'close'?"),
        ("sig.py:Short", "strategy 'Short' returned signals of shape (1499,), expected (1500,)"),
        ("sig.py:Entries", "strategy 'Entries' returned a bool array from signals()"),
    ],
)
def test_user_strategy_mistakes_are_one_line_exit_2(
    tmp_path: Path, strategy: str, fragment: str
) -> None:
    (tmp_path / "upper.py").write_text(_CLOSE_STRATEGY)
    (tmp_path / "sig.py").write_text(_SIGNALS_STRATEGY)
    study = tmp_path / "s.yaml"
    study.write_text(
        f"name: u\ndata: {{synthetic: {{bars: 1500, seed: 1}}}}\nstrategy: {strategy}\n"
    )
    proc = _run("backtest", study)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert fragment in " ".join(proc.stderr.split())


def test_an_unwritable_output_is_one_line_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = _run("optimize", SYNTHETIC, "--output", blocker / "runs", "--trials", "2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "output: cannot create a run folder under" in proc.stderr


def test_strategies_lists_the_built_ins_and_their_parameters() -> None:
    listing = _run("strategies")
    assert listing.returncode == 0, listing.stderr
    assert "sma_cross:" in listing.stdout and "rsi_reversion:" in listing.stdout
    one = _run("strategies", "rsi_reversion")
    assert one.returncode == 0, one.stderr
    assert all(p in one.stdout for p in ("period", "lower", "upper", "exit", "mode"))
    unknown = _run("strategies", "sma_crss")
    assert unknown.returncode == 2 and "did you mean 'sma_cross'" in unknown.stderr
    wrong = _run("backtest", SYNTHETIC, "--set", "params.fsat=3")
    assert wrong.returncode == 2
    assert "its parameters: fast, slow, mode" in " ".join(wrong.stderr.split())


def _leaf_commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    leaves: list[tuple[str, ...]] = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, TyperGroup):
            leaves += _leaf_commands(cmd, (*path, name))
        else:
            leaves.append((*path, name))
    return leaves


def test_every_command_help_shows_an_example() -> None:
    from stratopt.cli import app

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    leaves = _leaf_commands(root)
    assert len(leaves) >= 14
    runner = CliRunner()
    for path in leaves:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, path
        assert f"Example: stratopt {' '.join(path)}" in result.output, path


def _readme_commands() -> list[list[str]]:
    """Each `stratopt ...` command of the README's bash blocks, as words (continued
    lines joined, comments dropped)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if words and words[0].endswith("stratopt"):
            commands.append(words[1:])
    return commands


def test_the_readme_tells_the_truth() -> None:
    """No "(in progress)" for what is done, and every command and option the README
    shows exists (README of issue 13 item 11)."""
    from stratopt.cli import app

    readme = (ROOT / "README.md").read_text()
    assert "in progress" not in readme.lower()
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    commands = _readme_commands()
    assert len(commands) >= 20
    for words in commands:
        cmd: Any = root
        while isinstance(cmd, TyperGroup):
            assert words[0] in cmd.commands, words
            cmd, words = cmd.commands[words[0]], words[1:]
        options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in options, (cmd.name, word)


_STARTED, _WORK = ["start"], ["start", "compile"]


@pytest.mark.parametrize(
    ("args", "calls"),
    [
        (["optimize", SYNTHETIC], _WORK),
        (["walk-forward", SYNTHETIC, "--set", "search.trials=5"], _WORK),
        (["backtest", ROOT / "examples" / "backtesting_py_parity.yaml"], _WORK),  # pkg:// data
        (["optimize", SYNTHETIC, "--help"], []),  # the kernels are not needed
        (["report", SYNTHETIC], []),
        (["optimize", ROOT / "examples" / "missing.yaml"], []),  # bad input
        (["optimize", ROOT / "examples" / "hedge_grid_synthetic.yaml"], []),  # grid engine
        (["optimize", ROOT / "examples" / "external_backtesting_py.yaml"], []),  # evaluator
        # bad input found when the study is read: the child ends, compiling nothing
        (["optimize", SYNTHETIC, "--set", "backtest.cash=-1"], [*_STARTED, "stop"]),
        (["optimize", SYNTHETIC, "--set=strategy=no_such_strategy"], [*_STARTED, "stop"]),
        (["optimize", SYNTHETIC, "--set", "data={path: missing.csv}"], [*_STARTED, "stop"]),
    ],
)
def test_only_a_command_that_backtests_a_valid_rule_study_starts_the_compile_first(
    args: list[Any], calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    for name, call in (("start", "start_background"), ("compile", "compile_in_background"),
                       ("stop", "stop_background")):  # fmt: skip
        monkeypatch.setattr(stratopt.cli, call, (lambda n: lambda: seen.append(n))(name))
    monkeypatch.setitem(sys.modules, "stratopt.cli._commands", _NoCommands)
    stratopt.cli.main([str(a) for a in args])
    assert seen == calls


def test_the_backtesting_commands_exist() -> None:
    commands = typer.main.get_command(stratopt.cli.app).commands  # type: ignore[attr-defined]
    assert set(commands) >= stratopt.cli.BACKTESTING_COMMANDS


# Stands in for stratopt.cli._commands: main() stops after deciding on the compile.
_NoCommands = types.ModuleType("stratopt.cli._commands")
_NoCommands.main = lambda argv: None  # type: ignore[attr-defined]


def test_the_cli_keeps_the_garbage_collector_off_the_heap_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(stratopt.cli.atexit, "register", registered.append)
    monkeypatch.setattr(stratopt.cli.atexit, "unregister", lambda fn: None)
    monkeypatch.setitem(sys.modules, "stratopt.cli._commands", _NoCommands)
    stratopt.cli.main(["report", "--help"])
    assert registered == [stratopt.cli.gc.freeze]
