"""benchmarks/parts.py: parts nest by the calls they run inside, values of S go to the innermost part."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.parts import Recorder, _Synchronous, table

from analysis.recovery import make_family


def test_parts_nest_and_values_of_s_go_to_the_innermost_part() -> None:
    rec = Recorder()
    fam = make_family("weibull")
    sf = rec.counted(lambda f, t, th: f.sf(t, th), "plain")

    def inner() -> None:
        sf(fam, np.arange(1.0, 11.0), np.array([[50.0, 1.5], [60.0, 1.2]]))  # 2 rows x 10 times

    def outer() -> None:
        sf(fam, np.arange(1.0, 4.0), np.array([50.0, 1.5]))  # 3 values
        rec.timed(inner, "bootstrap")()

    rec.timed(outer, "region")()
    rec.timed(outer, "region")()
    assert rec.values == {("region", "plain"): 6, ("region/bootstrap", "plain"): 40}
    assert rec.calls == {"region": 2, "region/bootstrap": 2}
    assert rec.cpu["region"] >= rec.cpu["region/bootstrap"] >= 0.0
    res = {
        "incident": "x",
        "load_average": [1.0, 1.0, 1.0],
        "imports_cpu_s": 0.1,
        "analysis_cpu_s": 1.0,
        "analysis_wall_s": 1.0,
        "parts_cpu_s": dict(rec.cpu),
        "parts_calls": dict(rec.calls),
        "s_values": {"region": {"plain": 6}, "region/bootstrap": {"plain": 40}},
    }
    text = table(res)
    lines = text.splitlines()
    assert any(line.split()[:2] == ["region", "2"] for line in lines)
    assert any(line.startswith("  bootstrap") and line.split()[1] == "2" for line in lines)


def test_synchronous_pool_runs_at_submit_and_hands_back_errors() -> None:
    ran: list[int] = []
    with _Synchronous(max_workers=3) as pool:
        fut = pool.submit(ran.append, 1)
        assert ran == [1] and fut.result() is None
        bad = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bad.result()
