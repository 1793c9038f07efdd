"""The FORMATS registry: every input format the sources can be read in, and how one is chosen.

A format is a name, the file-name endings it is known by, the first bytes that identify it
(none for text formats) and a reader ``(path, source) -> RawTable``. A source's format is its
declared ``format``, else the one its file name ends with, else the one its first bytes
reveal; a file none of these matches is refused with one line naming it and the formats
known. Adding a format is one module defining its reader and one ``FORMATS.register`` line
in :mod:`analysis.sources`; config, the folder listing, the reader dispatch and the error
messages all read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import IngestError

if TYPE_CHECKING:
    from analysis.config import Source
    from analysis.sources.table import RawTable

#: a reader: the file and its source (encoding, delimiter, sheet, name for rejects) -> the text table
Reader = Callable[[Path, "Source"], "RawTable"]


@dataclass(frozen=True)
class Format:
    """One input format: its name in ``incident.toml``, file-name endings, signature and reader."""

    name: str
    read: Reader
    suffixes: tuple[str, ...] = ()
    #: the bytes a file of this format starts with (empty for text formats, which have none)
    magic: tuple[bytes, ...] = ()


class FormatRegistry:
    """The formats known, by name, in registration order (papermill's registries, for input files)."""

    def __init__(self) -> None:
        self._formats: dict[str, Format] = {}

    def register(self, fmt: Format) -> Format:
        """Add a format; a name or file-name ending already taken is refused (ValueError)."""
        if fmt.name in self._formats:
            raise ValueError(f"format {fmt.name!r} is already registered")
        taken = {s for f in self._formats.values() for s in f.suffixes}
        if clash := sorted(taken & {s.lower() for s in fmt.suffixes}):
            raise ValueError(f"format {fmt.name!r}: file-name endings already taken: {', '.join(clash)}")
        self._formats[fmt.name] = Format(fmt.name, fmt.read, tuple(s.lower() for s in fmt.suffixes), fmt.magic)
        return fmt

    def unregister(self, name: str) -> None:
        """Remove a format (KeyError when it is not registered)."""
        del self._formats[name]

    def __contains__(self, name: object) -> bool:
        return name in self._formats

    def __iter__(self) -> Iterator[Format]:
        return iter(list(self._formats.values()))

    def names(self) -> tuple[str, ...]:
        """The names of the formats known, in registration order."""
        return tuple(self._formats)

    def known(self) -> str:
        """The names as a sentence fragment for messages: ``csv, parquet, jsonl, xlsx``."""
        return ", ".join(self._formats)

    def get(self, name: str) -> Format | None:
        """The format registered under ``name``, or None."""
        return self._formats.get(name)

    def by_suffix(self, path: Path | str) -> Format | None:
        """The format a file name ends with (the longest ending wins: ``.ndjson.gz`` before ``.gz``)."""
        name = Path(path).name.lower()
        best: tuple[int, Format | None] = (0, None)
        for fmt in self._formats.values():
            for suffix in fmt.suffixes:
                if name.endswith(suffix) and len(name) > len(suffix) and len(suffix) > best[0]:
                    best = (len(suffix), fmt)
        return best[1]

    def by_magic(self, sample: bytes) -> Format | None:
        """The format whose signature the first bytes of a file start with."""
        for fmt in self._formats.values():
            if any(sample.startswith(m) for m in fmt.magic):
                return fmt
        return None

    def detect(self, path: Path) -> Format | None:
        """A file's format from its name, else (an existing file) from its first bytes; None when neither tells."""
        fmt = self.by_suffix(path)
        if fmt is None and path.is_file():
            with path.open("rb") as fh:
                fmt = self.by_magic(fh.read(64))
        return fmt

    def reader(self, source: Source) -> Reader:
        """The reader of a source's format; an unknown format is one line naming the file and the formats known."""
        fmt = self._formats.get(source.format)
        if fmt is None:
            raise IngestError(
                f"{source.path}: no reader for format {source.format!r} (source '{source.name}'); formats known: {self.known()}"
            )
        return fmt.read


#: every format the sources can be read in (filled in by :mod:`analysis.sources`)
FORMATS = FormatRegistry()
