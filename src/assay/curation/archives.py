"""The files of an import's archive (zip, tar, tar.gz …) or of a folder under the server's
import root, read one at a time through the same guards.

Nothing is ever extracted by its name: each file is copied into a private temp file, so an
entry's name only becomes a reference id. Names are still refused when they lead outside the
archive (absolute, `..`, a drive letter) or hold control characters, and so are links and
devices in a tar, encrypted zip entries and (in a folder) links that leave the import root —
each naming the entry. Zip bombs: every entry is capped (`max_upload_bytes`), the whole
import too (`max_import_expanded_bytes`, `max_import_entries`), and a large entry (or tar
stream) that expands past `MAX_RATIO` times its compressed size is refused as a bomb while
it is being read, before it is written anywhere.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from assay.core.errors import Invalid
from assay.core.jobs import PermanentError
from assay.core.settings import Settings

# A deflated entry expands ~1,000 times at most; images and label files stay far below 100.
MAX_RATIO = 100
# Entries smaller than this are not judged by their ratio (a small text file of spaces).
RATIO_FLOOR = 1024 * 1024
READ_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
# What a damaged zip or tar raises while its bytes are read.
_BROKEN = (zipfile.BadZipFile, tarfile.TarError, NotImplementedError, EOFError, OSError, zlib.error)


@dataclass(frozen=True)
class Limits:
    entry_bytes: int
    total_bytes: int
    entries: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            entry_bytes=settings.max_upload_bytes,
            total_bytes=settings.max_import_expanded_bytes,
            entries=settings.max_import_entries,
        )


def entry_name(raw: str) -> str:
    """The entry's path inside the archive, `a/b/c.jpg`; PermanentError naming it when it
    would lead outside (absolute, `..`, a drive) or holds control characters."""
    name = raw.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in parts:
        raise PermanentError(
            f"archive entry {raw!r}: a path leading outside the archive (absolute or with "
            "'..') is refused"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise PermanentError(f"archive entry {raw!r}: control characters in its name")
    return "/".join(part for part in parts if part not in ("", "."))


def _check_expansion(
    name: str, what: str, expanded: int, limit: int, compressed: int | None
) -> None:
    """Refuse `what` (the entry, the archive) past `limit` bytes, or expanding from
    `compressed` bytes more than a real file would."""
    if expanded > limit:
        raise PermanentError(
            f"archive entry {name!r}: {what} is larger than the limit of {limit} bytes"
        )
    if compressed is not None and expanded > max(RATIO_FLOOR, MAX_RATIO * compressed):
        raise PermanentError(
            f"archive entry {name!r}: {what} expands more than {MAX_RATIO} times its "
            "compressed size: refused as a zip bomb"
        )


class _Guarded:
    """A file-like read of one entry that counts what it expands to (see the docstring)."""

    def __init__(self, reader: Archive, stream: BinaryIO, name: str, compressed: int | None):
        self.reader, self.stream, self.name, self.compressed = reader, stream, name, compressed
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self.stream.read(READ_CHUNK if size is None or size < 0 else size)
        except _BROKEN as exc:
            raise PermanentError(f"archive entry {self.name!r} is unreadable: {exc}") from None
        self.read_bytes += len(chunk)
        self.reader.count(len(chunk), self.name)
        _check_expansion(
            self.name,
            "the file",
            self.read_bytes,
            self.reader.limits.entry_bytes,
            self.compressed,
        )
        return chunk


class Archive:
    """The regular files of a zip, a tar (any compression tarfile reads) or a folder, as
    (name, guarded stream) pairs; `position()` says how far through it the reading is."""

    def __init__(self, limits: Limits, compressed_size: int | None) -> None:
        self.limits = limits
        self.compressed_size = compressed_size
        self.expanded = 0
        self.seen = 0

    def count(self, size: int, name: str) -> None:
        self.expanded += size
        _check_expansion(
            name, "the archive", self.expanded, self.limits.total_bytes, self.compressed_size
        )

    def counted_entry(self, raw: str) -> str:
        self.seen += 1
        if self.seen > self.limits.entries:
            raise PermanentError(
                f"archive entry {raw!r}: more than the limit of {self.limits.entries} entries"
            )
        return entry_name(raw)

    def entries(self) -> Iterator[tuple[str, BinaryIO]]:
        raise NotImplementedError

    def position(self) -> float:
        raise NotImplementedError


class _Listed(Archive):
    """An archive whose entries are listed up front (a zip's directory, a folder's walk):
    refused at once when they are too many, its position counted in entries."""

    def __init__(self, listing: list[Any], limits: Limits) -> None:
        super().__init__(limits, None)  # a zip's entries say their own compressed size
        self.listing = listing
        self.done = 0
        if len(listing) > limits.entries:
            raise PermanentError(f"{len(listing)} files to import; at most {limits.entries}")

    def position(self) -> float:
        return self.done / max(len(self.listing), 1)


class _Zip(_Listed):
    def __init__(self, handle: zipfile.ZipFile, limits: Limits) -> None:
        super().__init__(handle.infolist(), limits)
        self.zip = handle

    def entries(self) -> Iterator[tuple[str, BinaryIO]]:
        for info in self.listing:
            self.done += 1
            name = self.counted_entry(info.filename)
            if info.is_dir() or not name:
                continue
            if info.flag_bits & 0x1:
                raise PermanentError(f"archive entry {info.filename!r} is encrypted")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise PermanentError(f"archive entry {info.filename!r} is a symbolic link")
            try:
                stream = self.zip.open(info)
            except _BROKEN as exc:
                raise PermanentError(
                    f"archive entry {info.filename!r} is unreadable: {exc}"
                ) from None
            with stream:
                yield name, _Guarded(self, stream, info.filename, info.compress_size)


class _Tar(Archive):
    def __init__(self, tar: tarfile.TarFile, file: BinaryIO, size: int, limits: Limits) -> None:
        super().__init__(limits, size)
        self.tar, self.file = tar, file

    def entries(self) -> Iterator[tuple[str, BinaryIO]]:
        member: tarfile.TarInfo | None = None
        try:
            for member in self.tar:
                name = self.counted_entry(member.name)
                if member.isdir() or not name:
                    continue
                if not member.isfile():
                    raise PermanentError(
                        f"archive entry {member.name!r} is a link or device, not a file"
                    )
                stream = self.tar.extractfile(member)
                assert stream is not None  # a regular file
                yield name, _Guarded(self, stream, member.name, None)
        except _BROKEN as exc:
            after = f" after entry {member.name!r}" if member is not None else ""
            raise PermanentError(f"the archive is unreadable{after}: {exc}") from None

    def position(self) -> float:
        return self.file.tell() / max(self.compressed_size or 1, 1)


class _Folder(_Listed):
    def __init__(self, folder: Path, root: Path, limits: Limits) -> None:
        files = sorted(Path(top, name) for top, _dirs, names in os.walk(folder) for name in names)
        super().__init__(files, limits)
        self.folder, self.root = folder, root

    def entries(self) -> Iterator[tuple[str, BinaryIO]]:
        for path in self.listing:
            self.done += 1
            relative = path.relative_to(self.folder).as_posix()
            name = self.counted_entry(relative)
            real = path.resolve()
            if not real.is_relative_to(self.root):
                raise PermanentError(f"file {relative!r} links outside the import root")
            if not real.is_file():
                continue
            with real.open("rb") as stream:
                yield name, _Guarded(self, stream, relative, None)


@contextmanager
def open_archive(path: Path, limits: Limits) -> Iterator[Archive]:
    """The zip or tar at `path`; PermanentError when it is neither."""
    with ExitStack() as stack:
        if zipfile.is_zipfile(path):
            try:
                handle = stack.enter_context(zipfile.ZipFile(path))
            except zipfile.BadZipFile as exc:
                raise PermanentError(f"the zip archive is unreadable: {exc}") from None
            yield _Zip(handle, limits)
            return
        file = stack.enter_context(path.open("rb"))
        try:
            tar = stack.enter_context(tarfile.open(fileobj=file, mode="r:*"))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise PermanentError(f"the file is not a zip or tar archive ({exc})") from None
        yield _Tar(tar, file, path.stat().st_size, limits)


def import_folder(root: Path | None, path: str) -> tuple[Path, Path]:
    """(the import root, the folder) for `path` relative to the root; Invalid naming `path`
    when there is no root or the folder is missing or outside it (after links)."""
    if root is None:
        raise Invalid(
            "this server imports no folders (its administrator sets ASSAY_IMPORT_ROOT)",
            field="path",
        )
    base = root.resolve()
    if not isinstance(path, str) or Path(path).is_absolute() or ".." in Path(path).parts:
        raise Invalid("path is relative to the import root, without '..'", field="path")
    folder = (base / path).resolve()
    if not folder.is_relative_to(base):
        raise Invalid("path leads outside the import root", field="path")
    if not folder.is_dir():
        raise Invalid(f"no folder {path!r} under the import root", field="path")
    return base, folder


@contextmanager
def open_folder(root: Path | None, path: str, limits: Limits) -> Iterator[Archive]:
    try:
        base, folder = import_folder(root, path)
    except Invalid as exc:
        raise PermanentError(exc.message) from None
    yield _Folder(folder, base, limits)
