"""One benchmark measurement, run in a process of its own by ``benchmarks/run.py``.

Each stage does its setup (imports, reading its input, warming reference caches) first and
untimed, then times only the work itself, writes what the next stage needs, and prints one
JSON line: ``seconds`` (the timed work), ``setup_seconds``, ``rss_setup_mb`` (resident
memory after setup) and stage details. The parent adds the wall time of the whole process
and its peak memory (``os.wait4``), so a stage's memory is measured without the parent's.

Stages, ours: ``generate`` (write a simulated incident), ``ingest`` (CSV → canonical table,
no geography), ``geocode`` (canonical table → municipalities), ``fit`` (binning and the
recovery fit with its bootstrap, as ``postmortem fit`` runs it). The pandas/geopandas way:
``pandas-read`` (``read_csv`` + ``to_datetime``), ``geopandas-geocode`` (a name merge and
``geopandas.sjoin`` for coordinates), ``pandas-bin`` (``resample``).

The functions are importable (the smoke test runs them in-process at 10⁴ reports).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _timed(setup: Callable[[], Any], work: Callable[[Any], Any]) -> tuple[Any, dict[str, float]]:
    t0 = time.perf_counter()
    state = setup()
    t1 = time.perf_counter()
    rss = _rss_mb()
    out = work(state)
    t2 = time.perf_counter()
    return out, {"setup_seconds": t1 - t0, "seconds": t2 - t1, "rss_setup_mb": rss}


# --------------------------------------------------------------------------- ours


def stage_generate(
    incident: Path, work: Path, *, scenario: str, n: int, seed: int, window_fraction: float | None = None
) -> dict[str, Any]:
    """Write the simulated incident folder ``incident`` (no per-report truth table: it is large).

    ``window_fraction`` replaces the scenario's share of reports known only within a window.
    """

    def setup() -> Any:
        from dataclasses import replace

        from analysis.simulate import get_scenario, write_scenario

        noise = get_scenario(scenario).noise
        return write_scenario, noise if window_fraction is None else replace(noise, window_fraction=window_fraction)

    def run(state: Any) -> Path:
        write_scenario, noise = state
        return write_scenario(scenario, incident, n_reports=n, seed=seed, noise=noise, report_truth=False)

    _, t = _timed(setup, run)
    return t | {"bytes": (incident / "reports.csv").stat().st_size}


def stage_ingest(incident: Path, work: Path) -> dict[str, Any]:
    """Read the incident's CSV into the canonical table and its rejects (no geography)."""

    def setup() -> Any:
        from analysis.config import load_incident
        from analysis.ingest import ingest_incident

        return load_incident(incident), ingest_incident

    def run(state: Any) -> Any:
        inc, ingest_incident = state
        return ingest_incident(inc, geocode=False)

    res, t = _timed(setup, run)
    work.mkdir(parents=True, exist_ok=True)
    res.reports.write_parquet(work / "canonical.parquet")
    return t | {"n_raw": res.n_raw, "n_reports": res.reports.height, "n_rejected": res.n_rejected}


def stage_geocode(incident: Path, work: Path) -> dict[str, Any]:
    """Resolve the canonical reports' places; the reference index is built in the setup."""

    def setup() -> Any:
        import polars as pl

        from analysis.geo import resolve_places
        from analysis.geo.boundaries import _piece_index
        from analysis.geo.index import _index

        _index()
        _piece_index()
        return pl.read_parquet(work / "canonical.parquet"), resolve_places

    def run(state: Any) -> Any:
        df, resolve_places = state
        return resolve_places(df)

    out, t = _timed(setup, run)
    out.write_parquet(work / "geocoded.parquet")
    n_places = out.select("place_raw").n_unique()
    unresolved = out.filter(out["geo_method"] == "unresolved").height
    return t | {"n_reports": out.height, "n_distinct_places": n_places, "n_unresolved": unresolved}


def stage_fit(incident: Path, work: Path) -> dict[str, Any]:
    """Bin the down reports and fit S(t) with the default parameters (all families, 200 replicates)."""

    def setup() -> Any:
        import polars as pl

        from analysis.config import load_incident
        from analysis.fitting import fit_recovery, observation_end
        from analysis.ingest import ONLINE_COLUMNS, RESTORATION_COLUMNS, IngestResult
        from analysis.params import validate_params

        inc = load_incident(incident)
        reports = pl.read_parquet(work / "geocoded.parquet")
        data = IngestResult(
            reports=reports,
            rejects=pl.DataFrame(),
            restorations=pl.DataFrame(schema=RESTORATION_COLUMNS),
            online=pl.DataFrame(schema=ONLINE_COLUMNS),
        )
        params = validate_params(incident_dir=str(incident), output_dir="")
        return inc, data, params, observation_end(inc, reports), fit_recovery

    def run(state: Any) -> Any:
        inc, data, params, end, fit_recovery = state
        return fit_recovery(inc, data, params, end=end)[0]

    fit, t = _timed(setup, run)
    return t | {"model": fit.model, "fit_timings": {k: round(v, 3) for k, v in fit.timings.items()}}


# --------------------------------------------------------------------------- the pandas/geopandas way


def stage_pandas_read(incident: Path, work: Path) -> dict[str, Any]:
    """``pandas.read_csv`` and ``pd.to_datetime`` of the time columns, localised and converted to UTC."""

    def setup() -> Any:
        import pandas as pd

        return pd

    def run(pd: Any) -> Any:
        df = pd.read_csv(incident / "reports.csv")
        for col in ("time", "until"):
            t = pd.to_datetime(df[col], format=TIME_FORMAT, errors="coerce")
            df[col] = t.dt.tz_localize("Europe/Brussels", ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        return df

    df, t = _timed(setup, run)
    return t | {"n_rows": len(df), "n_bad_time": int(df["time"].isna().sum())}


def _pandas_name_table(pd: Any) -> Any:
    """Municipality, section and postal-code names → NIS code, keyed by lower-cased text (first wins)."""
    from analysis.geo.reference import places, postal_codes, reference_municipalities

    m = reference_municipalities().to_pandas()
    frames = [m[[c, "nis_code"]].rename(columns={c: "name"}) for c in ("name", "name_fr", "name_nl", "name_de")]
    frames.append(places().select("name", "nis_code").to_pandas())
    names = pd.concat(frames).dropna()
    names["key"] = names["name"].str.lower().str.strip()
    postal = postal_codes().to_pandas().drop_duplicates("postal_code", keep=False)
    return names.drop_duplicates("key")[["key", "nis_code"]], postal.rename(columns={"nis_code": "nis_postal"})


def stage_geopandas_geocode(incident: Path, work: Path) -> dict[str, Any]:
    """Exact name and postal-code merges and a ``geopandas.sjoin`` of the coordinates on municipality polygons."""

    def setup() -> Any:
        import geopandas as gpd
        import pandas as pd

        from analysis.geo import boundaries

        names, postal = _pandas_name_table(pd)
        polys = boundaries("municipality")[["key", "geometry"]].rename(columns={"key": "nis_poly"})
        polys.sindex  # noqa: B018 - build the spatial index in the setup, as ours is
        df = pd.read_parquet(work / "canonical.parquet", columns=["report_id", "place_raw", "lat", "lon"])
        return gpd, names, postal, polys, df

    def run(state: Any) -> Any:
        gpd, names, postal, polys, df = state
        df = df.assign(key=df["place_raw"].str.lower().str.strip(), postal_code=df["place_raw"].str.extract(r"(\d{4})")[0])
        df = df.merge(names, on="key", how="left").merge(postal, on="postal_code", how="left")
        has_xy = df["lat"].notna() & df["lon"].notna()
        pts = gpd.GeoDataFrame(
            df.loc[has_xy, ["report_id"]], geometry=gpd.points_from_xy(df.loc[has_xy, "lon"], df.loc[has_xy, "lat"]), crs=4326
        )
        hit = gpd.sjoin(pts, polys, how="left", predicate="within").drop_duplicates("report_id")
        df = df.merge(hit[["report_id", "nis_poly"]], on="report_id", how="left")
        df["nis"] = df["nis_poly"].fillna(df["nis_code"]).fillna(df["nis_postal"])
        return df

    df, t = _timed(setup, run)
    return t | {"n_reports": len(df), "n_unresolved": int(df["nis"].isna().sum())}


def stage_pandas_bin(incident: Path, work: Path) -> dict[str, Any]:
    """Counts of reports in 5-minute bins with ``resample`` (what the fit's binning does)."""

    def setup() -> Any:
        import pandas as pd

        return pd.read_parquet(work / "geocoded.parquet", columns=["reported_at"])

    def run(df: Any) -> Any:
        return df.set_index("reported_at").resample("5min").size()

    counts, t = _timed(setup, run)
    return t | {"n_bins": len(counts)}


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "ingest": stage_ingest,
    "geocode": stage_geocode,
    "fit": stage_fit,
    "pandas-read": stage_pandas_read,
    "geopandas-geocode": stage_geopandas_geocode,
    "pandas-bin": stage_pandas_bin,
}


def main(argv: list[str] | None = None) -> int:
    """Run one stage and print its JSON result line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=["generate", *STAGES])
    p.add_argument("--incident", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--scenario", default="proximus-2018")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window-fraction", type=float, default=None)
    a = p.parse_args(argv)
    if a.stage == "generate":
        result = stage_generate(a.incident, a.work, scenario=a.scenario, n=a.n, seed=a.seed, window_fraction=a.window_fraction)
    else:
        result = STAGES[a.stage](a.incident, a.work)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
