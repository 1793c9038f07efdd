"""The project's exceptions: one base class, a few specific ones.

The CLI turns any :class:`AnalysisError` into one line on stderr and a non-zero exit;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class for every error caused by the user's data, configuration or parameters."""


class ConfigError(AnalysisError):
    """An ``incident.toml`` is missing, malformed, or names something impossible."""


class IngestError(AnalysisError):
    """A source file cannot be read or lacks a required column."""


class GeoError(AnalysisError):
    """Reference geography or a user boundary/exposure file is unusable."""


class FitError(AnalysisError):
    """A recovery model cannot be fitted to the data given."""


class ParameterError(AnalysisError):
    """A notebook or CLI parameter has an unknown name, a wrong type or an impossible value."""


class RenderError(AnalysisError):
    """A notebook run or the HTML export failed."""
