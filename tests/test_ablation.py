"""benchmarks/ablation.py removes exactly the deviation each variant names."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks import independent as ind
from benchmarks.ablation import variant_times


def test_variants_remove_what_they_name() -> None:
    drawn = ind.draw(ind.SCENARIOS["rounded5"], 1000)
    base, prop = variant_times("rounded5", 1000, "base")
    assert prop is None
    assert np.all(base % 5 == 0)  # rounded5 stamps to 5 minutes: genuine ties
    assert np.unique(base).size < base.size / 10
    second, _ = variant_times("rounded5", 1000, "nosecond")
    burst, _ = variant_times("rounded5", 1000, "noburst")
    n_second, n_burst = int((drawn.kinds == "second").sum()), int((drawn.kinds == "burst").sum())
    assert n_second > 0 and n_burst > 0
    assert base.size - second.size == n_second
    assert base.size - burst.size == n_burst
    assert second.max() < 1440 < base.max()  # the second outage is the next morning's reports
    minute, _ = variant_times("rounded5", 1000, "minute")
    assert minute.size == base.size and np.all(minute == np.floor(minute))
    assert not np.all(minute % 5 == 0)
    both, prop = variant_times("rounded5", 1000, "profile,nosecond")
    assert prop == list(ind.SLEEP_PROFILE) and both.size == second.size


def test_unknown_variant_is_named() -> None:
    with pytest.raises(SystemExit, match="nosecnd"):
        variant_times("rounded5", 1000, "profile,nosecnd")


def test_region_keeps_only_that_regions_reports() -> None:
    drawn = ind.draw(ind.SCENARIOS["regional-equal"], 1000)
    regions = dict(ind._municipalities(None).select("name", "region").iter_rows())
    base, _ = variant_times("regional-equal", 1000, "base")
    flanders, _ = variant_times("regional-equal", 1000, "base", "Flanders")
    wallonia, _ = variant_times("regional-equal", 1000, "base", "Wallonia")
    n_wallonia = sum(regions.get(p) == "Wallonia" for p in drawn.places)
    assert 0 < flanders.size < base.size and 0 < wallonia.size < base.size
    assert flanders.size + wallonia.size == base.size  # the scenario places no one in Brussels
    assert wallonia.size == n_wallonia  # every drawn report is inside the horizon here
    assert np.all(np.isin(wallonia, base)) and np.all(np.isin(flanders, base))
    nothing, _ = variant_times("regional-equal", 1000, "base", "Brussels")
    assert nothing.size == 0
