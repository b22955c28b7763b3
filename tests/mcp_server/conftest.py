"""A workspace root for the MCP server: the demo study and a small fast one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "sma_cross_synthetic.yaml"

# A study small enough for a job of a few seconds.
SMALL: dict[str, object] = {
    "name": "small",
    "strategy": "sma_cross",
    "data": {"synthetic": {"bars": 1500, "seed": 3, "edge_period": 60}},
    "space": {"fast": {"low": 2, "high": 30}, "slow": {"low": 10, "high": 120, "step": 5}},
    "constraints": ["slow >= fast + 5"],
    "search": {"trials": 6, "seed": 1, "batch": 2},
    "output": "runs",
}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A root with studies/demo.yaml (the synthetic demo, as shipped; its run folders
    go to runs/) and studies/small.yaml."""
    root = tmp_path / "root"
    (root / "studies").mkdir(parents=True)
    shutil.copy(DEMO, root / "studies" / "demo.yaml")
    small = {**SMALL, "output": "../runs"}
    (root / "studies" / "small.yaml").write_text(yaml.safe_dump(small))
    return root


def files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
