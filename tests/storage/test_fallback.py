"""Optuna's own storage code (the bulk writer and the Core reader switched off) stores
what stratopt's fast paths store: the same trial rows, run for run (issue 13 item 10).

The fast paths are taken only on the schema revision they were checked against; a
storage at another revision goes through Optuna. That fallback must not change a
study: same trials, params, values, states, user and system attributes, and the same
ranked results. Timestamps and row ids may differ; they are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import sqlalchemy as sa

from stratopt.config import parse_study
from stratopt.operations import optimize_study
from stratopt.storage import OWNER_ATTR, _bulk
from tests.storage.test_bulk import GRID_STUDY  # pruned by a constraint and by a requirement

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Columns whose values are times or row ids: they differ between any two runs.
_VOLATILE = {"datetime_start", "datetime_complete", "trial_id", "param_id", "trial_value_id",
             "trial_user_attribute_id", "trial_system_attribute_id"}  # fmt: skip


def _user_value(key: str, value_json: str) -> Any:
    value = json.loads(value_json)
    if key == "stratopt" and isinstance(value, dict):
        value.pop("runtime_s", None)  # a measured time
    return value


def _rows(url: str) -> dict[str, list[str]]:
    """Every row of the trial tables, keyed by trial number instead of trial id."""
    engine = sa.create_engine(url)
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        number = dict(conn.execute(sa.text("SELECT trial_id, number FROM trials")).all())
        for table in ("trials", "trial_params", "trial_values", "trial_user_attributes",
                      "trial_system_attributes", "trial_intermediate_values"):  # fmt: skip
            rows = []
            for r in conn.execute(sa.text(f"SELECT * FROM {table}")).mappings():
                if r.get("key") == OWNER_ATTR:
                    # which process claimed the trial (pid, start time): differs between any
                    # two runs, and is recorded on the fast path only (without it a dead
                    # worker's trial is taken over after the grace period, not at once)
                    continue
                d = {k: v for k, v in r.items() if k not in _VOLATILE}
                d["trial"] = number[r["trial_id"]]
                if table == "trial_user_attributes":
                    d["value_json"] = _user_value(d["key"], d["value_json"])
                rows.append(json.dumps(d, sort_keys=True, default=str))
            out[table] = sorted(rows)
    engine.dispose()
    return out


def _run(tmp_path: Path, label: str, method: str) -> tuple[dict[str, list[str]], pd.DataFrame]:
    url = f"sqlite:///{tmp_path / label}.db"
    search = {"method": method, "batch": 7, "seed": 3}
    if method != "grid":
        search["trials"] = 12
    cfg = {
        **GRID_STUDY,
        "name": "f",
        "search": search,
        "storage": url,
        "output": str(tmp_path / label),
    }
    res = optimize_study(parse_study(cfg, source="test", base_dir=tmp_path), analyze=False)
    ranked = pd.read_csv(res.run_folder.ranked).drop(columns=["runtime_s"])
    return _rows(url), ranked


@pytest.mark.parametrize("method", ["grid", "random", "tpe"])
def test_optunas_own_storage_code_stores_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    fast_rows, fast_ranked = _run(tmp_path, "fast", method)
    # Another schema revision: every fast path (writer, reader, orphan handling) is off.
    monkeypatch.setattr(_bulk, "VERIFIED_SCHEMA_REVISION", "not-this-one")
    monkeypatch.setattr(_bulk, "_warned", True)
    optuna_rows, optuna_ranked = _run(tmp_path, "optuna", method)
    storage = optuna.load_study(study_name="f", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert _bulk.bulk_supported(storage._storage._backend) is False  # type: ignore[attr-defined]
    states = {json.loads(r)["state"] for r in fast_rows["trials"]}
    assert {"COMPLETE", "PRUNED"} <= states and len(fast_rows["trial_system_attributes"]) > 0
    for table, rows in fast_rows.items():
        assert optuna_rows[table] == rows, table
    pd.testing.assert_frame_equal(optuna_ranked, fast_ranked)
