"""Recovery curves S(t): the fraction of affected customers still without service t minutes after onset.

Families (lifelines shape) live in :mod:`analysis.recovery.families`; the evidence-specific
fitters return a :class:`RecoveryFit` whose headline numbers are :class:`Estimate` objects
(value with an interval at the fit's level).
"""

from analysis.recovery.families import CANDIDATES, FAMILIES, RecoveryFamily, make_family
from analysis.recovery.onset import OnsetEstimate, estimate_onset
from analysis.recovery.reports import fit_down_reports
from analysis.recovery.result import Diagnostics, Estimate, RecoveryFit

__all__ = [
    "CANDIDATES",
    "FAMILIES",
    "Diagnostics",
    "Estimate",
    "OnsetEstimate",
    "RecoveryFamily",
    "RecoveryFit",
    "estimate_onset",
    "fit_down_reports",
    "make_family",
]
