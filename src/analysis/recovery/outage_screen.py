"""Screening of a customers-out series: one flag per reading, only feed defects dropped.

A scraped outage count has defects that are not restoration: the feed is lost for a few
runs (the county reads 0, a tiny constant, or a fraction of its level, then comes back),
it flaps between two levels, runs are missing, or a value is frozen. Those readings are
flagged and left out of the fit. Everything else is kept, including a rise after the peak
that persists (``relapse``: real new outages) and readings above the customer total
(``above_total``: a denominator problem, not a count problem). Flags:

* ``used`` — a clean reading inside the fitted window;
* ``dropout`` — a run of up to ``max_run`` readings (≤ 6 h) far below the level before and
  after it, which then comes back: a one- or two-run dip below 75 % of both neighbours, a
  longer run below 50 %, or exact zeros between readings of at least 10 customers;
* ``flapping`` — a stretch where the series jumps back and forth between two distinct
  levels (two or more excursions at most an hour apart); the level matching the readings
  just before and after the stretch is kept, the other envelope is flagged (a low envelope
  under 20 % of the kept level is called ``dropout``);
* ``missing`` — a run absent from the regular cadence (a row is inserted) or a null value:
  missing is never zero;
* ``stale`` — a value repeated unchanged for ``stale_minutes`` or longer above 1 % of the
  peak (all but the first of the run): kept in the fit — it is the utility's last report,
  possibly late, not a lost feed — and flagged so the report can show it;
* ``before_onset``, ``after_end`` — outside the fitted window (kept in the table);
* ``relapse`` — after the peak, a rise of more than 3 % of the peak above the lowest level
  reached so far, lasting an hour or more: kept in the fit, flagged for the report;
* ``above_total`` — more customers out than served (when a total is known): kept, warned.
"""

from __future__ import annotations

import numpy as np

DEFECTS = ("dropout", "flapping", "missing")
USED = ("used", "relapse", "above_total", "stale")
DIP_SHORT = 0.75  # a dip of one or two runs: below this share of both neighbours
DIP_LONG = 0.5  # a longer dip: below this share
BACK = 0.8  # the series "comes back" when it returns to this share of the level before
FLAP_GAP = 4  # excursions at most this many readings apart belong to one stretch
TINY = 0.2  # a flagged envelope below this share of the kept level is a dropout, not a flap


def _excursions(v: np.ndarray, peak: float, max_run: int, minutes: np.ndarray, max_minutes: float) -> list[tuple[int, int, str]]:
    """Candidate runs ``(start, stop, "dip" | "spike" | "zero")``: a jump away from the level that comes back."""
    out: list[tuple[int, int, str]] = []
    n = v.size
    i = 1
    while i < n - 1:
        pre = v[i - 1]
        kind = ""
        if v[i] == 0 and pre >= 10:
            kind = "zero"
        elif v[i] < DIP_SHORT * pre and pre - v[i] > 0.02 * peak:
            kind = "dip"
        elif pre > 0 and v[i] > pre / DIP_SHORT and v[i] - pre > 0.02 * peak:
            kind = "spike"
        if not kind:
            i += 1
            continue
        stop = -1
        for j in range(i + 1, min(i + max_run, n - 1) + 1):
            if minutes[j - 1] - minutes[i] > max_minutes:
                break
            back = v[j] <= pre / BACK if kind == "spike" else v[j] >= BACK * pre
            if back:
                stop = j
                break
        if stop < 0:
            i += 1
            continue
        out.append((i, stop, kind))
        i = stop + 1  # the reading that came back starts no excursion of its own
    return out


def _groups(runs: list[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]]:
    """Runs at most ``FLAP_GAP`` readings apart, grouped into stretches."""
    groups: list[list[tuple[int, int, str]]] = []
    for r in runs:
        if groups and r[0] - groups[-1][-1][1] <= FLAP_GAP:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def screen_present(
    minutes: np.ndarray, v: np.ndarray, *, max_run: int = 16, max_minutes: float = 360.0, stale_minutes: float = 180.0
) -> np.ndarray:
    """Defect flags (``dropout``, ``flapping``, ``stale`` or ``""``) of the present readings ``v`` in time order."""
    n = v.size
    flag = np.full(n, "", dtype=object)
    if n < 3:
        return flag
    peak = float(np.max(v)) or 1.0
    for group in _groups(_excursions(v, peak, max_run, minutes, max_minutes)):
        s, e = group[0][0], group[-1][1]  # readings s .. e-1 form the stretch
        if len(group) == 1:
            a, b, kind = group[0]
            if kind == "spike":
                continue
            ref = min(v[a - 1], v[b])
            thr = DIP_SHORT if b - a <= 2 else DIP_LONG
            if kind == "zero" or np.max(v[a:b]) < thr * ref:
                flag[a:b] = "dropout"
            continue
        around = np.concatenate([v[max(0, s - 4) : s], v[e : e + 4]])
        ref = float(np.median(around))
        off = np.abs(v[s:e] - ref) > 0.25 * ref
        if not off.any():
            continue
        tiny = float(np.median(v[s:e][off])) < TINY * ref
        flag[s:e][off] = "dropout" if tiny else "flapping"
    # stale: identical consecutive readings over stale_minutes, above 1% of the peak
    same = np.concatenate([[False], (v[1:] == v[:-1]) & (v[1:] > 0.01 * peak) & (flag[1:] == "")])
    d = np.diff(np.concatenate([[0], same.astype(int), [0]]))
    for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True):
        if minutes[b - 1] - minutes[a - 1] >= stale_minutes:
            flag[a:b] = "stale"
    return flag


def relapse_mask(
    minutes: np.ndarray, y: np.ndarray, peak_index: int, *, rise: float = 0.03, min_minutes: float = 60.0
) -> np.ndarray:
    """Readings after the peak more than ``rise`` (share of the peak) above the lowest level so far, in runs of ≥ ``min_minutes``."""
    n = y.size
    mask = np.zeros(n, dtype=bool)
    if peak_index >= n - 1:
        return mask
    low = np.minimum.accumulate(y[peak_index:])
    up = np.zeros(n, dtype=bool)
    up[peak_index:] = y[peak_index:] > low + rise
    d = np.diff(np.concatenate([[0], up.astype(int), [0]]))
    for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True):
        if minutes[b - 1] - minutes[a] >= min_minutes or b == n:
            mask[a:b] = True
    return mask


def first_sustained(minutes: np.ndarray, v: np.ndarray, threshold: float, hold_minutes: float = 60.0) -> int:
    """Index of the first reading ≥ ``threshold`` with every reading of the next ``hold_minutes`` also ≥ it (−1 if none)."""
    above = v >= threshold
    for i in np.nonzero(above)[0]:
        later = (minutes > minutes[i]) & (minutes <= minutes[i] + hold_minutes)
        if minutes[-1] >= minutes[i] + hold_minutes and np.all(above[later]):
            return int(i)
    return -1
