"""Limits on the work and memory one incident may cost, whatever numbers its files hold.

Work must be bounded by the real size of the data, not by a number written in it: a cell
address, a ``count``, a year. Each limit has a default suited to real outages (measured
on the largest real incidents: well under a tenth of each limit) and can be changed with
an environment variable, which reaches every render process and notebook kernel:

=============================  =========================  ===========================================
environment variable           default                    what it bounds
=============================  =========================  ===========================================
``POSTMORTEM_MAX_XLSX_XML_MB`` 256                        uncompressed XML of one xlsx worksheet
``POSTMORTEM_MAX_XLSX_CELLS``  20000000                   rows × columns a worksheet spans
``POSTMORTEM_MAX_LINE_MB``     16                         one line of a CSV or JSON Lines file
``POSTMORTEM_MAX_REPORTS``     20000000                   reports of one source (``count`` summed)
``POSTMORTEM_MAX_SPAN_DAYS``   366                        days between a row's time and the median
                                                          time of its source; onset to end
``POSTMORTEM_TIMEOUT``         1800                       seconds per incident of ``render`` and
                                                          ``render-all`` (``--timeout`` wins)
``POSTMORTEM_MAX_N_BOOT``      10000                      the ``n_boot`` parameter
``POSTMORTEM_MAX_EVENTS``      500                        ``[[events]]`` of one incident
=============================  =========================  ===========================================

docs/security.md explains each limit and what happens at it.
"""

from __future__ import annotations

import os

from analysis.errors import ParameterError

DEFAULTS: dict[str, float] = {
    "MAX_XLSX_XML_MB": 256,
    "MAX_XLSX_CELLS": 20_000_000,
    "MAX_LINE_MB": 16,
    "MAX_REPORTS": 20_000_000,
    "MAX_SPAN_DAYS": 366,
    "TIMEOUT": 1800,
    "MAX_N_BOOT": 10_000,
    "MAX_EVENTS": 500,
}
PREFIX = "POSTMORTEM_"


def limit(name: str) -> float:
    """The limit ``name`` (a key of :data:`DEFAULTS`): its environment variable, else the default.

    Raises
    ------
    ParameterError
        The environment variable is set but is not a positive number.
    """
    default = DEFAULTS[name]
    text = os.environ.get(PREFIX + name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ParameterError(f"environment variable {PREFIX}{name}: expected a positive number, got {text[:50]!r}")
    return value


def default_timeout() -> float:
    """Seconds one incident may take to render unless ``--timeout`` says otherwise."""
    return limit("TIMEOUT")
