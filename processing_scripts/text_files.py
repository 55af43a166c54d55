"""Data files as text: which files a data set is, whether each is text at all, and its lines.

The first layer every reader here stands on (:mod:`labelled` adds the rules for rows): a file, or every
file below a folder (:func:`list_files`); compressed, binary or non-UTF-8 files refused by name
(:func:`check_text`); blocks of whole lines read in bounded memory (:func:`iter_blocks`,
:func:`iter_line_batches`); and how messages name files and quote values (:func:`relative_names`,
:func:`shown_value`).
"""
from __future__ import annotations

import codecs
import hashlib
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator

BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 64 << 10  # how much of each file check_text reads
_SHOWN_CHARS = 60
# Bytes no CSV text holds: NUL and the C0 controls but tab, line feed, carriage return (and DEL).
BINARY_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAGIC = ((b"\x1f\x8b", "is gzip-compressed", "decompress it (gunzip)"),
          (b"PK\x03\x04", "is a zip archive", "unzip it"),
          (b"BZh", "is bzip2-compressed", "decompress it (bunzip2)"),
          (b"\xfd7zXZ\x00", "is xz-compressed", "decompress it (unxz)"),
          (b"\x28\xb5\x2f\xfd", "is zstd-compressed", "decompress it (unzstd)"),
          (b"PAR1", "is a Parquet file", "export it as CSV"))


class DataError(ValueError):
    """Unusable input data; the message is one line naming the file, the line, the problem and the fix."""


# --- files ------------------------------------------------------------------------------------------


def list_files(path: str | os.PathLike, *, missing: str, shown: Callable[[Path], str] = str) -> list[Path]:
    """``path`` itself when it is a file, else every regular file below it (recursively), sorted by path.

    Hidden files and every file name are included (a prefix's every object is data). A folder without
    files gives ``[]``: the caller says what an empty data set means. ``missing`` is the fix named
    when ``path`` does not exist.

    >>> list_files("/nonexistent/test.csv", missing="pass the test data")
    Traceback (most recent call last):
    ...
    processing_scripts.text_files.DataError: /nonexistent/test.csv does not exist: pass the test data
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    raise DataError(f"{shown(path)} does not exist: {missing}")


def files_sha256(files: Iterable[Path]) -> str:
    """SHA-256 over the files' bytes, in the order given (the input checksum evaluation.json records)."""
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def shown_value(text: str | bytes, limit: int = _SHOWN_CHARS) -> str:
    """A value as a message quotes it: its repr, cut to ``limit`` characters (``...`` marks the cut).

    >>> shown_value("x" * 100)[-6:], shown_value(b"1,2"), len(shown_value("x" * 10_000_000))
    ("xx'...", "'1,2'", 65)
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text[: limit * 4]).decode("utf-8", errors="replace")
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def check_text(path: Path, name: str) -> None:
    """:class:`DataError` unless the file can be CSV text: not compressed, not binary (its first
    :data:`SNIFF_BYTES`), valid UTF-8 there, and not only whitespace. Every file below a data folder
    is read as data (as an S3Prefix input is), so a stray file is named, not skipped.

    >>> import tempfile, gzip
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = Path(folder, "t.csv").write_bytes(gzip.compress(b"1,2\\n"))
    ...     check_text(Path(folder, "t.csv"), "t.csv")
    Traceback (most recent call last):
    ...
    processing_scripts.text_files.DataError: t.csv is gzip-compressed, not CSV text; decompress it (gunzip), or remove it from the data
    """
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
        whole = len(head) < SNIFF_BYTES or not handle.read(1)
    for magic, what, fix in _MAGIC:
        if head.startswith(magic):
            raise DataError(f"{name} {what}, not CSV text; {fix}, or remove it from the data")
    if (binary := BINARY_BYTE.search(head)) is not None:
        raise DataError(f"{name} is not text (binary byte 0x{head[binary.start()]:02x} at offset {binary.start()}); "
                        "every file of the data is read as CSV: remove it, or export it as CSV")
    try:
        head.decode("utf-8") if whole else codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise DataError(f"{name} is not UTF-8 text (byte 0x{head[error.start]:02x} at offset {error.start}); "
                        "save it as UTF-8") from None
    if whole and head.isspace() and head.strip(b"\r\n"):  # only line ends: no rows, which is allowed
        raise DataError(f"{name} holds only whitespace, no rows; remove it, or write CSV rows in it")


def relative_names(root: str | os.PathLike) -> Callable[[Path], str]:
    """How a file below ``root`` is named in messages when the caller gives no name: relative to
    ``root`` (``test.csv`` as written below the data URL), never a staging or temporary path.

    >>> relative_names("/opt/ml/processing/input/data")(Path("/opt/ml/processing/input/data/a/t.csv"))
    'a/t.csv'
    >>> relative_names("/tmp/x/t.csv")(Path("/tmp/x/t.csv"))
    't.csv'
    """
    root = Path(root)

    def shown(file: Path) -> str:
        if file != root and file.is_relative_to(root):
            return file.relative_to(root).as_posix()
        return file.name or str(file)

    return shown


# --- lines ------------------------------------------------------------------------------------------


def whole_lines(buffer: bytes | bytearray, end: int) -> int:
    """How many of the first ``end`` bytes form whole lines (``\\n``, ``\\r\\n`` or ``\\r`` ended).

    A final ``\\r`` may be the first half of ``\\r\\n``: it waits for the next byte.

    >>> whole_lines(b"1,2\\r\\n3,4\\r5", 10), whole_lines(b"1,2\\r", 4), whole_lines(b"1,2", 3)
    (9, 0, 0)
    """
    newline = buffer.rfind(b"\n", 0, end)
    # Only after the last \n: a search of the whole buffer for a \r that is not there holds the GIL
    # for a whole piece, the time the drift check's reader thread needs to fill the columns.
    return max(newline, buffer.rfind(b"\r", newline + 1, max(end - 1, 0))) + 1


def iter_blocks(path: str | os.PathLike, block_bytes: int) -> Iterator[memoryview]:
    """The file as blocks of whole lines (the last one may lack its line end; a leading byte-order
    mark skipped), read into one reused buffer: a block is valid until the next is asked for. A line
    longer than the buffer grows it."""
    buffer = bytearray(max(int(block_bytes), 2))
    filled = 0  # bytes of an unfinished last line carried over from the previous block
    with open(path, "rb", buffering=0) as handle:
        if handle.read(len(BOM)) != BOM:  # a byte-order mark is not part of the first line
            handle.seek(0)
        while True:
            view = memoryview(buffer)
            end = filled
            while end < len(buffer) and (got := handle.readinto(view[end:])):
                end += got
            if end < len(buffer):  # end of file: the rest is the last line
                if end:
                    yield view[:end]
                return
            cut = whole_lines(buffer, end)
            if cut == 0:  # no line ends in the buffer: a bigger one (the old may still be exported)
                bigger = bytearray(2 * len(buffer))
                bigger[:end] = view[:end]
                buffer, filled = bigger, end
                continue
            yield view[:cut]
            view[: end - cut] = view[cut:end]
            filled = end - cut


def iter_line_batches(path: str | os.PathLike, batch_lines: int | None,
                      block_bytes: int = 4 << 20) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, lines without their endings) for ``batch_lines`` lines at a time
    (``None``: the whole file at once); empty lines are kept, as ``b""``, so numbers stay true."""
    pending: list[bytes] = []
    first = 1
    for block in iter_blocks(path, block_bytes):
        pending += bytes(block).splitlines()
        if batch_lines is None:
            continue
        start = 0
        while len(pending) - start >= batch_lines:
            yield first, pending[start:start + batch_lines]
            first, start = first + batch_lines, start + batch_lines
        del pending[:start]
    if pending:
        yield first, pending
