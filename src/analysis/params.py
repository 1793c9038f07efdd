"""Report parameters: one frozen, typed object, validated before any kernel starts.

The notebook's ``parameters`` cell mirrors :class:`ReportParams` field for field (a test
checks that ``papermill.inspect_notebook`` and this class agree). The CLI validates
``-p name=value`` pairs and YAML files with :func:`parse_cli_params` and
:func:`validate_params` before papermill runs, so a typo costs milliseconds, not a kernel.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

from analysis.catalogues import languages
from analysis.errors import ParameterError, quote
from analysis.vocab import Propensity

PROPENSITIES: tuple[str, ...] = get_args(Propensity)


@dataclass(frozen=True)
class ReportParams:
    """Everything a report run can be told, with its default.

    Attributes
    ----------
    incident_dir
        Incident folder holding ``incident.toml``.
    output_dir
        Where ``metrics.json`` is written (the CLI also puts the HTML there).
    processed_dir
        Root of the processed tables (``""``: the project's ``data/processed``).
    level
        Confidence level of every interval, strictly between 0 and 1.
    model
        Recovery family to report: ``auto`` (lowest AIC) or a family name.
    families
        Candidate families, comma-separated, or ``all``.
    propensity
        Reporting propensity by clock hour: ``auto`` (the incident's, else the default
        profile), ``default`` or ``flat``.
    n_boot
        Parametric-bootstrap replicates behind the intervals (≥ 20).
    bin_minutes
        Width of the time bins of the Poisson fit, in minutes.
    seed
        Random seed for the bootstrap and permutation tests.
    language
        Report language.
    run_id
        Identifier of this run (provenance); set by the CLI.
    as_of
        Analyse only the evidence observed by this time (ISO 8601; a naive time is the
        incident's local time); empty: all of it. The page becomes a live page.
    """

    incident_dir: str = "data/raw/proximus-2018-01-08"
    output_dir: str = "reports/proximus-2018-01-08"
    processed_dir: str = ""
    level: float = 0.9
    model: str = "auto"
    families: str = "all"
    propensity: str = "auto"
    n_boot: int = 200
    bin_minutes: float = 5.0
    seed: int = 20180108
    language: str = "en"
    run_id: str = ""
    as_of: str = ""

    @property
    def family_list(self) -> tuple[str, ...] | Literal["all"]:
        """Candidate families as a tuple, or ``"all"``."""
        if self.families.strip().lower() == "all":
            return "all"
        return tuple(f.strip() for f in self.families.split(",") if f.strip())


TYPES: Mapping[str, type] = {f.name: type(f.default) for f in fields(ReportParams)}


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ParameterError(f"parameter '{name}': expected true/false, got {quote(value)}")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ParameterError(f"parameter '{name}': expected an integer, got {type(value).__name__} {quote(value)}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"parameter '{name}': expected a number, got {type(value).__name__} {quote(value)}")
        if not math.isfinite(value):
            raise ParameterError(f"parameter '{name}': must be finite, got {quote(value)}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ParameterError(f"parameter '{name}': expected text, got {type(value).__name__} {quote(value)}")
        return value
    return value


def validate_params(**values: Any) -> ReportParams:
    """Check names, types and ranges; return the frozen parameters.

    Raises :class:`ParameterError` naming the parameter for an unknown name, a wrong
    type or an impossible value (``level=1.5``, ``n_boot=0``, ``bin_minutes=-5``).
    """
    known = {f.name for f in fields(ReportParams)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParameterError(f"unknown parameter '{unknown[0]}' (known: {', '.join(sorted(known))})")
    clean = {name: _coerce(name, v, TYPES[name]) for name, v in values.items()}
    params = ReportParams(**clean)
    if not 0 < params.level < 1:
        raise ParameterError(f"parameter 'level': must be strictly between 0 and 1, got {params.level}")
    if params.n_boot < 20:
        raise ParameterError(f"parameter 'n_boot': at least 20 bootstrap replicates are needed, got {params.n_boot}")
    from analysis.limits import limit

    if params.n_boot > (most := int(limit("MAX_N_BOOT"))):
        raise ParameterError(f"parameter 'n_boot': at most {most} replicates (limit POSTMORTEM_MAX_N_BOOT), got {params.n_boot}")
    if not 0.5 <= params.bin_minutes <= 240:
        raise ParameterError(f"parameter 'bin_minutes': must be between 0.5 and 240 minutes, got {params.bin_minutes}")
    if params.language not in languages():
        raise ParameterError(f"parameter 'language': expected one of {', '.join(languages())}, got {quote(params.language)}")
    if params.propensity not in PROPENSITIES:
        raise ParameterError(f"parameter 'propensity': expected one of {', '.join(PROPENSITIES)}, got {quote(params.propensity)}")
    if not params.incident_dir.strip():
        raise ParameterError("parameter 'incident_dir': must name an incident folder")
    if params.seed < 0:
        raise ParameterError(f"parameter 'seed': must be ≥ 0, got {params.seed}")
    _check_families(params)
    if params.as_of.strip():
        import datetime as dt

        try:
            dt.datetime.fromisoformat(params.as_of.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(f"parameter 'as_of': not an ISO 8601 time: {quote(params.as_of)}") from None
    return params


def _check_families(params: ReportParams) -> None:
    from analysis.recovery import FAMILIES

    fams = params.family_list
    names = set(FAMILIES)
    if fams != "all":
        if not fams:
            raise ParameterError("parameter 'families': give at least one family, or 'all'")
        bad = [f for f in fams if f not in names]
        if bad:
            raise ParameterError(f"parameter 'families': unknown family '{bad[0]}' (known: {', '.join(sorted(names))})")
    if params.model != "auto" and params.model not in names:
        raise ParameterError(
            f"parameter 'model': expected 'auto' or one of {', '.join(sorted(names))}, got {quote(params.model)}"
        )
    if params.model != "auto" and fams != "all" and params.model not in fams:
        raise ParameterError(f"parameter 'model': {quote(params.model)} is not among the candidate families {', '.join(fams)}")


def parse_value(name: str, text: str) -> Any:
    """Convert a command-line ``name=value`` string to the parameter's type."""
    kind = TYPES.get(name)
    if kind is None:
        known = ", ".join(sorted(TYPES))
        raise ParameterError(f"unknown parameter '{name}' (known: {known})")
    if kind is str:
        return text
    if kind is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ParameterError(f"parameter '{name}': expected true/false, got {quote(text)}")
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        raise ParameterError(
            f"parameter '{name}': expected {'an integer' if kind is int else 'a number'}, got {quote(text)}"
        ) from None


def parse_cli_params(pairs: list[str] | tuple[str, ...], *, yaml_file: Path | None = None) -> dict[str, Any]:
    """Parameters from a YAML file (safe loader) then ``name=value`` pairs (which win)."""
    values: dict[str, Any] = {}
    if yaml_file is not None:
        import yaml

        class _NoAliases(yaml.SafeLoader):
            """The safe loader without anchors and aliases.

            A parameters file needs none, and nested aliases ("billion laughs") make a
            700-byte file expand to gigabytes.
            """

            def compose_node(self, parent: Any, index: Any) -> Any:
                if self.check_event(yaml.AliasEvent):
                    mark = self.peek_event().start_mark
                    raise ParameterError(
                        f"{yaml_file}: line {mark.line + 1}: aliases (*name) are not allowed in a parameters file"
                    )
                return super().compose_node(parent, index)

        try:
            # a safe loader builds plain data only: a tag such as !!python/object is refused
            loaded = yaml.load(Path(yaml_file).read_text(encoding="utf-8"), Loader=_NoAliases)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ParameterError(f"{yaml_file}: cannot read parameters: {first[:200]}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ParameterError(f"{yaml_file}: expected a mapping of parameter names to values")
        for key, value in loaded.items():
            if not isinstance(key, str) or key not in TYPES:
                raise ParameterError(f"{yaml_file}: unknown parameter '{key}' (known: {', '.join(sorted(TYPES))})")
            values[key] = value
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"parameter {quote(pair)}: expected name=value")
        name, _, text = pair.partition("=")
        name = name.strip()
        values[name] = parse_value(name, text)
    return values


def as_dict(params: ReportParams) -> dict[str, Any]:
    """The parameters as a plain dict (for papermill and the manifest)."""
    return dataclasses.asdict(params)
