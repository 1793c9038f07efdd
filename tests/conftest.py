"""Shared fixtures: tiny incident folders written on the fly."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.config import PROJECT_ROOT

DEFAULT_INCIDENT = PROJECT_ROOT / "data" / "raw" / "proximus-2018-01-08"

BASE_TOML = """\
id = "{id}"
title = "Test incident"
timezone = "Europe/Brussels"
{extra}
[[sources]]
path = "{path}"
kind = "{kind}"
{source_extra}
"""


@pytest.fixture
def make_incident(tmp_path: Path) -> Callable[..., Path]:
    """Write an incident folder with one source file; returns the folder."""

    def _make(
        content: str | bytes,
        *,
        name: str = "reports.csv",
        kind: str = "down_reports",
        extra: str = "",
        source_extra: str = "",
        incident_id: str = "test-incident",
        toml: str | None = None,
    ) -> Path:
        folder = tmp_path / incident_id
        folder.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else textwrap.dedent(content).lstrip("\n").encode("utf-8")
        (folder / name).write_bytes(data)
        text = toml or BASE_TOML.format(
            id=incident_id, extra=textwrap.dedent(extra), path=name, kind=kind, source_extra=textwrap.dedent(source_extra)
        )
        (folder / "incident.toml").write_text(text, encoding="utf-8")
        return folder

    return _make
