"""Outage post-mortem analysis."""

from importlib import metadata as _metadata

try:
    __version__: str = _metadata.version("outage-postmortem")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
