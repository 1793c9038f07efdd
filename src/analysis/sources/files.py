"""A source's files, and reading one through the FORMATS registry.

A source ``path`` may name several files: a glob (``parts/*.parquet``, ``**`` for
sub-folders) or a folder (every file of the source's format under it, hidden files and
names starting with ``_`` aside). :func:`source_files` lists them in a fixed order (by
path); each is read on its own (one file, one partition) by :mod:`analysis.ingest.partitions`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from analysis.errors import IngestError, quote
from analysis.sources.registry import FORMATS
from analysis.sources.table import RawTable, first_line

if TYPE_CHECKING:
    from analysis.config import Source

GLOB_CHARS = frozenset("*?[")


def is_glob(rel_path: str) -> bool:
    """Whether a source path is a glob pattern (holds ``*``, ``?`` or ``[``)."""
    return any(c in GLOB_CHARS for c in rel_path)


def is_partitioned(source: Source) -> bool:
    """Whether a source names several files (a glob or a folder) rather than one file.

    A file whose name holds glob characters (``report [2018].csv``) is that file.
    """
    if source.path.is_file():
        return False
    return is_glob(source.rel_path) or source.path.is_dir()


def _format_of(path: Path) -> str | None:
    fmt = FORMATS.by_suffix(path)
    return fmt.name if fmt else None


def _listed(path: Path, base: Path) -> bool:
    parts = path.relative_to(base).parts
    return path.is_file() and not any(p.startswith((".", "_")) for p in parts)


def source_files(source: Source) -> list[Path]:
    """The files a source reads, sorted by path: the file itself, a folder's files, or a glob's matches.

    A folder contributes the files (in sub-folders too) whose suffix is of the source's
    format; a glob every file it matches (``**`` crosses sub-folders). Files reached
    through a link to outside the incident folder are refused.

    Raises
    ------
    IngestError
        Nothing matches, or a match lies outside the incident folder.
    """
    if not is_partitioned(source):
        return [source.path]
    home = incident_folder(source)
    if source.path.is_dir():
        found = [p for p in source.path.rglob("*") if _listed(p, source.path) and _format_of(p) == source.format]
        empty = f"no {source.format} file in this folder"
    else:
        found = [p for p in home.glob(Path(source.rel_path).as_posix()) if _listed(p, home)]
        empty = "no file matches this pattern"
    if not found:
        raise IngestError(f"{source.path}: {empty} (source '{source.name}')")
    files = sorted({p.resolve() for p in found})
    for p in files:
        if not p.is_relative_to(home):
            raise IngestError(f"{source.path}: {quote(p.name, 80)} lies outside the incident folder (a link?); copy it in")
    return files


def incident_folder(source: Source) -> Path:
    """The incident folder a source path is relative to (its path minus the ``rel_path`` parts)."""
    return source.path.parents[len(Path(source.rel_path).parts) - 1]


def relative_name(source: Source, path: Path) -> str:
    """A file of a source named relative to the incident folder (as in ``incident.toml``)."""
    home = incident_folder(source)
    return path.relative_to(home).as_posix() if path.is_relative_to(home) else str(path)


def read_source(source: Source) -> RawTable:
    """Read one source file into text columns plus ``_row`` with the reader of its format (:data:`FORMATS`).

    Raises
    ------
    IngestError
        The file is missing, empty, binary, another format than declared, of a format no
        reader is registered for, or unreadable; the message names the file and the problem
        in one line.
    """
    path = source.path
    if not path.exists():
        raise IngestError(f"{path}: file not found (source '{source.name}')")
    if not path.is_file():
        raise IngestError(f"{path}: not a file (source '{source.name}')")
    read = FORMATS.reader(source)
    try:
        return read(path, source)
    except IngestError:
        raise
    except (OSError, LookupError, pl.exceptions.PolarsError, ValueError, csv.Error, RecursionError, MemoryError) as exc:
        raise IngestError(f"{path}: cannot read as {source.format}: {first_line(exc)}") from None


def folder_format(folder: Path) -> str | None:
    """The one format of the files in a source folder (by file name), or None when there are several or none."""
    formats = {_format_of(p) for p in folder.rglob("*") if _listed(p, folder)}
    formats.discard(None)
    return formats.pop() if len(formats) == 1 else None
