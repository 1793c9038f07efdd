"""Recovery curves S(t): the fraction of affected customers still without service t minutes after onset.

Families (lifelines shape) live in :mod:`analysis.recovery.families`; the evidence-specific
fitters return a :class:`RecoveryFit` whose headline numbers are :class:`Estimate` objects
(value with an interval at the fit's level):

* :func:`fit_down_reports` — user reports, a Poisson process with intensity A·g(hour)·S(t);
* :func:`fit_restorations` — per-customer restoration times, censored likelihood;
* :func:`fit_online_fraction` — a series of the share online, with defects flagged;
* :func:`fit_customers_out` — a customers-out series (EAGLE-I), an infinite-server queue;
* :func:`fit_by_group` — per region (or any grouping), partially pooled, with a
  likelihood-ratio test of equal recovery.

The last two share their options (:class:`ReportOptions`), given by keyword or as one object.
"""

from analysis.recovery.families import (
    CANDIDATES,
    FAMILIES,
    CensoredData,
    RecoveryFamily,
    make_family,
    register_family,
    unregister_family,
)
from analysis.recovery.groups import GroupFit, fit_by_group
from analysis.recovery.nonparametric import kaplan_meier, turnbull
from analysis.recovery.online import fit_online_fraction, screen_series
from analysis.recovery.onset import OnsetEstimate, estimate_onset
from analysis.recovery.outage_result import Crossing, CustomersOutFit
from analysis.recovery.outages import fit_customers_out, fit_customers_out_by_area
from analysis.recovery.propensity import DEFAULT_PROPENSITY
from analysis.recovery.report_input import ReportOptions
from analysis.recovery.reports import fit_down_reports, split_reports
from analysis.recovery.restorations import fit_restorations, restoration_data
from analysis.recovery.result import Diagnostics, Estimate, RecoveryFit

__all__ = [
    "CANDIDATES",
    "DEFAULT_PROPENSITY",
    "FAMILIES",
    "CensoredData",
    "Crossing",
    "CustomersOutFit",
    "Diagnostics",
    "Estimate",
    "GroupFit",
    "OnsetEstimate",
    "RecoveryFamily",
    "RecoveryFit",
    "ReportOptions",
    "estimate_onset",
    "fit_by_group",
    "fit_customers_out",
    "fit_customers_out_by_area",
    "fit_down_reports",
    "fit_online_fraction",
    "fit_restorations",
    "kaplan_meier",
    "make_family",
    "register_family",
    "restoration_data",
    "screen_series",
    "split_reports",
    "turnbull",
    "unregister_family",
]
