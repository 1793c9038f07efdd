"""A TOML table read key by key, shared by ``incident.toml``'s tables and its ``[postmortem]`` table.

Every error names the file and the full key (``events[2].label``); every key read is marked, so
a key nobody read (a misspelling) is refused by :meth:`TableKeys.check_unknown`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError, quote


class TableKeys:
    """The file, the table and its key prefix; the errors and checks every reader of a table shares."""

    #: where the keys of this kind of table are documented (named when a key is unknown)
    documented_in = "docs/architecture.md"

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str = "") -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        """The full key of ``name`` (``sources[0].path``)."""
        return f"{self.prefix}{name}"

    def fail(self, name: str, message: str) -> ConfigError:
        """The error for key ``name``, naming the file and the full key."""
        return ConfigError(f"{self.path}: key '{self.key(name)}': {message}")

    def chosen(self, name: str, value: str | None, choices: tuple[str, ...], default: str | None) -> str | None:
        """``value`` of key ``name`` if it is one of ``choices``; ``default`` when absent."""
        if value is None:
            return default
        if value not in choices:
            raise self.fail(name, f"expected one of {', '.join(choices)}; got {quote(value)}")
        return value

    def check_unknown(self) -> None:
        """Refuse the first key of the table that nothing read (a misspelt key must not be ignored)."""
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (check the spelling; see {self.documented_in})")


__all__ = ["TableKeys"]
