"""Reading zip-based documents (Word .docx) without letting a small file inflate into gigabytes.

A 3 MB .docx can hold a part that inflates to more than a gigabyte, and the zip headers that
declare sizes can lie. So nothing is handed to a parser straight from an untrusted archive:
``bounded_package`` counts the directory entries before ``zipfile`` builds an object for each,
checks the declared sizes and compression ratios of the parts it will read, then inflates each
of them itself, in small steps with a byte budget (never trusting the headers), and rebuilds an
uncompressed package from exactly those bytes. The parser reads that package, so it can never
inflate more than was checked. Parts the caller does not need (images, fonts, embedded files)
are kept as empty entries: never inflated, so they cannot be a bomb either.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ingest.document import LoaderError

MiB = 1024 * 1024

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = b"PK\x06\x06"
_ZIP64_EOCD_SIZE = 56
_CENTRAL_ENTRY = b"PK\x01\x02"
_CENTRAL_ENTRY_SIZE = 46
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_MAX_COMMENT = 65535
_STEP = 256 * 1024  # bytes inflated (and compressed bytes fed) per step


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds on what reading one archive may cost; the defaults are documented in docs/formats.md."""

    max_members: int = 10_000  # directory entries (Word writes under 20, plus one per image)
    max_member_bytes: int = 64 * MiB  # one part, inflated (2,400 pages of text: 7.6 MB)
    max_total_bytes: int = 128 * MiB  # all parts read, inflated
    max_ratio: float = 100.0  # inflated / compressed size of one part (text XML: far less)
    ratio_floor_bytes: int = 1 * MiB  # parts smaller than this may compress as well as they like


DEFAULT_LIMITS = ArchiveLimits()


class ArchiveBombError(LoaderError):
    """An archive that would inflate past a limit; the message says which part and which limit."""


def _mb(size: int) -> str:
    return f"{size / MiB:.1f} MB" if size >= MiB else f"{size:,} bytes"


def entry_count(fh: BinaryIO, stop_after: int) -> int:
    """How many entries the central directory holds, counted without building them (``zipfile``
    builds one object per entry, whatever count the end record claims); stops past ``stop_after``."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_start = max(0, size - _EOCD_SIZE - _MAX_COMMENT)
    fh.seek(tail_start)
    tail = fh.read()
    # The end record is last, unless a comment follows it; ``zipfile`` searches the same way.
    if tail[-_EOCD_SIZE : -_EOCD_SIZE + 4] == _EOCD and tail[-2:] == b"\0\0":
        eocd = len(tail) - _EOCD_SIZE
    else:
        eocd = tail.rfind(_EOCD)
    if eocd < 0 or len(tail) - eocd < _EOCD_SIZE:
        raise zipfile.BadZipFile("no end of central directory record")
    (directory_size,) = struct.unpack("<I", tail[eocd + 12 : eocd + 16])
    location = tail_start + eocd
    locator = location - _ZIP64_LOCATOR_SIZE
    if locator >= 0:
        fh.seek(locator)
        if fh.read(4) == _ZIP64_LOCATOR:
            fh.seek(locator - _ZIP64_EOCD_SIZE)
            record = fh.read(_ZIP64_EOCD_SIZE)
            if len(record) == _ZIP64_EOCD_SIZE and record[:4] == _ZIP64_EOCD:
                (directory_size,) = struct.unpack("<Q", record[40:48])
                location = locator - _ZIP64_EOCD_SIZE
    start = location - directory_size
    if start < 0:
        raise zipfile.BadZipFile("central directory size is larger than the file")
    fh.seek(start)
    directory = fh.read(directory_size)
    count, pos = 0, 0
    while pos < len(directory) and count <= stop_after:
        if directory[pos : pos + 4] != _CENTRAL_ENTRY:
            raise zipfile.BadZipFile("bad central directory entry")
        name, extra, comment = struct.unpack("<HHH", directory[pos + 28 : pos + 34])
        pos += _CENTRAL_ENTRY_SIZE + name + extra + comment
        count += 1
    return count


def check_entry_count(fh: BinaryIO, limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
    count = entry_count(fh, limits.max_members)
    if count > limits.max_members:
        raise ArchiveBombError(f"zip archive has more than {limits.max_members:,} entries")


def bounded_package(
    data: bytes, keep: Callable[[str], bool], limits: ArchiveLimits = DEFAULT_LIMITS
) -> bytes:
    """An uncompressed copy of the zip ``data`` in which the parts ``keep`` accepts hold their real
    content and every other part is empty; raises ArchiveBombError past any limit, and
    zipfile.BadZipFile for an archive that is not a well-formed zip."""
    source = io.BytesIO(data)
    check_entry_count(source, limits)
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
    wanted = _check_declared(members, keep, limits)
    view = memoryview(data)
    out = io.BytesIO()
    budget = limits.max_total_bytes
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as package:
        for info in _effective(members):
            if info.is_dir():
                continue
            if info not in wanted:
                package.writestr(info.filename, b"")
                continue
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.file_size = info.file_size
            with package.open(target, "w") as part:
                for chunk in _inflate(view, info, limits, budget):
                    budget -= len(chunk)
                    part.write(chunk)
    return out.getvalue()


def _effective(members: list[zipfile.ZipInfo]) -> Iterator[zipfile.ZipInfo]:
    """Each name once, as ``zipfile`` resolves it (the last entry of a repeated name wins)."""
    last = {info.filename: info for info in members}
    return (info for info in members if last[info.filename] is info)


def _check_declared(
    members: list[zipfile.ZipInfo], keep: Callable[[str], bool], limits: ArchiveLimits
) -> set[zipfile.ZipInfo]:
    """The parts to read, after checking what their headers declare (the cheap first line)."""
    wanted = [info for info in _effective(members) if not info.is_dir() and keep(info.filename)]
    total = 0
    for info in wanted:
        if info.flag_bits & 0x1:
            raise LoaderError(f"{info.filename} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise LoaderError(
                f"{info.filename} uses unsupported zip compression (method {info.compress_type})"
            )
        _check_size(info, info.file_size, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveBombError(
                f"its parts declare {_mb(total)} or more uncompressed, over the "
                f"{_mb(limits.max_total_bytes)} limit"
            )
    return set(wanted)


def _check_size(info: zipfile.ZipInfo, size: int, limits: ArchiveLimits) -> None:
    if size > limits.max_member_bytes:
        raise ArchiveBombError(
            f"{info.filename} inflates to {_mb(size)} or more, over the {_mb(limits.max_member_bytes)} "
            "limit for one part"
        )
    if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(info.compress_size, 1):
        raise ArchiveBombError(
            f"{info.filename} inflates {size / max(info.compress_size, 1):,.0f} times its compressed "
            f"size (limit {limits.max_ratio:g}): a zip bomb?"
        )


def _inflate(view: memoryview, info: zipfile.ZipInfo, limits: ArchiveLimits, budget: int) -> Iterator[bytes]:
    """The part's bytes, inflated a step at a time; stops with ArchiveBombError as soon as it passes
    its declared size, a limit or ``budget`` (what the other parts left of the total)."""
    compressed = _raw_data(view, info)
    if info.compress_type == zipfile.ZIP_STORED:
        steps: Iterator[bytes] = (bytes(compressed[i : i + _STEP]) for i in range(0, len(compressed), _STEP))
    else:
        steps = _deflate_steps(compressed, info.filename)
    produced, crc = 0, 0
    for chunk in steps:
        produced += len(chunk)
        if produced > info.file_size:
            raise ArchiveBombError(
                f"{info.filename} inflates past the {_mb(info.file_size)} its header declares: a zip bomb?"
            )
        _check_size(info, produced, limits)
        if produced > budget:
            raise ArchiveBombError(
                f"its parts inflate to more than the {_mb(limits.max_total_bytes)} limit in total"
            )
        crc = zlib.crc32(chunk, crc)
        yield chunk
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 for {info.filename}")


def _raw_data(view: memoryview, info: zipfile.ZipInfo) -> memoryview:
    """The part's compressed bytes, found through its local header as ``zipfile`` finds them."""
    start = info.header_offset
    header = bytes(view[start : start + _LOCAL_HEADER_SIZE])
    if len(header) < _LOCAL_HEADER_SIZE or header[:4] != _LOCAL_HEADER:
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    begin = start + _LOCAL_HEADER_SIZE + name_length + extra_length
    end = begin + info.compress_size
    if end > len(view):
        raise zipfile.BadZipFile(f"{info.filename} is truncated")
    return view[begin:end]


def _deflate_steps(compressed: memoryview, name: str) -> Iterator[bytes]:
    """Raw deflate, never more than ``_STEP`` bytes of output per step, however well it compresses."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pos = 0
    while not inflater.eof:
        pending: bytes | memoryview = inflater.unconsumed_tail
        if not pending:
            if pos >= len(compressed):
                raise zipfile.BadZipFile(f"{name} ends before its compressed data does")
            pending = compressed[pos : pos + _STEP]
            pos += len(pending)
        try:
            chunk = inflater.decompress(pending, _STEP)
        except zlib.error as exc:
            raise zipfile.BadZipFile(f"{name}: {exc}") from exc
        if chunk:
            yield chunk
