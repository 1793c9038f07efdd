"""Simulated source rows: report rows with their noise, and decoder telemetry rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from analysis.simulate.processes import RestorationRecords, restoration_records
from analysis.simulate.scenarios import BAD_TIMES, COMMENTS, PLACE_FORMS, SERVICES, TIME_FORMAT, Noise
from analysis.simulate.world import _assign_places, _expected_integral, _gather, _World, exact_report_times


def _choice_strings(options: Sequence[tuple[str | None, float]], n: int, rng: np.random.Generator) -> pl.Series:
    p = np.array([w for _, w in options])
    return _gather([o for o, _ in options], rng.choice(len(options), size=n, p=p / p.sum()))


def _local_strings(epoch_s: np.ndarray, tz: str, *, unit: float = 1.0, up: bool = False) -> pl.Series:
    """Local wall-clock strings of UTC instants, rounded down (or ``up``) to ``unit`` seconds."""
    steps = np.ceil(epoch_s / unit - 1e-9) if up else np.floor(epoch_s / unit + 1e-9)
    us = steps.astype(np.int64) * round(unit * 1e6)
    return pl.Series(us).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz).dt.strftime(TIME_FORMAT)


def _clock_windows(
    minutes: np.ndarray, widths: np.ndarray, *, onset_s: float, timezone: str, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """The local-clock cell of width ``widths`` (minutes, from local midnight) holding each time.

    A report known only as "between 21:00 and 22:00" or "Tuesday morning" (06:00–12:00) lies
    in a fixed cell of the clock, whatever its true time inside it: the coarsening does not
    depend on the time beyond the cell, so the likelihood may treat the window as "somewhere
    in it" (coarsened at random). Cells are clipped to the observation period; near a
    daylight-saving change a cell is an hour longer or shorter.
    """
    from analysis.recovery.propensity import local_hours

    clock = local_hours(onset_s + minutes * 60.0, timezone) * 60.0  # local minutes after midnight
    start = np.round((minutes - np.mod(clock, widths)) * 60.0) / 60.0  # on whole seconds, as the clock is
    return np.clip(start, 0.0, horizon), np.clip(start + widths, 0.0, horizon)


def _report_rows(world: _World, n: int) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """The export of an outage tracker: one row per report, plus duplicates and bad rows."""
    sc, places, streams = world.sc, world.places, world.streams
    munis = places.munis
    # 1. when and where each report is made
    minutes, muni_idx, regions, n_by_region, mass = _true_reports(world, n)
    rate_per_customer = n / float(mass.sum())  # a: reports per affected customer per minute at g = 1

    # 2. how each report names its place
    r_place = streams[2]
    noise = sc.noise
    fw = dict(sc.form_weights)
    f_p = np.array([fw.get(f, 0.0) for f in PLACE_FORMS[:4]])
    forms = r_place.choice(4, size=n, p=f_p / f_p.sum())
    forms[r_place.random(n) < noise.missing_place_rate] = 4
    text, lat, lon, forms, variant = _assign_places(muni_idx, forms, places=places, noise=noise, rng=r_place, typo_rng=streams[6])

    # 3. time windows ("Tuesday morning")
    time_s, until, win, start_min = _report_clock(world, minutes)

    r_misc = streams[4]
    genuine = pl.DataFrame(
        {
            "time": time_s,
            "until": until,
            "place": text,
            "lat": pl.Series(lat, nan_to_null=True),
            "lon": pl.Series(lon, nan_to_null=True),
            "service": _choice_strings(SERVICES, n, r_misc),
            "comment": _choice_strings(COMMENTS, n, r_misc),
        }
    )

    # 4. duplicates and bad rows, placed in time order like the rest of the export
    rows, genuine_ids, n_dup, n_bad = _with_repeats(genuine, start_min, noise, r_misc)
    rtruth = _truth_frame(genuine_ids, minutes, munis, muni_idx, forms).with_columns(
        variant=pl.Series(variant, dtype=pl.Int64), windowed=win
    )
    counts = {
        **_row_counts(rows, n, n_dup, n_bad),
        "n_windowed": int(win.sum()),
        "n_missing_place": int((forms == 4).sum()),
        "n_typos": int((variant >= 4).sum()),
        "n_case_variants": int(((variant >= 1) & (variant <= 3)).sum()),
        "by_form": {f: int((forms == i).sum()) for i, f in enumerate(PLACE_FORMS)},
        "reports_by_region": {r: int(k) for r, k in zip(regions, n_by_region.tolist(), strict=True)},
        "rate_per_customer_per_minute": rate_per_customer,
        "expected_peak_reports_per_15min": _peak(world, rate_per_customer),
    }
    return rows, rtruth, counts


def _true_reports(world: _World, n: int) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Each report's true time (minutes after onset, sorted) and municipality, drawn region by region.

    Also the regions, the reports per region and each region's expected mass of reports.
    """
    sc, per_muni, models, n_aff = world.sc, world.per_muni, world.models, world.n_aff
    onset_s, horizon = world.onset_s, world.horizon
    region_of = world.places.munis["region"].to_numpy()
    regions = [r for r in sorted(n_aff) if n_aff[r] > 0]
    integral = {
        r: _expected_integral(
            models[r][0], models[r][1], horizon=horizon, onset_s=onset_s, timezone=sc.timezone, propensity=sc.propensity
        )
        for r in regions
    }
    mass = np.array([n_aff[r] * integral[r] for r in regions])
    r_times = world.streams[1]
    n_by_region = r_times.multinomial(n, mass / mass.sum())
    times, muni = [], []
    for r, k in zip(regions, n_by_region.tolist(), strict=True):
        t = exact_report_times(
            k,
            family=models[r][0],
            theta=models[r][1],
            horizon=horizon,
            onset_s=onset_s,
            timezone=sc.timezone,
            propensity=sc.propensity,
            integral=integral[r],
            rng=r_times,
        )
        idx = np.flatnonzero(region_of == r)
        w = per_muni[idx].astype(float)
        times.append(t)
        muni.append(idx[r_times.choice(idx.size, size=k, p=w / w.sum())])
    minutes = np.concatenate(times)
    muni_idx = np.concatenate(muni)
    order = np.argsort(minutes, kind="stable")
    return minutes[order], muni_idx[order], regions, n_by_region, mass


def _report_clock(world: _World, minutes: np.ndarray) -> tuple[pl.Series, pl.Series, np.ndarray, np.ndarray]:
    """The local time text of each report, a window's end (``until``), which are windows, and each row's start minute."""
    n = minutes.size
    noise, tz, onset_s = world.sc.noise, world.sc.timezone, world.onset_s
    r_win = world.streams[3]
    win = r_win.random(n) < noise.window_fraction
    widths = np.asarray(noise.window_widths, dtype=float)
    w = widths[r_win.integers(0, widths.size, int(win.sum()))]
    w_start, w_end = _clock_windows(minutes[win], w, onset_s=onset_s, timezone=tz, horizon=world.horizon)
    start_min = minutes.copy()
    start_min[win] = w_start
    time_s = _local_strings(onset_s + minutes * 60.0, tz)
    until = pl.Series("until", [None] * n, dtype=pl.String)
    if win.any():
        win_idx = np.flatnonzero(win)
        time_s = time_s.scatter(win_idx, _local_strings(onset_s + w_start * 60.0, tz, unit=60.0))
        until = until.scatter(win_idx, _local_strings(onset_s + w_end * 60.0, tz, unit=60.0, up=True))
    return time_s, until, win, start_min


def _with_repeats(
    genuine: pl.DataFrame, start_min: np.ndarray, noise: Noise, r_misc: np.random.Generator
) -> tuple[pl.DataFrame, pl.Series, int, int]:
    """The export: genuine rows, duplicates and bad rows in time order, with ids (a duplicate repeats its original's).

    Also the genuine rows' ids and the numbers of duplicates and bad rows.
    """
    n = genuine.height
    n_dup = round(noise.duplicate_rate * n)
    n_bad = round(noise.bad_row_rate * n)
    dup_of = np.sort(r_misc.choice(n, size=n_dup, replace=False)) if n_dup else np.empty(0, dtype=np.int64)
    bad_like = r_misc.integers(0, n, n_bad)
    bad_times = _choice_strings([(b, 1.0) for b in BAD_TIMES], n_bad, r_misc)
    bad = genuine[bad_like].with_columns(bad_times.alias("time"), pl.lit(None, pl.String).alias("until"))
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(n_dup, np.int8), np.full(n_bad, 2, np.int8)])
    source = np.concatenate([np.arange(n), dup_of, bad_like])
    # stable: a duplicate or bad row follows the report it copies (rows are concatenated in that order)
    sort_key = np.concatenate([start_min, start_min[dup_of], start_min[bad_like]])
    order = np.argsort(sort_key, kind="stable")
    rows = pl.concat([genuine, genuine[dup_of], bad], how="vertical")[order]
    # ids: one per row of the export, a duplicate repeating its original's
    kind_o, source_o = kind[order], source[order]
    own = kind_o != 1
    seq = np.cumsum(own)
    row_id = seq.copy()
    orig_pos = np.flatnonzero(kind_o == 0)
    id_of_genuine = np.empty(n, dtype=np.int64)
    id_of_genuine[source_o[orig_pos]] = seq[orig_pos]
    row_id[~own] = id_of_genuine[source_o[~own]]
    width = len(str(int(seq[-1]))) if seq.size else 1
    ids = pl.Series(row_id).cast(pl.String).str.zfill(width)
    rows = rows.with_columns(("R" + ids).alias("id")).select("id", *genuine.columns)
    return rows, "R" + pl.Series(id_of_genuine).cast(pl.String).str.zfill(width), int(n_dup), int(n_bad)


def _peak(world: _World, a: float) -> float:
    """Expected number of reports in the busiest 15 minutes (a sliding window)."""
    from analysis.recovery.propensity import check_propensity, hourly_weights

    t = np.arange(0.0, world.horizon, 0.25) + 0.125
    g = hourly_weights(world.onset_s + t * 60.0, world.sc.timezone, check_propensity(world.sc.propensity))
    lam = sum(a * w * fam.sf(t, th) for fam, th, w in world.components) * g
    return round(float(np.max(np.convolve(lam * 0.25, np.ones(60), mode="valid"))), 1)


def _telemetry_rows(world: _World) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """A decoder-telemetry export: one row per affected device (restored, still down, or a polling window)."""
    sc, places, per_muni, restore, streams = world.sc, world.places, world.per_muni, world.restore, world.streams
    onset_s, horizon = world.onset_s, world.horizon
    munis = places.munis
    region_of = munis["region"].to_numpy()
    times, muni = [], []
    for r in sorted(restore):
        idx = np.flatnonzero(region_of == r)
        times.append(restore[r])
        muni.append(np.repeat(idx, per_muni[idx]))
    truth_t = np.concatenate(times)
    muni_idx = np.concatenate(muni)
    n = truth_t.size
    perm = streams[1].permutation(n)  # devices in no particular order, as an export lists them
    truth_t, muni_idx = truth_t[perm], muni_idx[perm]
    rec = restoration_records(
        truth_t,
        censor_at=horizon,
        inspection_minutes=sc.inspection_minutes,
        interval_fraction=sc.interval_fraction,
        rng=streams[5],
    )
    # where the decoder is: a postal code of its municipality, sometimes missing
    r_place = streams[2]
    forms = np.full(n, 2, dtype=np.int64)
    forms[r_place.random(n) < sc.noise.missing_place_rate] = 4
    text, _lat, _lon, forms, _variant = _assign_places(
        muni_idx, forms, places=places, noise=Noise.none(), rng=r_place, typo_rng=streams[6]
    )
    postal = text.str.extract(r"^(\d{4})")

    device = "D" + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(len(str(n)))
    genuine = pl.DataFrame({"device": device, **_record_times(rec, onset_s, horizon, sc.timezone), "postal_code": postal})
    rows, n_dup, n_bad = _telemetry_repeats(genuine, sc.noise, streams[4])
    exact, right, interval = rec.kind == "exact", rec.kind == "right", rec.kind == "interval"
    rtruth = _truth_frame(device, truth_t, munis, muni_idx, forms).with_columns(record=pl.Series(rec.kind.astype(str)))
    counts = {
        **_row_counts(rows, n, n_dup, n_bad),
        "n_exact": int(exact.sum()),
        "n_right_censored": int(right.sum()),
        "n_interval": int(interval.sum()),
        "n_missing_place": int((forms == 4).sum()),
        "by_form": {f: int((forms == i).sum()) for i, f in enumerate(PLACE_FORMS)},
    }
    return rows, rtruth, counts


def _truth_frame(ids: Any, minutes: np.ndarray, munis: pl.DataFrame, muni_idx: np.ndarray, forms: np.ndarray) -> pl.DataFrame:
    """The truth kept per row: its id, true time, municipality, region and how its place was written."""
    return pl.DataFrame(
        {
            "id": ids,
            "minutes": minutes,
            "nis_code": munis["nis_code"].gather(muni_idx),
            "region": munis["region"].gather(muni_idx),
            "form": pl.Series(np.asarray(PLACE_FORMS, dtype=object)[forms], dtype=pl.String),
        }
    )


def _row_counts(rows: pl.DataFrame, n: int, n_dup: int, n_bad: int) -> dict[str, int]:
    """The counts every source's truth holds: rows written, genuine records, repeated and bad rows."""
    return {"n_rows": int(rows.height), "n_reports": n, "n_duplicates": int(n_dup), "n_bad_rows": int(n_bad)}


def _record_times(rec: RestorationRecords, onset_s: float, horizon: float, tz: str) -> dict[str, pl.Series]:
    """A restoration record as an export writes it: ``observed_at`` and ``restored``, or the window it is known in."""
    exact = rec.kind == "exact"
    right = rec.kind == "right"
    interval = rec.kind == "interval"
    obs_min = np.where(exact, rec.lower, np.where(right, rec.lower, np.nan))
    obs = _local_strings(onset_s + np.nan_to_num(obs_min) * 60.0, tz)
    obs = pl.select(pl.when(pl.Series(~interval)).then(obs)).to_series()
    after = _local_strings(onset_s + np.where(interval, rec.lower, 0.0) * 60.0, tz)
    after = pl.select(pl.when(pl.Series(interval)).then(after)).to_series()
    before = _local_strings(onset_s + np.where(interval, np.minimum(rec.upper, horizon), 0.0) * 60.0, tz, up=True)
    before = pl.select(pl.when(pl.Series(interval)).then(before)).to_series()
    restored = _gather(["true", "false"], np.where(exact, 0, np.where(right, 1, -1)))
    return {"observed_at": obs, "restored": restored, "restored_after": after, "restored_before": before}


def _telemetry_repeats(genuine: pl.DataFrame, noise: Noise, r_misc: np.random.Generator) -> tuple[pl.DataFrame, int, int]:
    """The telemetry export: each device's row followed by its duplicates and bad rows; the numbers of both."""
    n = genuine.height
    n_dup = round(noise.duplicate_rate * n)
    n_bad = round(noise.bad_row_rate * n)
    dup_of = r_misc.choice(n, size=n_dup, replace=False) if n_dup else np.empty(0, dtype=np.int64)
    bad_like = r_misc.integers(0, n, n_bad)
    bad_times = _choice_strings([(b, 1.0) for b in BAD_TIMES if b], n_bad, r_misc)
    bad = genuine[bad_like].with_columns(
        bad_times.alias("observed_at"),
        pl.lit("true").alias("restored"),
        pl.lit(None, pl.String).alias("restored_after"),
        pl.lit(None, pl.String).alias("restored_before"),
        ("X" + pl.Series(np.arange(1, n_bad + 1)).cast(pl.String)).alias("device"),
    )
    source = np.concatenate([np.arange(n), dup_of, bad_like])
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(n_dup, np.int8), np.full(n_bad, 2, np.int8)])
    order = np.lexsort((kind, source))
    return pl.concat([genuine, genuine[dup_of], bad], how="vertical")[order], int(n_dup), int(n_bad)
