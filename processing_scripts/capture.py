"""SageMaker Data Capture JSONL as a data set, in Model Monitor's layout, and the one entry point for
either input format.

Layout. Each captured row is the endpoint OUTPUT's fields, then the endpoint INPUT's, in columns
``_c0, _c1, ...``: Model Monitor lines captured data up so with a baseline whose first column is the
label (the prediction sits under the label). :attr:`Dataset.output_width` says how many leading
columns came from the output, :attr:`Dataset.input_width` how many from the input. A record without
``endpointOutput`` gives its inputs only; one without ``endpointInput`` its outputs only.

Bodies. ``encoding`` ``CSV`` and ``JSON`` hold the body as text; ``BASE64`` is decoded (UTF-8). The body
is JSON when the encoding is ``JSON`` or ``observedContentType`` is ``application/json``; else CSV when
the content type is ``text/csv`` (or absent); any other type is unsupported.

* CSV: a row per non-empty line (``\\n``, ``\\r\\n`` or ``\\r``; a final line end, as endpoints often
  send, ends the last row), RFC 4180 quoting within a line; every row of a body has the same width.
* JSON: the body is a scalar (one row of one value), a list of rows, or an object holding them under
  ``instances`` or ``inputs`` (input) / ``predictions``, ``scores`` or ``outputs`` (output), the first
  of those keys present. A row is a list of scalars or a scalar (a row of one value). A list of
  scalars under one of those keys is one row per value (TensorFlow Serving's
  ``{"instances": [1.0, 2.0]}``: two rows); a bare list of scalars is one input row (a single
  record's features) but, as an output, one value per input row unless the request has exactly one
  input row (then it is that row's outputs, e.g. class probabilities). Objects as rows, nested lists
  and line breaks inside values are not supported. Values become the text a CSV reader of the same
  data would see: numbers as the body writes them (``1.0`` stays ``1.0``), ``true``/``false``, text
  as is; ``null`` is a missing value.

A request may hold several rows; its output must have as many rows as its input.

Malformed records are skipped and counted, not fatal: not JSON, not a capture record, undecodable
BASE64 or JSON, unreadable CSV, an unsupported content type or body, a lone UTF-16 surrogate escape
(no text), output rows that do not match the input rows, or a shape (output fields, input fields) other than the most common one among the
records (the first seen wins a tie). :attr:`Dataset.skipped` lists them (``file:line``, reason).
Reading fails (:class:`DataError`, naming the first skipped record) only when no record is usable or
the skipped share exceeds ``max_skipped_share`` (:data:`MAX_SKIPPED_SHARE`). A file that is not text
(compressed, binary, not UTF-8) is an error, as for CSV; a leading byte-order mark is ignored.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .columns import DataError, Dataset
from . import csv_dataset
from .csv_dataset import data_files, read_csv
from .labelled import QUOTE_FIX, check_text, split_fields
from .text_files import BOM

MAX_SKIPPED_SHARE = 0.05  # the share of malformed capture records a check tolerates (skipped and reported)

INPUT_KEYS = ("instances", "inputs")
OUTPUT_KEYS = ("predictions", "scores", "outputs")
_JSON_TYPES = ("application/json",)
_CSV_TYPES = ("text/csv",)
_SCALARS = (str, bool, type(None))  # what json.loads gives for a scalar here (numbers are kept as text)


class _Malformed(Exception):
    """A record to skip; the message is the reason (one line)."""


# --- one body: its rows as CSV lines ----------------------------------------------------------------


def _csv_lines(text: str, part: str) -> tuple[list[str], int]:
    """(CSV lines, fields per line) of a CSV body; ``part``: "input" or "output", for reasons.

    >>> _csv_lines("1,2\\n3,4\\n", "input")
    (['1,2', '3,4'], 2)
    >>> _csv_lines('"a,b",1\\r\\n', "input")
    (['"a,b",1'], 2)
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line for line in text.split("\n") if line]
    width = None
    for line in lines:
        if '"' in line:
            fields = split_fields(line)
            if isinstance(fields, str):
                raise _Malformed(f"the {part}'s CSV is unreadable ({fields}); {QUOTE_FIX}")
            count = len(fields)
        else:
            count = line.count(",") + 1
        if width is None:
            width = count
        elif count != width:
            raise _Malformed(f"the {part}'s rows have {width} and {count} fields; every row of a request needs "
                             "the same columns")
    return lines, width or 0


def _field(value: Any, part: str) -> str:
    """A JSON scalar as a CSV field (quoted when it must be)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        raise _Malformed(f"the {part}'s JSON rows hold a nested value; a row must be a list of values or one value")
    if "\n" in value or "\r" in value:
        raise _Malformed(f"a value of the {part}'s JSON holds a line break; values must be on one line")
    if "," in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _json_lines(text: str, part: str, *, input_rows: int | None) -> tuple[list[str], int]:
    """(CSV lines, fields per line) of a JSON body (the module's rules); ``input_rows``: for an
    output, the rows of its request's input (None: an input, or no input captured).

    >>> _json_lines('{"instances": [1.0, 2.0, 5.0]}', "input", input_rows=None)
    (['1.0', '2.0', '5.0'], 1)
    >>> _json_lines('[[1, "a,b"], [2, null]]', "input", input_rows=None)
    (['1,"a,b"', '2,'], 2)
    >>> _json_lines('[0.3, 0.7]', "output", input_rows=1), _json_lines('[0.3, 0.7]', "output", input_rows=2)
    ((['0.3,0.7'], 2), (['0.3', '0.7'], 1))
    """
    try:
        # Numbers as text, exactly as the body writes them (the text a CSV of the same data holds).
        body = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
    except (json.JSONDecodeError, RecursionError) as error:
        raise _Malformed(f"the {part} is not JSON ({getattr(error, 'msg', 'nested too deeply')})") from None
    keys = INPUT_KEYS if part == "input" else OUTPUT_KEYS
    keyed = isinstance(body, dict)
    if keyed:
        key = next((k for k in keys if k in body), None)
        if key is None:
            raise _Malformed(f"the {part}'s JSON object has none of the keys {', '.join(keys)}; send the rows "
                             f"under one of them, or as a list")
        body = body[key]
    if isinstance(body, _SCALARS):
        rows = [[body]]
    elif not isinstance(body, list) or any(isinstance(item, dict) for item in body):
        raise _Malformed(f"the {part}'s JSON rows are objects; send rows as lists of values (objects as rows are "
                         "not supported)")
    elif all(isinstance(item, list) for item in body):
        rows = body
    elif all(isinstance(item, _SCALARS) for item in body):
        # A flat list: one row per value under a key or for an output of a batch, else one row.
        per_value = keyed or (part == "output" and input_rows != 1)
        rows = [[item] for item in body] if per_value else [body]
    else:
        raise _Malformed(f"the {part}'s JSON mixes rows and other values; send a list of rows (lists of values)")
    width = len(rows[0]) if rows else 0
    lines = []
    for row in rows:
        if len(row) != width:
            raise _Malformed(f"the {part}'s JSON rows have {width} and {len(row)} values; every row of a request "
                             "needs the same columns")
        lines.append(",".join([_field(value, part) for value in row]))
    if width == 1:  # an empty line is no row to a CSV reader: a lone missing value is written ""
        lines = [line or '""' for line in lines]
    return lines, width


def _body(part_record: Any, part: str, *, input_rows: int | None = None) -> tuple[list[str], int]:
    """(CSV lines, width) of ``captureData.endpointInput`` or ``endpointOutput``."""
    name = "endpointInput" if part == "input" else "endpointOutput"
    if not isinstance(part_record, dict):
        raise _Malformed(f"captureData.{name} is not an object; this is not a SageMaker Data Capture record")
    data, encoding = part_record.get("data"), part_record.get("encoding")
    if not isinstance(data, str):
        raise _Malformed(f"captureData.{name}.data is missing or not a string")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise _Malformed(f"BASE64 data does not decode to UTF-8 text ({error})") from None
    elif encoding not in ("CSV", "JSON"):
        raise _Malformed(f"unknown encoding {encoding!r}; Data Capture encodings CSV, JSON and BASE64 are supported")
    content_type = part_record.get("observedContentType")
    media = None if content_type is None else str(content_type).split(";")[0].strip().lower()
    if encoding == "JSON" or media in _JSON_TYPES:
        lines, width = _json_lines(data, part, input_rows=input_rows)
    elif media is None or media in _CSV_TYPES:
        lines, width = _csv_lines(data, part)
    else:
        raise _Malformed(f"observedContentType {content_type!r} is not text/csv or application/json; only CSV and "
                         "JSON requests can be checked")
    if not lines:
        raise _Malformed(f"the {part} holds no rows")
    return lines, width


def _parse_line(line: str) -> Any:
    """The JSON value of one capture line, or the reason it is none."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise _Malformed(f"not JSON ({error.msg}); each line must be one Data Capture record") from None
    except RecursionError:
        raise _Malformed("not JSON (nested too deeply); each line must be one Data Capture record") from None


def _in_window(record: Any, window: Any) -> bool:
    """Whether a parsed record's ``eventMetadata.inferenceTime`` lies in ``window`` (a windows.Window)."""
    metadata = record.get("eventMetadata") if isinstance(record, dict) else None
    moment = metadata.get("inferenceTime") if isinstance(metadata, dict) else None
    if not isinstance(moment, str):
        raise _Malformed("eventMetadata.inferenceTime is missing; a windowed check cannot place the record")
    try:
        return window.holds(moment)
    except ValueError as error:
        raise _Malformed(f"eventMetadata.{error}") from None


def _record(line: str, window: Any = None) -> tuple[int, int, list[str]] | None:
    """(output width, input width, rows as CSV lines, output fields first) of one capture record; None
    when its inference time lies outside ``window``."""
    record = _parse_line(line)
    if window is not None and not _in_window(record, window):
        return None
    capture = record.get("captureData") if isinstance(record, dict) else None
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    endpoint_output = capture.get("endpointOutput") if isinstance(capture, dict) else None
    if endpoint_input is None and endpoint_output is None:
        raise _Malformed("no captureData.endpointInput or endpointOutput; this is not a SageMaker Data Capture record")
    inputs, input_width = _body(endpoint_input, "input") if endpoint_input is not None else (None, 0)
    if endpoint_output is None:
        output_width, rows = 0, inputs
    else:
        outputs, output_width = _body(endpoint_output, "output", input_rows=None if inputs is None else len(inputs))
        if inputs is not None and len(outputs) != len(inputs):
            raise _Malformed(f"the output has {len(outputs)} row{'s' * (len(outputs) != 1)} but the input "
                             f"{len(inputs)}; a request needs one output row per input row")
        rows = outputs if inputs is None else [o + "," + i for o, i in zip(outputs, inputs)]
    if "\\ud" in line.lower():  # an escaped surrogate: JSON allows a lone one, which is no text
        try:
            "".join(rows).encode("utf-8")
        except UnicodeEncodeError:
            raise _Malformed("a value holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape); values must be "
                             "text") from None
    return output_width, input_width, rows


# --- a folder of records --------------------------------------------------------------------------


def _capture_lines(files: list[Path], names: list[str]) -> Iterator[tuple[int, int, str]]:
    """(file index, line number, line) of every non-blank line of the capture files, each checked as text."""
    for index, file in enumerate(files):
        check_text(file, names[index])
        # utf-8-sig: a leading byte-order mark is not part of the first record (as for CSV).
        with open(file, encoding="utf-8-sig", errors="replace") as handle:
            for line_no, line in enumerate(handle, 1):
                if line.strip():
                    yield index, line_no, line


def _shape_reason(shape: tuple[int, int], main: tuple[int, int], count: int, usable: int, first: str) -> str:
    """Why a record of ``shape`` is skipped when most have ``main``."""
    split = "" if shape[0] == main[0] else f" ({shape[0]} from the endpoint output, theirs {main[0]})"
    return (f"a request has {sum(shape)} fields{split} but {count} of the {usable} readable records have {sum(main)} "
            f"(the most, as {first}); every record needs the same columns")


def _share(value: float) -> str:
    return f"{value * 100:.3g}%"


def read_capture(path: str | os.PathLike, *, shown: Callable[[Path], str] = str,
                 max_skipped_share: float = MAX_SKIPPED_SHARE, window: Any = None) -> Dataset:
    """Read SageMaker Data Capture JSONL files (a file or a folder) in Model Monitor's layout: the
    endpoint output's fields, then the input's (the module's rules); malformed records are skipped
    and counted, and :class:`DataError` names the first when more than ``max_skipped_share`` of the
    records (or all of them) are. With ``window`` (a windows.Window), only records whose inference
    time lies in it are read (the others are counted, not checked)."""
    files = data_files(path, shown=shown)
    names = [shown(file) for file in files]
    groups: dict[tuple[int, int], tuple[list[tuple[int, int]], list[str]]] = {}  # shape: (records, lines)
    skipped: list[tuple[int, int, str]] = []  # (file index, line number, reason)
    records = outside = 0
    for index, line_no, line in _capture_lines(files, names):
        records += 1
        try:
            read = _record(line, window)
        except _Malformed as why:
            skipped.append((index, line_no, str(why)))
            continue
        if read is None:
            outside += 1
            continue
        output_width, input_width, lines = read
        where, rows = groups.setdefault((output_width, input_width), ([], []))
        where.append((index, line_no))
        rows += lines
    if records == 0:
        raise DataError(f"{shown(Path(path))} holds no captured requests; pass Data Capture files (JSON lines "
                        "with captureData)")
    if outside == records:
        raise DataError(f"none of the {records} captured requests in {shown(Path(path))} has an inference time in the "
                        f"window {window.describe()}; check the window (or the capture prefix), or that the endpoint "
                        "had traffic then")
    usable = sum(len(where) for where, _ in groups.values())
    shape = max(groups, key=lambda s: (len(groups[s][0]), [-n for n in groups[s][0][0]]), default=None)
    if shape is not None:
        main_where = groups[shape][0]
        first = f"{names[main_where[0][0]]}:{main_where[0][1]}"
        for other, (where, _) in groups.items():
            if other != shape:
                reason = _shape_reason(other, shape, len(main_where), usable, first)
                skipped += [(index, line_no, reason) for index, line_no in where]
    skipped.sort()
    _check_skipped(skipped, records - outside, names, max_skipped_share)
    where, lines = groups[shape]
    columns, rows = _columns("\n".join(lines).encode("utf-8") + b"\n", names[0])
    if rows != len(lines) or len(columns) != sum(shape):  # the lines are built to parse: a bug if not
        raise DataError(f"{names[0]}: {len(lines)} captured rows of {sum(shape)} fields read as {rows} of "
                        f"{len(columns)}; report this as a bug")
    return Dataset(columns, rows, [str(f) for f in files], output_width=shape[0], input_width=shape[1],
                   record_count=records, skipped=[(f"{names[i]}:{n}", reason) for i, n, reason in skipped],
                   outside_window=outside)


def _check_skipped(skipped: list[tuple[int, int, str]], records: int, names: list[str], limit: float) -> None:
    """:class:`DataError` naming the first skipped record when none is usable or too many are skipped."""
    if not skipped:
        return
    index, line_no, reason = skipped[0]
    where = f"{names[index]}:{line_no}"
    if len(skipped) == records:
        none = "the only capture record is" if records == 1 else f"none of the {records} capture records is"
        raise DataError(f"{where}: {reason}; {none} usable: fix or remove the malformed records")
    if len(skipped) > limit * records:
        raise DataError(f"{where}: {reason}; {len(skipped)} of {records} capture records skipped "
                        f"({_share(len(skipped) / records)}, above the {_share(limit)} limit): fix or remove the "
                        "malformed records")


def _columns(data: bytes, name: str) -> tuple[list, int]:
    """Typed columns of the gathered rows, by the CSV readers (the same type rule as a CSV file)."""
    if csv_dataset.pacsv is not None:
        return csv_dataset.read_csv_arrow(data, set(), name=name)
    return csv_dataset.read_csv_pandas(data, name)


def sniff_format(path: str | os.PathLike, *, shown: Callable[[Path], str] = str) -> str:
    """"capture" when the first non-blank character of the first file is ``{`` (Data Capture JSON
    lines, whatever their encoding), else "csv"."""
    with open(data_files(path, shown=shown)[0], "rb") as handle:
        head = handle.read(4096).removeprefix(BOM).lstrip()
    return "capture" if head.startswith(b"{") else "csv"


def read_dataset(path: str | os.PathLike, *, data_format: str = "auto", label_column: str = "none",
                 header: bool = False, keep_label: bool = False, max_skipped_share: float = MAX_SKIPPED_SHARE,
                 shown: Callable[[Path], str] = str, window: Any = None, scheduled: bool = False) -> Dataset:
    """Read CSV or Data Capture input; ``data_format`` is "csv", "capture" or "auto". ``label_column``,
    ``header`` and ``keep_label`` are :func:`read_csv`'s (captures have neither label nor header);
    ``max_skipped_share`` and ``window`` are :func:`read_capture`'s. CSV rows have no inference time:
    a window given explicitly is refused for them, a ``scheduled`` one does not apply."""
    if data_format not in ("csv", "capture", "auto"):
        raise DataError(f"format {data_format!r} is not csv, capture or auto")
    sniffed = sniff_format(path, shown=shown)
    if data_format == "csv" and sniffed == "capture":  # JSON lines would be read as odd CSV fields
        raise DataError(f"{shown(Path(path))} holds Data Capture JSON lines, not CSV; pass --format capture "
                        "(or auto)")
    if data_format == "auto":
        data_format = sniffed
    if data_format == "capture":
        return read_capture(path, shown=shown, max_skipped_share=max_skipped_share, window=window)
    if window is not None and not scheduled:
        raise DataError(f"{shown(Path(path))} is CSV, whose rows have no inference time: a window (--start/--end) "
                        "applies to Data Capture records only; leave it out for a CSV batch")
    return read_csv(path, label_column=label_column, header=header, keep_label=keep_label, shown=shown)


# --- predictions with their event ids and times (the model-quality check) -------------------------


@dataclass
class Predictions:
    """The captured requests of a window: per request its event id (the caller's ``inferenceId`` when
    given, else Data Capture's ``eventId``, as Model Monitor merges ground truth) and the endpoint's
    probability for each of its records; with the reading's accounting."""

    event_ids: list[str]
    scores: list[tuple[float, ...]]
    record_count: int = 0  # non-blank lines read
    outside_window: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file:line, reason)


def _probabilities(lines: list[str], width: int) -> tuple[float, ...]:
    """One probability per output row (a row of one value in [0, 1])."""
    if width != 1:
        raise _Malformed(f"the output has {width} values per record; the quality check needs one probability of "
                         "the positive class per record (the scikit-learn serving contract's output)")
    values = []
    for line in lines:
        text = line.strip().strip('"')
        try:
            value = float(text)
        except ValueError:
            raise _Malformed(f"the output {text[:40]!r} is not a number; the quality check needs the endpoint's "
                             "probability of the positive class") from None
        if not 0.0 <= value <= 1.0:  # NaN fails too
            raise _Malformed(f"the output {text[:40]!r} is not a probability from 0 to 1")
        values.append(value)
    return tuple(values)


def _one_csv_record(endpoint_input: Any) -> bool:
    """The input is absent or one CSV line (the common case, known without splitting it into fields)."""
    if endpoint_input is None:
        return True
    data = endpoint_input.get("data") if isinstance(endpoint_input, dict) else None
    media = str(endpoint_input.get("observedContentType", "text/csv")).split(";")[0].strip().lower() \
        if isinstance(endpoint_input, dict) else ""
    body = data.rstrip("\r\n") if isinstance(data, str) else ""
    return (endpoint_input.get("encoding") == "CSV" and media == "text/csv" and bool(body.strip())
            and '"' not in body and "\n" not in body and "\r" not in body)


def _input_rows(endpoint_input: Any) -> int | None:
    """How many records the request's input holds (None when not captured)."""
    if endpoint_input is None:
        return None
    return len(_body(endpoint_input, "input")[0])


def _prediction(line: str, window: Any) -> tuple[str, tuple[float, ...]] | None:
    """(event id, probabilities) of one capture record; None when its inference time is outside ``window``."""
    record = _parse_line(line)
    metadata = record.get("eventMetadata") if isinstance(record, dict) else None
    capture = record.get("captureData") if isinstance(record, dict) else None
    if not isinstance(metadata, dict) or not isinstance(capture, dict):
        raise _Malformed("no eventMetadata and captureData; this is not a SageMaker Data Capture record")
    event_id = metadata.get("inferenceId") or metadata.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise _Malformed("eventMetadata has no eventId (or inferenceId); ground truth cannot be merged with it")
    if window is not None and not _in_window(record, window):
        return None
    endpoint_output = capture.get("endpointOutput")
    if endpoint_output is None:
        raise _Malformed("captureData has no endpointOutput; capture the endpoint's output (Data Capture "
                         "CaptureOptions: Input and Output) to check its quality")
    data = endpoint_output.get("data") if isinstance(endpoint_output, dict) else None
    endpoint_input = capture.get("endpointInput")
    if (isinstance(data, str) and endpoint_output.get("encoding") == "CSV" and "," not in data and '"' not in data
            and "\n" not in data.rstrip("\r\n") and "\r" not in data.rstrip("\r\n")
            and str(endpoint_output.get("observedContentType", "text/csv")).split(";")[0].strip().lower() == "text/csv"):
        outputs, width = [data], 1  # one CSV value: the common case, parsed without the general reader
        input_rows = None if _one_csv_record(endpoint_input) else _input_rows(endpoint_input)
    else:
        input_rows = _input_rows(endpoint_input)
        outputs, width = _body(endpoint_output, "output", input_rows=input_rows)
    if input_rows is not None and input_rows != len(outputs):
        raise _Malformed(f"the output has {len(outputs)} row{'s' * (len(outputs) != 1)} but the input {input_rows}; "
                         "a request needs one output row per input row")
    return event_id, _probabilities(outputs, width)


def read_predictions(path: str | os.PathLike, *, window: Any = None, shown: Callable[[Path], str] = str,
                     max_skipped_share: float = MAX_SKIPPED_SHARE) -> Predictions:
    """The captured predictions below ``path`` whose ``inferenceTime`` lies in ``window`` (a
    :class:`windows.Window`; None: every record). Malformed records are skipped and counted as by
    :func:`read_capture` (the share is of the records read); a record outside the window is not read
    further, so it cannot count as malformed."""
    files = data_files(path, shown=shown)
    predictions = Predictions([], [])
    skipped: list[tuple[int, int, str]] = []
    names = [shown(file) for file in files]
    for index, line_no, line in _capture_lines(files, names):
        predictions.record_count += 1
        try:
            found = _prediction(line, window)
        except _Malformed as why:
            skipped.append((index, line_no, str(why)))
            continue
        if found is None:
            predictions.outside_window += 1
            continue
        predictions.event_ids.append(found[0])
        predictions.scores.append(found[1])
    if predictions.record_count == 0:
        raise DataError(f"{shown(Path(path))} holds no captured requests; pass Data Capture files (JSON lines "
                        "with captureData)")
    # The tolerance is of the records the check would have used: those outside the window do not count.
    _check_skipped(skipped, predictions.record_count - predictions.outside_window, names, max_skipped_share)
    predictions.skipped = [(f"{names[i]}:{n}", reason) for i, n, reason in skipped]
    return predictions
