"""A region's own fit against the national one: the same reports give the same curve, and no degenerate curve is shown."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from analysis.cli import app
from analysis.errors import FitError
from analysis.recovery import fit_down_reports
from analysis.spatial.equal_recovery import fit_group
from analysis.spatial_recovery import compare_regions

from .regional_fixtures import END, regional_reports, write_regional_incident


@pytest.mark.parametrize("seed", [2, 5])
def test_a_region_holding_every_report_shows_the_national_fit(tmp_path, seed):
    r = regional_reports({"Flanders": 30}, seed=seed)
    folder = write_regional_incident(r, tmp_path / f"sparse-{seed}", title="sparse", window=False)
    res = CliRunner().invoke(app, ["fit", str(folder), "-p", f"processed_dir={tmp_path / 'processed'}", "-p", "n_boot=20"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    nat, own = doc["recovery"], doc["regions"]["Flanders"]
    assert own["basis"] == "own fit" and own["n_reports_fitted"] == doc["n_down_reports"]
    assert own["model"] == nat["model"]
    for q in ("t50", "t90"):  # metrics round the national times to 0.1 min, the regions' to 0.01
        assert own[f"{q}_minutes"] == pytest.approx(nat[f"{q}_minutes"], abs=0.051)
        assert own[f"{q}_minutes_ci"] == pytest.approx(nat[f"{q}_minutes_ci"], abs=0.051)
    assert all(doc["regions"][g]["basis"] != "own fit" for g in ("Wallonia", "Brussels"))


def test_a_degenerate_own_fit_is_refused():
    # 26 reports whose gamma fit collapses its shape: S drops at the onset, t50 ~ 1e-30 min
    r = regional_reports({"Flanders": 30}, seed=2)
    national = fit_down_reports(r["reported_at"], onset=None, end=END, families=["gamma"], n_boot=0, seed=0)
    assert national.point(lambda fam, th: fam.quantile(0.5, th)) < 1e-6  # the boundary this test is about
    with pytest.raises(FitError, match="degenerate"):
        fit_group(r, national, propensity=None, bin_minutes=5.0, n_boot=0, seed=0)
    # another family on the same reports is not degenerate and is kept
    fit = fit_group(r, national, propensity=None, bin_minutes=5.0, n_boot=0, seed=0, family="loglogistic")
    assert fit.t50.value > 1.0


def test_a_region_whose_own_fit_is_degenerate_shows_its_pooled_estimate_and_says_why():
    flanders = regional_reports({"Flanders": 30}, seed=2)
    national = fit_down_reports(flanders["reported_at"], onset=None, end=END, families=["gamma"], n_boot=0, seed=0)
    reports = pl.concat([flanders, regional_reports({"Brussels": 4}, seed=9)])
    c = compare_regions(reports, national, n_boot=0, seed=0)
    f = c.regions["Flanders"]
    assert f.fit is None and f.basis.startswith("pooled")
    assert any(n.startswith("Flanders: own fit failed (gamma is degenerate") and "pooled estimate shown" in n for n in c.notes)
    # without the degenerate fit, Flanders' own fit is made (the refusal is not a rule about thin regions)
    ok = fit_down_reports(flanders["reported_at"], onset=None, end=END, families=["loglogistic"], n_boot=0, seed=0)
    assert compare_regions(reports, ok, n_boot=0, seed=0).regions["Flanders"].basis == "own fit"
