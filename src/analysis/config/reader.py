"""Reading ``incident.toml``: the file itself, typed access to its tables that names the key in every error, safe paths."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, overload

from analysis.catalogues import languages
from analysis.config.model import BOUNDARY_FORMATS, INCIDENT_FILE, MAX_PATH_CHARS, SHAPEFILE_PARTS
from analysis.errors import ConfigError, quote
from analysis.tomlkeys import TableKeys


class _Reader(TableKeys):
    """Typed access to a TOML table that names the file and key in every error."""

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
        self.used.add(name)
        if name not in self.table:
            if required:
                raise self.fail(name, "is required but missing")
            return None
        value = self.table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(name, f"expected {_kind_name(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.fail(name, f"expected {_kind_name(kinds)}, got {type(value).__name__} {quote(value)}")
        if isinstance(value, str) and str in kinds and required and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.chosen(name, self.get(name, str), choices, default)
        return default if value is None else value

    def sub(self, name: str, *, required: bool = False) -> _Reader | None:
        table = self.get(name, dict, required=required)
        if table is None:
            return None
        return _Reader(self.path, table, f"{self.prefix}{name}.")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "a table", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


@overload
def _label(text: str, limit: int = 200) -> str: ...
@overload
def _label(text: None, limit: int = 200) -> None: ...
def _label(text: str | None, limit: int = 200) -> str | None:
    """A config text that is published (title, labels, source names): scrubbed like every label."""
    from analysis.privacy import scrub_label

    return scrub_label(text, limit)


def _inside(folder: Path, rel: str, where: str) -> Path:
    """Resolve ``rel`` against ``folder`` and refuse anything that escapes it."""
    if not rel.strip():
        raise ConfigError(f"{where}: must not be empty")
    if len(rel) > MAX_PATH_CHARS or any(not c.isprintable() for c in rel):
        raise ConfigError(f"{where}: {quote(rel)} is not a usable path (control characters, or over {MAX_PATH_CHARS} characters)")
    candidate = Path(rel)
    if candidate.is_absolute():
        raise ConfigError(f"{where}: {quote(rel)} is absolute; give a path inside the incident folder")
    try:
        # symlinks are followed: a link inside the folder to a file outside is outside
        resolved = (folder / candidate).resolve()
        inside = resolved.is_relative_to(folder.resolve())
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"{where}: {quote(rel)} is not a usable path ({type(exc).__name__})") from None
    if not inside:
        raise ConfigError(f"{where}: {quote(rel)} points outside the incident folder {folder}")
    return resolved


def check_boundary_file(path: Path, folder: Path, *, where: str) -> None:
    """Refuse a boundary file that is not a plain GeoJSON, GeoPackage, Shapefile or GeoParquet.

    The suffix must be one of :data:`BOUNDARY_FORMATS` and the file must start like that
    format (a VRT renamed ``.geojson`` is refused); a Shapefile's companion files must be
    inside ``folder`` too. Nothing of the file's content is quoted in the error.
    """
    fmt = BOUNDARY_FORMATS.get(path.suffix.lower())
    if fmt is None:
        names = ", ".join(sorted(BOUNDARY_FORMATS))
        raise ConfigError(
            f"{where}: {quote(path.name, 80)}: boundary files must be GeoJSON, GeoPackage, Shapefile or GeoParquet ({names})"
        )
    name, magics = fmt
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return  # a missing file is reported where it is read
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(magics):
        raise ConfigError(f"{where}: {quote(path.name, 80)} does not start like a {name} file; only plain {name} content is read")
    if name == "Shapefile":
        root = folder.resolve()
        for part in SHAPEFILE_PARTS:
            for sibling in (path.with_suffix(part), path.with_suffix(part.upper())):
                if (sibling.exists() or sibling.is_symlink()) and not sibling.resolve().is_relative_to(root):
                    raise ConfigError(f"{where}: {quote(sibling.name, 80)} points outside the incident folder {folder}")


def _read_config(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The ``incident.toml`` of ``path`` (a file or its folder), parsed and checked for unknown keys and types."""
    text_path = str(path)
    if len(text_path) > 4096 or "\x00" in text_path:
        raise ConfigError(f"{quote(text_path, 100)}: not a usable path (NUL byte, or over 4096 characters)")
    path = Path(path)
    try:
        config_path = path / INCIDENT_FILE if path.is_dir() else path
        is_file = config_path.is_file()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{quote(text_path, 100)}: not a usable path ({type(exc).__name__})") from None
    if not is_file:
        raise ConfigError(f"{config_path}: no such file (an incident folder needs an {INCIDENT_FILE}){_near(config_path)}")
    folder = config_path.parent
    if not config_path.resolve().is_relative_to(folder.resolve()):
        raise ConfigError(f"{config_path}: a link to a file outside the incident folder; copy the file into the folder")
    try:
        # utf-8-sig: an editor's byte-order mark at the start is not part of the TOML
        raw = tomllib.loads(config_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{config_path}: invalid TOML: tables or arrays nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    from analysis.configcheck import config_problems

    if problems := config_problems(raw):  # every key, type and choice problem at once
        many = f"{len(problems)} problems: " if len(problems) > 1 else ""
        raise ConfigError(f"{config_path}: {many}{'; '.join(problems)}")
    return config_path, raw


def _near(config_path: Path) -> str:
    """A "did you mean" naming the incident folder beside a missing one whose name is closest."""
    import difflib

    folder = config_path.parent if config_path.name == INCIDENT_FILE else config_path
    try:
        siblings = [p.name for p in folder.parent.iterdir() if (p / INCIDENT_FILE).is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(folder.name, siblings, n=1, cutoff=0.6)
    return f"; did you mean {folder.parent / close[0]}?" if close else ""


def event_labels(e: _Reader, value: Any, key: str = "label") -> dict[str, str]:
    """An event's ``label`` (or a ``title``, ``description``, ``name``): a string or translations including ``en``."""
    e.used.add(key)
    if value is None:
        raise e.fail(key, "is required but missing")
    if isinstance(value, str):
        if not value.strip():
            raise e.fail(key, "must not be empty")
        return {"en": value}
    if not isinstance(value, dict):
        raise e.fail(key, f"expected a string or a table of translations ({', '.join(languages())}), got {type(value).__name__}")
    for lang, words in value.items():
        if lang not in languages():
            raise e.fail(f"{key}.{lang}", f"unknown language (expected one of {', '.join(languages())})")
        if not isinstance(words, str) or not words.strip():
            raise e.fail(f"{key}.{lang}", f"expected a non-empty string, got {quote(words)}")
    if "en" not in value:
        raise e.fail(f"{key}.en", f"is required (the English {key} is the one every language falls back to)")
    return dict(value)
