from __future__ import annotations

from pathlib import Path

import pytest

from stratopt.config import apply_overrides, load_study
from stratopt.errors import ConfigError

GOOD = """
name: t
data: {path: prices.csv, start: 2005-01-01}
strategy: sma_cross
params: {fast: 10, slow: 20}
backtest: {cash: 5000, commission: 0.001}
"""


def _write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_study_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_study(_write(tmp_path, GOOD))
    assert cfg.name == "t" and cfg.params == {"fast": 10, "slow": 20}
    assert cfg.data.start == "2005-01-01"
    assert cfg.resolve_path("prices.csv") == str(tmp_path.resolve() / "prices.csv")
    assert cfg.resolve_path("pkg://backtesting/test/GOOG.csv").startswith("pkg://")
    settings = cfg.backtest.to_settings()
    assert settings.cash == 5000 and settings.commission == 0.001


def test_json_study(tmp_path: Path) -> None:
    text = '{"name": "j", "data": {"path": "x.csv"}, "strategy": "macd"}'
    assert load_study(_write(tmp_path, text, "s.json")).strategy == "macd"


def test_overrides_are_yaml_scalars_on_dotted_paths(tmp_path: Path) -> None:
    cfg = load_study(
        _write(tmp_path, GOOD),
        ["params.fast=5", "backtest.cash=1e4", "data.path=other.csv", "backtest.fill=close"],
    )
    assert cfg.params["fast"] == 5 and cfg.backtest.cash == 10_000.0
    assert cfg.data.path == "other.csv" and cfg.backtest.fill == "close"
    assert apply_overrides({}, ["a.b.c=true"]) == {"a": {"b": {"c": True}}}


@pytest.mark.parametrize(
    ("text", "overrides", "fragment"),
    [
        ("name: t\n", [], "data: required field is missing"),
        (GOOD + "bogus: 1\n", [], "bogus: unknown field"),
        (GOOD, ["backtest.comission=0.1"], "did you mean 'commission'"),
        (GOOD, ["backtest.fill=tomorrow"], "backtest.fill"),
        (GOOD, ["backtest.cash=-5"], "cash must be > 0, got -5"),
        (GOOD, ["backtest.sizing=risk"], "needs backtest.stop_loss"),
        (GOOD, ["data.synthetic.bars=10"], "exactly one of 'path' and 'synthetic'"),
        (GOOD, ["params"], "expected key=value"),
        (GOOD, ["name.x=1"], "name is 't', not a mapping"),
        ("name: [unclosed\n", [], "line 2, column 1: not valid YAML"),
        ("- a\n- b\n", [], "must be a mapping"),
    ],
)
def test_bad_studies_name_the_field(
    tmp_path: Path, text: str, overrides: list[str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_study(_write(tmp_path, text), overrides)
    assert fragment in str(info.value)
    assert "Traceback" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the study file"):
        load_study(tmp_path / "nope.yaml")


def test_storage_passwords_are_redacted() -> None:
    from stratopt.storage import redact

    url = "postgresql://alice:s3cr3t@db.example:5432/studies"
    assert redact(url) == "postgresql://alice:***@db.example:5432/studies"
    assert redact("sqlite:///runs/stratopt.db") == "sqlite:///runs/stratopt.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bob:s3cr@t@host/db", "postgresql://bob:***@host/db"),
        ("postgresql://u@h/db?password=secret&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
    ],
)
def test_redaction_corner_cases(url: str, expected: str) -> None:
    from stratopt.storage import redact

    assert redact(url) == expected


def test_search_refresh_is_not_accepted(tmp_path: Path) -> None:
    # It was accepted and never read: a setting that does nothing must not look like one.
    # (The weighted objective's own `refresh:` is the normalization's and stays.)
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ndata: {synthetic: {bars: 300}}\nstrategy: sma_cross\n"
        "search: {method: random, refresh: 20}\n"
    )
    with pytest.raises(ConfigError, match=r"search\.refresh"):
        load_study(path)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("data.start=01/02/2005", "data.start"),
        ("data.end=2005/02/01", "data.end"),
        ("data.start='Jan 2 2005'", "data.start"),
        ("data.start=02.01.2005", "data.start"),
        ("validation.holdout=01/02/2011", "validation.holdout"),
    ],
)
def test_non_iso_dates_are_refused_not_guessed(tmp_path: Path, override: str, field: str) -> None:
    # 01/02/2005 is January 2nd or February 1st: refused, never guessed (docs/data.md).
    with pytest.raises(ConfigError) as info:
        load_study(_write(tmp_path, GOOD), [override])
    message = str(info.value)
    assert field in message and override.partition("=")[2].strip("'") in message
    assert "2005-01-31" in message or "2011-01-31" in message  # the form that is read
    assert "\n" not in message


def test_non_iso_synthetic_start_and_load_bars_bounds_are_refused(tmp_path: Path) -> None:
    text = "name: s\ndata: {synthetic: {bars: 50, start: 03/04/2001}}\nstrategy: sma_cross\n"
    with pytest.raises(ConfigError, match=r"data\.synthetic\.start.*03/04/2001"):
        load_study(_write(tmp_path, text))
    from stratopt.data import load_bars

    with pytest.raises(ConfigError, match=r"start.*01/02/2005"):
        load_bars("pkg://backtesting/test/GOOG.csv", start="01/02/2005")


@pytest.mark.parametrize(
    "value", ["2005-01-02", "2005-01-02T09:30", "2005-01-02 09:30:00", "2005-01-02T09:30:00Z",
              "2005-01-02T09:30:00+02:00", "2005-01-02T09:30:00.250"],
)  # fmt: skip
def test_iso_dates_are_read(tmp_path: Path, value: str) -> None:
    cfg = load_study(_write(tmp_path, GOOD), [f"data.start='{value}'"])
    assert cfg.data.start == value
