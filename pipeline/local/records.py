"""The records of a Batch Transform input object: batches of whole lines, line endings, and record errors.

Choices where AWS documents nothing: blank lines are not records (dropped); line endings ``\\r\\n``
become ``\\n``. SplitType=Line splits "on a newline character boundary" (the TransformInput API): a lone
``\\r`` (old Mac line endings) ends no record there, so such an object would reach the model as one
record; the job fails here with that reason instead (:func:`check_line_ends`). A batch is bounded by the raw size of its input lines (before the input filter,
which only shrinks it); the number of output lines must equal the number of records sent.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from processing_scripts.text_files import BINARY_BYTE

MB = 1024 * 1024
NEWLINE = 10  # b"\n"


class TransformError(ValueError):
    """The job fails: the message says which file/record and why."""


class RecordError(Exception):
    """A failure at records ``first..last`` of a batch (0-based); the caller adds file and offset."""

    def __init__(self, first: int, last: int, text: str) -> None:
        super().__init__(text)
        self.first, self.last, self.text = first, last, text


class RecordTooLarge(Exception):
    """The record after every batch read so far exceeds MaxPayloadInMB."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(size)
        self.size, self.max_bytes = size, max_bytes


_LONE_CR = re.compile(rb"\r(?!\n)")
GZIP_MAGIC = b"\x1f\x8b"


def not_text(record: bytes) -> str | None:
    """Why a record is not a line of text (a binary byte in it), with the fix; None when it is text.

    >>> not_text(b"\\x1f\\x8b\\x08\\x00")
    'the object is gzip-compressed (binary byte 0x1f), not CSV text: decompress it (gunzip) before the transform'
    >>> not_text(b"1,2")
    """
    binary = BINARY_BYTE.search(record)
    if binary is None:
        return None
    what = "the object is gzip-compressed" if GZIP_MAGIC in record[:2] else "the record is binary"
    fix = "decompress it (gunzip) before the transform" if "gzip" in what else "remove the object from the input"
    return f"{what} (binary byte 0x{record[binary.start()]:02x}), not CSV text: {fix}"


def check_line_ends(chunk: bytes) -> None:
    """:class:`RecordError` at the first record ended by a lone ``\\r``: SageMaker splits at ``\\n`` only.

    >>> check_line_ends(b"1,2\\r\\n3,4\\r\\n")
    >>> check_line_ends(b"1,2\\n3,4\\r5,6\\n")
    Traceback (most recent call last):
    ...
    pipeline.local.records.RecordError: a line ends with a lone carriage return (\\r, old Mac line endings): Batch Transform's SplitType=Line splits records at \\n only; convert the line endings to \\n
    """
    lone = _LONE_CR.search(chunk)
    if lone is not None:
        record = chunk.count(b"\n", 0, lone.start())
        start = chunk.rfind(b"\n", 0, lone.start()) + 1
        end = chunk.find(b"\n", lone.start())
        if (why := not_text(chunk[start:end if end >= 0 else len(chunk)])) is not None:
            raise RecordError(record, record, why)  # a \r among binary bytes: say what the object is
        raise RecordError(record, record, "a line ends with a lone carriage return (\\r, old Mac line endings): Batch "
                                          "Transform's SplitType=Line splits records at \\n only; convert the line endings to \\n")


def normalise(chunk: bytes) -> bytes:
    """``\\n`` line endings, no blank lines, ending with ``\\n`` (or empty).

    >>> normalise(b"\\r\\n1,2\\r\\n\\r\\n3,4")
    b'1,2\\n3,4\\n'
    """
    if b"\r" in chunk:
        check_line_ends(chunk)
        chunk = chunk.replace(b"\r\n", b"\n")
    if chunk.startswith(b"\n") or b"\n\n" in chunk:
        chunk = re.sub(rb"\n\n+", b"\n", chunk).lstrip(b"\n")
    if chunk and not chunk.endswith(b"\n"):
        chunk += b"\n"
    return chunk


def records_of(chunk: bytes) -> list[bytes]:
    """The records of a chunk of lines, without their line endings.

    >>> records_of(b"1,2\\r\\n\\n3,4")
    [b'1,2', b'3,4']
    """
    return normalise(chunk).split(b"\n")[:-1]


def normalise_response(response: bytes | str) -> bytes:
    """The model's response with ``\\n`` line endings, ending with one (or empty); blank lines are kept.

    >>> normalise_response("0.5\\r\\n0.7"), normalise_response(b"")
    (b'0.5\\n0.7\\n', b'')
    """
    if isinstance(response, str):
        response = response.encode("utf-8")
    response = bytes(response)
    if b"\r" in response:
        response = response.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if response and not response.endswith(b"\n"):
        response += b"\n"
    return response


def line_ends(batch: bytes) -> tuple[bytes, np.ndarray]:
    """The batch with ``\\n`` line endings and no blank lines, and the position of every ``\\n``.

    >>> line_ends(b"1,2\\r\\n3")
    (b'1,2\\n3\\n', array([3, 5]))
    """
    if b"\r" in batch:
        check_line_ends(batch)
        batch = batch.replace(b"\r\n", b"\n")
    if not batch.endswith(b"\n"):
        batch += b"\n"
    ends = np.flatnonzero(np.frombuffer(batch, dtype=np.uint8) == NEWLINE)
    if len(ends) and (ends[0] == 0 or (np.diff(ends) == 1).any()):  # blank lines (rare): drop them and look again
        batch = normalise(batch)
        ends = np.flatnonzero(np.frombuffer(batch, dtype=np.uint8) == NEWLINE)
    return batch, ends


def check_count(got: int, sent: int) -> None:
    """The model must answer one line per record sent."""
    if got != sent:
        raise RecordError(0, sent - 1, f"the model returned {got} predictions for {sent} records")


def line_batches(path: Path, max_bytes: int) -> Iterator[tuple[bytes | RecordTooLarge, int]]:
    """Greedy batches of whole lines whose raw size (line endings included) is at most ``max_bytes``.

    Yields ``(raw batch, its size)``; reads ``max_bytes`` at a time, so memory stays bounded whatever
    the size of the file. A record over the limit ends the stream with ``(RecordTooLarge, 0)``, so
    that it is reported after the batches before it, in order.
    """
    buffer = bytearray(max_bytes)
    view = memoryview(buffer)
    filled = 0  # bytes of the next batch already in the buffer (the tail of the last read)
    with open(path, "rb") as handle:
        while True:
            while filled < max_bytes and (got := handle.readinto(view[filled:])):
                filled += got
            if not filled:
                return
            # A short buffer is the end of the file: its last record fits even with the newline it is sent
            # with. A full buffer without a newline is one record over the limit.
            at_end = filled < max_bytes
            cut = filled if at_end else buffer.rfind(b"\n", 0, filled) + 1
            if cut == 0:
                size = filled
                while (more := handle.read(MB)) and b"\n" not in more:
                    size += len(more)
                size += more.index(b"\n") if more else 0
                yield RecordTooLarge(size + 1, max_bytes), 0
                return
            yield bytes(view[:cut]), cut
            buffer[:filled - cut] = bytes(view[cut:filled])  # a copy: the two ranges may overlap
            filled -= cut
