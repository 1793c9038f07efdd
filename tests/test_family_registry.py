"""A recovery family is one class registered from one file: fitted, chosen, listed, simulated.

The family below exists only in this test (a Rayleigh curve, S(t) = exp(−(t/λ)²)); nothing in
the package names it. Registering it must be all it takes for ``families=``, the fitters, the
simulator and the page's candidate table to know it, and it is removed again afterwards.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from analysis import methods_report, sections
from analysis.errors import ParameterError
from analysis.recovery import FAMILIES, RecoveryFamily, fit_restorations, make_family, register_family, unregister_family
from analysis.recovery.families import INF, candidates, resolve_candidates
from analysis.simulate import restoration_times

from .conftest import analyze_fast

ONSET = dt.datetime(2018, 1, 8, 19, 0, tzinfo=dt.UTC)
LOCAL_ONSET = dt.datetime(2018, 1, 8, 20, 0)  # the same instant on a Brussels clock


class RayleighFitter(RecoveryFamily):
    """Rayleigh recovery: S(t) = exp(−(t/λ)²), a Weibull of shape 2 (for this test only)."""

    name = "rayleigh"
    param_names = ("lambda_",)
    bounds = ((0.0, INF),)

    def _log_sf(self, t: np.ndarray, lam: Any) -> np.ndarray:
        return -((t / lam) ** 2)

    def _log_pdf(self, t: np.ndarray, lam: Any) -> np.ndarray:
        return np.log(2.0 * t) - 2.0 * np.log(lam) - (t / lam) ** 2

    def _start(self, scale: float) -> list[float]:
        return [scale / math.sqrt(math.log(2.0))]


@pytest.fixture
def rayleigh() -> Iterator[type[RecoveryFamily]]:
    assert "rayleigh" not in FAMILIES
    register_family(RayleighFitter)
    try:
        yield RayleighFitter
    finally:
        unregister_family("rayleigh")


def test_a_registered_family_is_known_everywhere_a_name_is_checked(rayleigh: type[RecoveryFamily]) -> None:
    assert FAMILIES["rayleigh"] is rayleigh
    assert {"rayleigh", "rayleigh+delay"} <= set(candidates())
    assert {"rayleigh", "rayleigh+delay"} <= set(resolve_candidates("all"))
    assert make_family("rayleigh+delay").all_param_names == ("lambda_", "delay_")
    from analysis.params import validate_params

    assert validate_params(families="rayleigh,weibull").family_list == ("rayleigh", "weibull")


def test_it_is_gone_once_removed_and_unknown_names_still_fail() -> None:
    register_family(RayleighFitter)
    unregister_family("rayleigh")
    assert "rayleigh" not in FAMILIES and "rayleigh" not in candidates()
    assert "rayleigh" not in methods_report.family_names("en")
    with pytest.raises(ParameterError, match="unknown recovery family 'rayleigh'"):
        make_family("rayleigh")


def test_a_registration_that_would_be_ambiguous_is_refused(rayleigh: type[RecoveryFamily]) -> None:
    assert register_family(rayleigh) is rayleigh  # the same class again: nothing changes
    other = type("Other", (rayleigh,), {})
    with pytest.raises(ParameterError, match="already registered"):
        register_family(other)
    with pytest.raises(ParameterError, match="without '\\+'"):
        register_family(type("Plus", (rayleigh,), {"name": "ray+leigh"}))


def test_the_registered_family_is_simulated_fitted_and_chosen(rayleigh: type[RecoveryFamily]) -> None:
    t = restoration_times(600, family="rayleigh", params=[90.0], rng=3)
    records = pl.DataFrame({"observed_at": t, "restored": [True] * t.size})
    fit = fit_restorations(records, onset=ONSET, families=["rayleigh", "exponential"], n_boot=30)
    assert fit.model == "rayleigh"
    assert set(fit.candidates["family"]) >= {"rayleigh", "exponential"}
    truth = 90.0 * math.sqrt(math.log(2.0))
    assert abs(fit.quantile(0.5).value - truth) / truth < 0.1


def test_the_page_lists_it_among_the_candidates(
    rayleigh: type[RecoveryFamily], make_incident: Callable[..., Path], tmp_path: Path
) -> None:
    times = restoration_times(300, family="rayleigh", params=[90.0], rng=4)
    rows = "\n".join(
        f"c{i},{(LOCAL_ONSET + dt.timedelta(minutes=float(m))).strftime('%Y-%m-%d %H:%M:%S')},true" for i, m in enumerate(times)
    )
    extra = '[sources.columns]\ncustomer_id = "cust"\nobserved_at = "at"\nrestored = "ok"\n'
    folder = make_incident(
        f"cust,at,ok\n{rows}\n",
        kind="restorations",
        extra=f'onset = "{LOCAL_ONSET.isoformat()}"',
        source_extra=extra,
        incident_id="rayleigh",
    )
    a = analyze_fast(folder, tmp_path / "processed", families="rayleigh,exponential", language="fr")
    assert a.fit is not None and a.fit.model == "rayleigh"
    html = sections.candidates_methods(a)
    assert "rayleigh" in html and "exponential" in html
    # the Methods paragraph lists the registered families: the new one by its name (no word for it in the catalogues)
    assert "log-normale, log-logistique, gamma, un mélange à deux composantes avec une queue lente, rayleigh, chacune" in (
        methods_report.methods(a)
    )
