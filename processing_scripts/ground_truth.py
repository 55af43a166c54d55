"""Labels that arrive after the predictions (Model Monitor's ground-truth records) and their join with them.

A ground-truth record is one JSON line, as Model Monitor's model-quality monitoring reads them::

    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."}, "eventVersion": "0"}

``data`` holds the label (0 or 1) of the captured request whose event id (its inference id, when the
caller gave one) is ``eventId``; a request of several records has one label per line, in record order.
Encodings: CSV, JSON (a number, a boolean, a string or a list of them) and BASE64 (of CSV text).

Fail closed: an id labelled twice with the same labels counts once (a duplicate); an id given different
labels is left out (conflicting), as is a request whose label count differs from its prediction count.
Malformed records are skipped and counted; above ``max_skipped_share`` of them the labels are refused.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .capture import MAX_SKIPPED_SHARE  # one tolerance for malformed records, captures and labels alike
from .labelled import DataError
from .text_files import check_text, list_files


class RecordError(ValueError):
    """One malformed record (the reason, one line; the caller adds where)."""


def _label(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "0.0", "1.0", "true", "false"):
        return int(value.strip().lower() in ("1", "1.0", "true"))
    shown = repr(value)[:40]
    raise RecordError(f"label {shown} is not 0 or 1")


def parse_labels(data: object, encoding: object) -> tuple[int, ...]:
    """The labels of one record's ``groundTruthData``.

    >>> parse_labels("1", "CSV"), parse_labels("0\\n1\\n", "CSV"), parse_labels("[1, 0]", "JSON")
    ((1,), (0, 1), (1, 0))
    >>> parse_labels("2", "CSV")
    Traceback (most recent call last):
    ...
    processing_scripts.ground_truth.RecordError: label '2' is not 0 or 1
    """
    if not isinstance(data, str):
        raise RecordError("groundTruthData.data is missing or not a string")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RecordError("BASE64 data does not decode to UTF-8 text") from None
        encoding = "CSV"
    if encoding == "CSV":
        lines = [line for line in data.splitlines() if line.strip()]
        if not lines:
            raise RecordError("groundTruthData.data holds no label")
        return tuple(_label(line) for line in lines)
    if encoding == "JSON":
        try:
            value = json.loads(data)
        except json.JSONDecodeError as error:
            raise RecordError(f"JSON data is not JSON ({error.msg})") from None
        values = value if isinstance(value, list) else [value]
        if not values:
            raise RecordError("groundTruthData.data holds no label")
        return tuple(_label(v) for v in values)
    raise RecordError(f"unknown encoding {str(encoding)[:20]!r}; CSV, JSON and BASE64 are supported")


def parse_record(line: str) -> tuple[str, tuple[int, ...]]:
    """(event id, labels) of one ground-truth line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise RecordError(f"not JSON ({error.msg})") from None
    except RecursionError:
        raise RecordError("not JSON (nested too deeply)") from None
    truth = record.get("groundTruthData") if isinstance(record, dict) else None
    metadata = record.get("eventMetadata") if isinstance(record, dict) else None
    if not isinstance(truth, dict) or not isinstance(metadata, dict):
        raise RecordError("no groundTruthData and eventMetadata: not a ground-truth record")
    event_id = metadata.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise RecordError("eventMetadata.eventId is missing or not a string")
    return event_id, parse_labels(truth.get("data"), truth.get("encoding"))


@dataclass
class GroundTruth:
    """Labels by event id, with the accounting of how they were read."""

    labels: dict[str, tuple[int, ...]]
    record_count: int = 0
    duplicates: int = 0
    conflicting: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def collect(records: Iterable[tuple[str, str]]) -> GroundTruth:
    """Ground truth from ``(where, line)`` pairs (``where``: ``file:line`` for messages)."""
    labels: dict[str, tuple[int, ...]] = {}
    conflicting: set[str] = set()
    truth = GroundTruth(labels)
    for where, line in records:
        truth.record_count += 1
        try:
            event_id, values = parse_record(line)
        except RecordError as error:
            truth.skipped.append((where, str(error)))
            continue
        if event_id in conflicting:
            continue
        if event_id in labels:
            if labels[event_id] == values:
                truth.duplicates += 1
            else:
                del labels[event_id]
                conflicting.add(event_id)
            continue
        labels[event_id] = values
    truth.conflicting = sorted(conflicting)
    return truth


def read_ground_truth(path: str | os.PathLike, *, shown: Callable[[Path], str] = str,
                      max_skipped_share: float = MAX_SKIPPED_SHARE) -> GroundTruth:
    """Ground-truth records of a JSON lines file or of every file below a folder."""
    files = list_files(path, missing="pass a ground-truth file or folder", shown=shown)

    def lines() -> Iterable[tuple[str, str]]:
        for file in files:
            name = shown(file)  # once per file, not per line
            check_text(file, name)
            with open(file, encoding="utf-8-sig") as handle:  # a byte-order mark is not part of the first record
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield f"{name}:{number}", line

    try:
        truth = collect(lines())
    except UnicodeDecodeError as error:  # past the part check_text reads
        raise DataError(f"{shown(Path(path))}: a byte is not UTF-8 text ({error.reason}); save the "
                        "ground truth as UTF-8") from None
    return checked(truth, path, shown=shown, max_skipped_share=max_skipped_share)


def checked(truth: GroundTruth, path: str | os.PathLike, *, shown: Callable[[Path], str],
            max_skipped_share: float) -> GroundTruth:
    """``truth`` as read from ``path``, or DataError when it holds no record or too many malformed ones."""
    if not truth.record_count:
        raise DataError(f"{shown(Path(path))} holds no ground-truth records; upload one JSON line per labelled "
                        "request ({\"groundTruthData\": ..., \"eventMetadata\": {\"eventId\": ...}})")
    if len(truth.skipped) > max_skipped_share * truth.record_count or len(truth.skipped) == truth.record_count:
        where, reason = truth.skipped[0]
        raise DataError(f"{where}: {reason}; {len(truth.skipped)} of {truth.record_count} ground-truth records are "
                        f"malformed, more than {max_skipped_share:.0%}: fix them or pass a larger --max-skipped-share")
    return truth


@dataclass
class Joined:
    """Predictions that have a label, and the join's accounting."""

    scores: np.ndarray
    labels: np.ndarray
    accounting: dict[str, int]


def join(predictions: Sequence[tuple[str, Sequence[float]]], truth: GroundTruth) -> Joined:
    """Match each captured request's predictions (``(event id, scores)``) with its labels.

    >>> truth = collect([("f:1", '{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "a"}}')])
    >>> joined = join([("a", [0.9]), ("b", [0.2])], truth)
    >>> joined.scores.tolist(), joined.labels.tolist(), joined.accounting["unmatched_predictions"]
    ([0.9], [1], 1)
    """
    scores: list[float] = []
    labels: list[int] = []
    seen: set[str] = set()
    repeated = mismatched = unmatched = counted = 0
    for event_id, values in predictions:
        if event_id in seen:  # a capture written twice: its predictions count once
            repeated += 1
            continue
        seen.add(event_id)
        counted += len(values)
        given = truth.labels.get(event_id)
        if given is None:
            unmatched += len(values)
        elif len(given) != len(values):
            mismatched += len(values)
        else:
            scores += list(values)
            labels += list(given)
    return Joined(np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64), {
        "captured_requests": len(seen),
        "captured_predictions": counted,
        "ground_truth_records": truth.record_count,
        "labelled_requests": len(truth.labels),
        "matched": len(scores),
        "unmatched_predictions": unmatched,
        "labels_without_capture": len(set(truth.labels) - seen),
        "duplicate_captures": repeated,
        "duplicate_labels": truth.duplicates,
        "conflicting_labels": len(truth.conflicting),
        "label_count_mismatch": mismatched,
        "skipped_ground_truth": len(truth.skipped),
    })
