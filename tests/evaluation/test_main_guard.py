"""A script without `if __name__ == "__main__":` is refused with jobs > 1, not hung
(issue 21 item 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CALL = (
    "stratopt.optimize(lambda p: {{'sharpe': float(p['x'])}}, {{'x': [1, 2]}}, method='grid', "
    "jobs=2, output={out!r}, analyze=False)"
)


def _run(script: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{script.name} hung (worker processes re-ran the unguarded script)")


def test_an_unguarded_script_is_refused_and_a_guarded_one_runs(tmp_path: Path) -> None:
    call = CALL.format(out=str(tmp_path / "runs"))
    bare = tmp_path / "bare.py"
    bare.write_text(f"import stratopt\n\nres = {call}\n")
    proc = _run(bare)
    assert proc.returncode != 0
    assert "jobs: worker processes re-run bare.py from its first line" in proc.stderr
    assert "line 3" in proc.stderr and 'if __name__ == "__main__":' in proc.stderr
    guarded = tmp_path / "guarded.py"
    guarded.write_text(
        f"import stratopt\n\nif __name__ == '__main__':\n    print({call}.best_params)\n"
    )
    proc = _run(guarded)
    assert proc.returncode == 0, proc.stderr
    assert "{'x': 2}" in proc.stdout
