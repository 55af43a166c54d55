"""SageMaker Data Capture JSONL as a data set, and the one entry point for either input format.

A capture record's ``captureData.endpointInput`` must be ``text/csv`` with encoding ``CSV`` or
``BASE64``; a request may hold several rows. Errors name ``file:line``.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .columns import DataError, Dataset, column_from_strings
from .csv_dataset import data_files, read_csv
from .labelled import QUOTE_FIX, check_text


def _capture_csv(where: str, line: str) -> str:
    """The CSV text of one Data Capture record's endpoint input; ``where``: ``file:line`` for messages."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: not JSON ({error.msg}); each line must be one Data Capture record") from None
    capture = record.get("captureData") if isinstance(record, dict) else None
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(endpoint_input, dict):
        raise DataError(f"{where}: no captureData.endpointInput; this is not a SageMaker Data Capture record")
    content_type = str(endpoint_input.get("observedContentType", "text/csv"))
    if not content_type.split(";")[0].strip().lower() == "text/csv":
        raise DataError(f"{where}: observedContentType {content_type!r} is not text/csv; only CSV requests can be checked")
    data, encoding = endpoint_input.get("data"), endpoint_input.get("encoding")
    if not isinstance(data, str):
        raise DataError(f"{where}: captureData.endpointInput.data is missing or not a string")
    if encoding == "CSV":
        return data
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise DataError(f"{where}: BASE64 data does not decode to UTF-8 text ({error})") from None
    raise DataError(f"{where}: unknown encoding {encoding!r}; Data Capture encodings CSV and BASE64 are supported")


def _request_rows(where: str, text: str) -> list[list[str]]:
    """The CSV rows of one captured request body; one-line :class:`DataError` when its quoting is broken."""
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise DataError(f"{where}: the request's CSV is unreadable ({error}); {QUOTE_FIX}") from None


def read_capture(path: str | os.PathLike, *, shown: Callable[[Path], str] = str) -> Dataset:
    """Read the endpoint inputs of SageMaker Data Capture JSONL files (a file or a folder)."""
    rows: list[list[str]] = []
    width, first_where = None, None
    files = data_files(path, shown=shown)
    for file in files:
        check_text(file, shown(file))
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                where = f"{shown(file)}:{line_no}"
                for row in _request_rows(where, _capture_csv(where, line)):
                    if not row:
                        continue
                    if width is None:
                        width, first_where = len(row), where
                    elif len(row) != width:
                        raise DataError(f"{where}: a request has {len(row)} fields but {first_where} "
                                        f"has {width}; all requests need the same columns")
                    rows.append(row)
    if not rows:
        raise DataError(f"{shown(Path(path))} holds no captured requests; pass Data Capture files with endpoint inputs")
    table = np.array(rows, dtype=object)
    columns = [column_from_strings(f"_c{i}", table[:, i]) for i in range(width)]
    return Dataset(columns, len(rows), [str(f) for f in files])


def sniff_format(path: str | os.PathLike, *, shown: Callable[[Path], str] = str) -> str:
    """"capture" when the first non-blank character of the first file is ``{``, else "csv"."""
    with open(data_files(path, shown=shown)[0], "rb") as handle:
        head = handle.read(4096).lstrip()
    return "capture" if head.startswith(b"{") else "csv"


def read_dataset(path: str | os.PathLike, *, data_format: str = "auto", label_column: str = "none",
                 shown: Callable[[Path], str] = str) -> Dataset:
    """Read CSV or Data Capture input; ``data_format`` is "csv", "capture" or "auto"."""
    if data_format not in ("csv", "capture", "auto"):
        raise DataError(f"format {data_format!r} is not csv, capture or auto")
    if data_format == "auto":
        data_format = sniff_format(path, shown=shown)
    if data_format == "capture":
        return read_capture(path, shown=shown)
    return read_csv(path, label_column=label_column, shown=shown)

