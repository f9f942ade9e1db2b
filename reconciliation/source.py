"""Opening a statement file for import: size limit, hashing, progress, and reading up to
the group header before any database work. Light on imports on purpose: a hostile or
broken file is refused before SQLAlchemy is even loaded."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import camt
from reconciliation.errors import ImportRefused
from reconciliation.model import MatchSettings


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    strict: bool = False
    schema_dir: Path | None = None
    max_bytes: int = 0
    line_limit: int | None = None
    settings: MatchSettings = MatchSettings()


class CountingReader:
    """File wrapper that hashes what is read and reports progress."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._progress = progress
        self.sha256 = hashlib.sha256()
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.sha256.update(chunk)
        self.read_bytes += len(chunk)
        if self._progress is not None:
            self._progress(self.read_bytes)
        return chunk


class PreparedStatement:
    """A statement file opened and read up to its group header, before any database
    work: a hostile or broken file is refused in milliseconds, nothing opened."""

    def __init__(self, source: Path | bytes, options: ImportOptions = ImportOptions(),
                 progress: Callable[[int], None] | None = None, file_name: str | None = None) -> None:
        self.name = file_name or (source.name if isinstance(source, Path) else "upload.xml")
        size = source.stat().st_size if isinstance(source, Path) else len(source)
        if options.max_bytes and size > options.max_bytes:
            raise ImportRefused(f"the file is {size} bytes, over the limit of {options.max_bytes} (KVITS_MAX_STATEMENT_BYTES)")
        self.size = size
        self._raw: BinaryIO = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
        self.reader = CountingReader(self._raw, progress)
        try:
            self._events = camt.stream(self.reader, schema_dir=options.schema_dir)  # type: ignore[arg-type]
            self._first = next(self._events)
        except BaseException:
            self.close()
            raise

    def events(self) -> Iterator[camt.Event]:
        yield self._first
        yield from self._events

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> PreparedStatement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


