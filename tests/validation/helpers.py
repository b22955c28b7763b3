"""Helpers shared by the validation tests."""

from __future__ import annotations

from pathlib import Path


def spy_strategy(tmp_path: Path) -> str:
    """A user strategy that logs the first and last bar time of every call."""
    log = tmp_path / "seen.log"
    (tmp_path / "spy.py").write_text(
        "import numpy as np\n"
        "from stratopt.strategies import IntParam, Strategy\n\n"
        "class Spy(Strategy):\n"
        "    name = 'spy'\n"
        "    k = IntParam(5, low=1)\n\n"
        "    def signals(self, bars, p, cache):\n"
        f"        with open({str(log)!r}, 'a') as f:\n"
        "            f.write(f'{bars.time[0]} {bars.time[-1]} {len(bars)}\\n')\n"
        "        out = np.zeros(len(bars), dtype=np.int8)\n"
        "        out[:: p['k'] * 10] = 1\n"
        "        out[p['k'] * 5 :: p['k'] * 10] = -1\n"
        "        return out\n"
    )
    return "spy.py:Spy"
