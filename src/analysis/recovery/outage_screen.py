"""Screening of a customers-out series: one flag per reading, only feed defects dropped.

A scraped outage count has defects that are not restoration: the feed is lost for a few
runs (the county reads 0, a tiny constant, or a fraction of its level, then comes back),
it flaps between two levels, runs are missing, or a value is frozen. Those readings are
flagged and left out of the fit. Everything else is kept, including a rise after the peak
that persists (``relapse``: real new outages) and readings above the customer total
(``above_total``: a denominator problem, not a count problem). Flags:

* ``used`` — a clean reading inside the fitted window;
* ``dropout`` — a run of up to ``max_run`` readings (≤ 6 h) that starts with a fall below
  half the reading before it (or to exactly 0) and stays below half the level on both
  sides (the median of the 12 readings before it and of the 12 after it), then comes back;
  or a one- or two-reading dip below 75 % of the readings just before and after it;
* ``flapping`` — a stretch where the series jumps back and forth between two distinct
  levels (two or more excursions of at most an hour, at most an hour apart); the envelope
  on the line between the levels just before and just after the stretch is kept, the other
  is flagged (an envelope under 20 % of the kept level is called ``dropout``); and a value
  that comes back exactly three times within 4 h between other values (a frozen copy the
  feed flips to) is flagged wherever it sits;
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
DIP_SHORT = 0.75  # a dip of one or two runs: below this share of the level on both sides
DIP_LONG = 0.5  # a longer dip: below this share
SIDE = 12  # readings on each side whose median is "the level" around a reading (3 h at 15 min)
FLAP_RUN = 4  # an excursion of a flapping feed lasts at most this many readings
FLAP_GAP = 4  # excursions at most this many readings apart belong to one stretch
FLAP_OFF = 0.25  # in a stretch, a reading this far from the level around it is the wrong envelope
TINY = 0.2  # a flagged envelope below this share of the kept level is a dropout, not a flap


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the runs of True in ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0], strict=True))


def _excursions(minutes: np.ndarray, v: np.ndarray, peak: float) -> list[tuple[int, int]]:
    """Short runs (≤ ``FLAP_RUN`` readings, ≤ an hour) that jump away from the reading before by > 25 % and come back."""
    out: list[tuple[int, int]] = []
    n, i = v.size, 1
    while i < n - 1:
        pre = v[i - 1]
        jump = abs(v[i] - pre) > FLAP_OFF * max(pre, v[i]) and abs(v[i] - pre) > 0.02 * peak
        stop = -1
        if jump:
            for j in range(i + 1, min(i + FLAP_RUN, n - 1) + 1):
                if minutes[j] - minutes[i] > 75.0:  # back within an hour and a reading
                    break
                if abs(v[j] - pre) <= FLAP_OFF * pre:
                    stop = j
                    break
        if stop < 0:
            i += 1
            continue
        out.append((i, stop))
        i = stop
    return out


def _wrong_envelope(minutes: np.ndarray, v: np.ndarray, s: int, e: int) -> np.ndarray | None:
    """Which readings of the stretch ``s:e`` belong to the envelope that is not the series (None: no two levels).

    The readings are split into two levels (two-means on the log); the real one is the
    level that continues the readings just before and just after the stretch: a straight
    line (in log) through those and its readings fits better than through the other's.
    That holds in a steep rise or fall too, where the level before differs from the level after.
    """
    x = np.log(np.maximum(v[s:e], 1.0))
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi - lo < np.log(1.0 / (1.0 - FLAP_OFF)):
        return None
    high = x > 0.5 * (lo + hi)
    for _ in range(10):
        if high.all() or not high.any():
            return None
        cut = 0.5 * (float(np.mean(x[high])) + float(np.mean(x[~high])))
        new = x > cut
        if (new == high).all():
            break
        high = new
    if high.all() or not high.any() or np.mean(x[high]) - np.mean(x[~high]) < np.log(1.0 / (1.0 - FLAP_OFF)):
        return None
    edge = np.r_[max(0, s - 3) : s, e : min(v.size, e + 3)]
    if edge.size < 2:
        return None

    def misfit(members: np.ndarray) -> float:
        pos = np.r_[edge, np.arange(s, e)[members]]
        t, y = minutes[pos], np.log(np.maximum(v[pos], 1.0))
        coef = np.polyfit(t - t.mean(), y, 1)
        return float(np.sqrt(np.mean((y - np.polyval(coef, t - t.mean())) ** 2)))

    return high if misfit(~high) < misfit(high) else ~high


def _flapping(minutes: np.ndarray, v: np.ndarray, flag: np.ndarray, peak: float) -> None:
    """Flag the wrong envelope of every stretch where the feed flips between two levels (in place).

    A stretch is three or more short excursions at most ``FLAP_GAP`` readings apart, with
    the run on one level just before them; :func:`_wrong_envelope` says which level to flag.
    """
    idx = np.nonzero(flag == "")[0]  # readings already flagged are not part of the pattern
    v, minutes, whole = v[idx], minutes[idx], flag
    flag = np.full(idx.size, "", dtype=object)
    groups: list[list[tuple[int, int]]] = []
    for r in _excursions(minutes, v, peak):
        if groups and r[0] - groups[-1][-1][1] <= FLAP_GAP:
            groups[-1].append(r)
        else:
            groups.append([r])
    for group in groups:
        if len(group) < 3:
            continue
        s, e = group[0][0], group[-1][1]
        # the feed may sit on one level for a while before it starts to flip: that run belongs to the stretch
        while s > 1 and abs(v[s - 2] - v[s - 1]) <= 0.05 * v[s - 1] and group[0][0] - (s - 1) < 16:
            s -= 1
        if s < group[0][0]:
            s -= 1
        wrong = _wrong_envelope(minutes, v, s, e)
        if wrong is not None and wrong.any():
            kept = v[s:e][~wrong]
            tiny = float(np.median(v[s:e][wrong])) < TINY * float(np.median(kept)) if kept.size else False
            flag[s:e][wrong] = "dropout" if tiny else "flapping"
    whole[idx] = np.where(flag == "", whole[idx], flag)


def _stale_copies(minutes: np.ndarray, v: np.ndarray, flag: np.ndarray, peak: float, span: float = 240.0) -> None:
    """Flag a value that comes back exactly, three times or more within ``span`` minutes, between other values (in place).

    A feed that flips between its live count and a frozen copy of an old one repeats that
    old number to the customer while the live readings move: the copies are the wrong
    envelope whatever their level.
    """
    ok = (flag == "") & (v > 0.01 * peak) & (v >= 10)
    values, counts = np.unique(v[ok], return_counts=True)
    for value in values[counts >= 3]:
        at = np.nonzero(ok & (v == value))[0]
        for i in range(at.size - 2):
            window = at[(at >= at[i]) & (minutes[at] <= minutes[at[i]] + span)]
            if window.size < 3:
                continue
            between = np.arange(window[0], window[-1] + 1)
            others = between[(v[between] != value) & (flag[between] == "")]
            if others.size and np.any(np.abs(v[others] - value) > FLAP_OFF * value):
                label = "dropout" if value < TINY * float(np.median(v[others])) else "flapping"
                flag[window] = label
                # the readings on the same frozen level next to a copy are copies too (within 2 %)
                for start, step in ((int(window[0]) - 1, -1), (int(window[-1]) + 1, 1)):
                    j = start
                    while 0 <= j < v.size and flag[j] == "" and abs(v[j] - value) <= 0.02 * value:
                        flag[j] = label
                        j += step


def _dips(minutes: np.ndarray, v: np.ndarray, flag: np.ndarray, peak: float) -> None:
    """Flag one- or two-reading dips below 75 % of both immediate usable neighbours (in place).

    The neighbours, not a median over hours, are the reference: a dip in a steep rise is
    still far below the readings on either side of it. A dip within two hours of a
    flapping reading is the same flapping feed.
    """
    flapping = minutes[flag == "flapping"]
    idx = np.nonzero(flag == "")[0]
    w = v[idx]
    for width in (1, 2):
        for j in range(1, idx.size - width):
            run = idx[j : j + width]
            if np.any(flag[run] != ""):
                continue
            ref = min(w[j - 1], w[j + width])
            if np.all(v[run] < DIP_SHORT * ref) and ref - float(np.max(v[run])) > 0.02 * peak:
                near = flapping.size and float(np.min(np.abs(flapping - minutes[run[0]]))) <= 120.0
                flag[run] = "flapping" if near else "dropout"


def _dropouts(minutes: np.ndarray, v: np.ndarray, flag: np.ndarray, peak: float, *, max_run: int, max_minutes: float) -> None:
    """Flag feed losses: a sudden fall below half the level that comes back (in place).

    A run starts where a reading falls below half the one before it (or to exactly 0 from
    at least 10 customers) and lasts while the readings stay below half of both that
    reading and the level before it (the median of the ``SIDE`` readings before the run).
    It is a dropout when every
    reading in it is below half the level on both sides (the median of the ``SIDE``
    readings after it that are back above the run's limit, at least three). A real fall
    stays down, so too few readings come back; a steep real decline never halves from one reading to the next; the levels are
    medians of readings outside the run, so a long loss cannot hide behind its own readings.
    """
    n = v.size
    i = 1
    while i < n - 1:
        if flag[i] != "" or flag[i - 1] != "":
            i += 1
            continue
        pre = v[i - 1]
        drop = (v[i] < DIP_LONG * pre and pre - v[i] > 0.02 * peak) or (v[i] == 0 and pre >= 10)
        if not drop:
            i += 1
            continue
        ok_before = np.nonzero(flag[:i] == "")[0][-SIDE:]
        level_before = float(np.median(v[ok_before]))
        b = i
        limit = DIP_LONG * min(pre, level_before)  # the run lasts while the readings stay that low
        while b < n and b - i < max_run and v[b] < limit and minutes[b] - minutes[i] <= max_minutes:
            b += 1
        if b >= n or v[b] < limit:
            i = b + 1
            continue  # no way back inside the limits: a real change of level, or the end of the series
        after = np.nonzero(flag[b:] == "")[0][:SIDE] + b
        back = after[v[after] >= limit]  # another loss right after must not drag the level down
        if back.size < 3:
            i = b + 1
            continue  # too close to the end, or the series stays down: a real fall
        level = min(level_before, float(np.median(v[back])))
        # far below the level on both sides: a real fall stays down, so the level after it is low too
        if b > i and np.all((v[i:b] < DIP_LONG * level) | (v[i:b] == 0)):
            flag[i:b] = "dropout"
        i = max(b, i + 1)


def screen_present(
    minutes: np.ndarray, v: np.ndarray, *, max_run: int = 16, max_minutes: float = 360.0, stale_minutes: float = 180.0
) -> np.ndarray:
    """Defect flags (``dropout``, ``flapping``, ``stale`` or ``""``) of the present readings ``v`` in time order."""
    n = v.size
    flag = np.full(n, "", dtype=object)
    if n < 3:
        return flag
    peak = float(np.max(v)) or 1.0
    # feed losses far below the level first: a flip between two levels is then read on what remains
    _dropouts(minutes, v, flag, peak, max_run=max_run, max_minutes=max_minutes)
    _stale_copies(minutes, v, flag, peak)  # an exact copy says which level is frozen: before any guess
    _flapping(minutes, v, flag, peak)
    _dips(minutes, v, flag, peak)
    # stale: identical consecutive readings over stale_minutes, above 1% of the peak
    same = np.concatenate([[False], (v[1:] == v[:-1]) & (v[1:] > 0.01 * peak) & (flag[1:] == "")])
    for a, b in runs(same):
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
    for a, b in runs(up):
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
