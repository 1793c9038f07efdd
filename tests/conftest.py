"""Shared fixtures: tiny incident folders written on the fly."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.config import PROJECT_ROOT

# Renders write the language parameter's page alone unless a test asks for more languages
# (each extra language is another notebook run); the language tests pass languages=...
os.environ.setdefault("POSTMORTEM_LANGUAGES", "")

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


def analyze_fast(folder: Path, processed: Path, **overrides: object):  # -> analysis.pipeline.Analysis
    """Analyse an incident with few bootstrap replicates and two families (seconds, not a minute)."""
    from analysis.params import validate_params
    from analysis.pipeline import analyze

    params = {"n_boot": 20, "families": "exponential,loglogistic", **overrides}
    return analyze(validate_params(incident_dir=str(folder), processed_dir=str(processed), **params))


@pytest.fixture(scope="session")
def default_analysis(tmp_path_factory: pytest.TempPathFactory):
    """The default incident (curated press statements), analysed once for the whole run."""
    return analyze_fast(DEFAULT_INCIDENT, tmp_path_factory.mktemp("default-processed"))


@pytest.fixture(scope="session")
def spontaneous_analysis(tmp_path_factory: pytest.TempPathFactory):
    """The same statements declared spontaneous reports: the path that headlines model numbers."""
    import shutil

    folder = tmp_path_factory.mktemp("spontaneous") / "proximus-spontaneous"
    shutil.copytree(DEFAULT_INCIDENT, folder)
    toml = (folder / "incident.toml").read_text(encoding="utf-8")
    assert 'sampling = "curated"' in toml
    toml = toml.replace('sampling = "curated"', 'sampling = "spontaneous"').replace(
        'id = "proximus-2018-01-08"', 'id = "proximus-spontaneous"'
    )
    (folder / "incident.toml").write_text(toml, encoding="utf-8")
    return analyze_fast(folder, tmp_path_factory.mktemp("spontaneous-processed"))
