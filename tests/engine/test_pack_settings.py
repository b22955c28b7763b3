from __future__ import annotations

import numpy as np

from stratopt.engine import ExecSettings, pack_settings, pack_settings_many
from stratopt.engine import _types as t


def test_many_rows_are_each_row_bit_for_bit() -> None:
    """One array for a batch: the rows `pack_settings` gives one by one, every column
    in the kernels' place (numpy scalars and ints among the values)."""
    many = [
        ExecSettings(),
        ExecSettings(cash=np.float32(1234.5), commission=0.001, commission_fixed=2,
                     slippage_bps=3.0, fill="close", direction="long", sizing="units",
                     size=np.int64(7), whole_units=True, max_leverage=2.5, stop_loss=0.03,
                     take_profit=0.06, trailing_stop=0.04, max_bars=30, holding_cost=1e-4),
    ]  # fmt: skip
    rows = pack_settings_many(many)
    assert rows.dtype == np.float64 and rows.shape == (2, t.N_EXEC)
    assert rows.tobytes() == np.stack([pack_settings(s) for s in many]).tobytes()
    assert pack_settings_many([]).shape == (0, t.N_EXEC)
    row = rows[1]
    want = {
        t.E_CASH: float(np.float32(1234.5)), t.E_COMMISSION: 0.001, t.E_COMMISSION_FIXED: 2.0,
        t.E_SLIPPAGE: 3.0 * 1e-4, t.E_FILL: t._FILLS.index("close"),
        t.E_DIRECTION: t._DIRECTIONS.index("long"), t.E_SIZING: t._SIZINGS.index("units"),
        t.E_SIZE: 7.0, t.E_WHOLE: 1.0, t.E_MAX_LEVERAGE: 2.5, t.E_STOP_LOSS: 0.03,
        t.E_TAKE_PROFIT: 0.06, t.E_TRAILING: 0.04, t.E_MAX_BARS: 30.0, t.E_HOLDING: 1e-4,
    }  # fmt: skip
    assert {k: row[k] for k in want} == want
    assert np.count_nonzero(rows[0]) == np.count_nonzero(pack_settings(ExecSettings()))
