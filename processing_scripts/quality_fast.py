"""Fast paths of the model-quality check's input: its two readers, on the lines SageMaker itself writes
(matched whole by one regular expression per block of lines instead of ``json.loads`` and a walk per
line), and the merge by event id (with the interpreter's C loops instead of a Python loop per request).

:func:`read_predictions` gives exactly what :func:`capture.read_predictions` gives (event ids, scores,
record count, outside-window count, skipped records and their reasons, errors), and
:func:`read_ground_truth` exactly what :func:`ground_truth.read_ground_truth` gives, on any input:

* A line in the exact layout Data Capture writes (``{"captureData":{"endpointInput":{"observedContentType":
  "text/csv",...}``, one CSV input row, one number as the output, ``eventMetadata`` with ``eventId``,
  ``inferenceTime`` and optionally ``inferenceId``, no escapes in any value) or a ground-truth line in
  the layout of the SDK's ``actuals.jsonl`` (one 0/1 label) is read by the pattern. For such a line the
  general reader's answer is known: the same id, time and number.
* Any other line (other key orders, JSON bodies, several records, escapes, anything malformed) goes to
  the general reader's own per-line function (``capture._prediction``, ``ground_truth.parse_record``), as
  does a matched line whose number is not a probability or whose time the window cannot place, so every
  skip keeps its reason.
* A file the general reader would read differently as text (a ``\\r`` line end, which its universal
  newlines split on; bytes that are not UTF-8, which it replaces) is read by the general reader whole.

The per-line state (duplicates, conflicting labels, the window's verdict per distinct time) is kept as
the general readers keep it; tests/test_quality_fast.py compares both on the real reference files, on
generated traffic and on mutated (malformed) lines.

:func:`join` gives exactly what :func:`ground_truth.join` gives for the same predictions and labels.
"""
from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from itertools import chain, compress
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import capture, ground_truth
from .capture import MAX_SKIPPED_SHARE, Predictions, _check_skipped, _Malformed, _prediction, data_files
from .ground_truth import GroundTruth, Joined, RecordError, parse_record
from .labelled import DataError
from .text_files import check_text, list_files

BLOCK_BYTES = 1 << 18  # read this much at a time (whole lines): memory stays bounded on any file size

_VALUE = r'[^"\\\x00-\x1f]++'  # a JSON string's content without escapes (raw control characters are not JSON)
_CSV_TYPE = r'"text/csv(?:; charset=utf-8)?+"'
_CAPTURE = re.compile(
    r'^\{"captureData":\{"endpointInput":\{"observedContentType":' + _CSV_TYPE + r',"mode":"INPUT","data":"'
    + _VALUE + r'(?:\\n)?+","encoding":"CSV"\},"endpointOutput":\{"observedContentType":' + _CSV_TYPE
    + r',"mode":"OUTPUT","data":"([0-9.eE+-]++)(?:\\n)?+","encoding":"CSV"\}\},"eventMetadata":\{"eventId":"('
    + _VALUE + r')"(?:,"inferenceId":"(' + _VALUE + r')")?,"inferenceTime":"([0-9T:.Z+-]++)"(?:,"inferenceId":"('
    + _VALUE + r')")?\},"eventVersion":"0"\}$', re.M)
_TRUTH = re.compile(
    r'^\{"groundTruthData": ?\{"data": ?"([01])(?:\\n)?+", ?"encoding": ?"CSV"\}, ?"eventMetadata": ?\{"eventId": ?"('
    + _VALUE + r')"(?:, ?"inferenceTime": ?"[^"\\\x00-\x1f]*+")?+\}, ?"eventVersion": ?"0"\}$', re.M)


class _Fallback(Exception):
    """The file is not read as the general reader reads it line by line: let the general reader read it all."""


def _blocks(file: Path, *, strip_bom: bool) -> Iterator[tuple[int, str, int]]:
    """(number of the block's first line, text of whole lines, its count of ``\\n``) of a file;
    :class:`_Fallback` when a line would split differently in text mode (``\\r``) or the bytes are not UTF-8."""
    first_line = 1
    with open(file, "rb") as handle:
        data = handle.read(BLOCK_BYTES)
        if strip_bom:
            data = data.removeprefix(codecs.BOM_UTF8)
        while data:
            if not data.endswith(b"\n"):
                data += handle.readline()  # the rest of the block's last line (or the file's last line)
            if b"\r" in data:
                raise _Fallback
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Fallback from None
            newlines = data.count(b"\n")
            yield first_line, text, newlines
            first_line += newlines
            data = handle.read(BLOCK_BYTES)


def _lines(text: str) -> list[str]:
    """The block's lines as the general readers iterate them (without their ``\\n``)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


# --- captures --------------------------------------------------------------------------------------


def read_predictions(path: str | os.PathLike, *, window: Any = None, shown: Callable[[Path], str] = str,
                     max_skipped_share: float = MAX_SKIPPED_SHARE) -> Predictions:
    """:func:`capture.read_predictions`, faster on the lines Data Capture writes (the module's rules)."""
    try:
        return _read_predictions(path, window=window, shown=shown, max_skipped_share=max_skipped_share)
    except _Fallback:
        return capture.read_predictions(path, window=window, shown=shown, max_skipped_share=max_skipped_share)


def _read_predictions(path: str | os.PathLike, *, window: Any, shown: Callable[[Path], str],
                      max_skipped_share: float) -> Predictions:
    files = data_files(path, shown=shown)
    names = [shown(file) for file in files]
    predictions = Predictions([], [])
    skipped: list[tuple[int, int, str]] = []
    inside: dict[str, bool | None] = {}  # inferenceTime text → in the window (None: the window cannot place it)

    def in_window(moment: str) -> bool | None:
        if window is None:
            return True
        if moment not in inside:
            try:
                inside[moment] = bool(window.holds(moment))
            except ValueError:
                inside[moment] = None
        return inside[moment]

    def general(index: int, line_no: int, line: str) -> None:
        try:
            found = _prediction(line + "\n", window)
        except _Malformed as why:
            skipped.append((index, line_no, str(why)))
            return
        if found is None:
            predictions.outside_window += 1
        else:
            predictions.event_ids.append(found[0])
            predictions.scores.append(found[1])

    for index, file in enumerate(files):
        check_text(file, names[index])
        for first_line, text, newlines in _blocks(file, strip_bom=True):
            if _whole_block(text, newlines, in_window, predictions):
                continue
            for offset, line in enumerate(_lines(text)):  # some line needs the general reader: line by line
                if not line.strip():
                    continue
                predictions.record_count += 1
                match = _CAPTURE.fullmatch(line)
                if match is None:
                    general(index, first_line + offset, line)
                    continue
                score, event_id, id_before, moment, id_after = match.groups()
                where = in_window(moment)
                if where is False:
                    predictions.outside_window += 1
                    continue
                value = _probability(score) if where else None
                if value is None:
                    general(index, first_line + offset, line)
                    continue
                predictions.event_ids.append(id_after or id_before or event_id)
                predictions.scores.append((value,))
    if predictions.record_count == 0:
        raise DataError(f"{shown(Path(path))} holds no captured requests; pass Data Capture files (JSON lines "
                        "with captureData)")
    _check_skipped(skipped, predictions.record_count - predictions.outside_window, names, max_skipped_share)
    predictions.skipped = [(f"{names[i]}:{n}", reason) for i, n, reason in skipped]
    return predictions


def _whole_block(text: str, newlines: int, in_window: Callable[[str], bool | None], predictions: Predictions) -> bool:
    """Add a block's records to ``predictions`` when the pattern reads every line of it (no blank line, no
    line for the general reader); False, with nothing added, when it does not."""
    matches = _CAPTURE.findall(text)
    if len(matches) != newlines + (not text.endswith("\n")):
        return False
    times = [match[3] for match in matches]
    verdicts = {moment: in_window(moment) for moment in set(times)}  # a few thousand distinct seconds
    if None in verdicts.values():  # a time the window cannot place: the general reader says why
        return False
    kept = matches if all(verdicts.values()) else list(compress(matches, [verdicts[t] for t in times]))
    try:
        values = list(map(float, [match[0] for match in kept]))
    except ValueError:  # not a number: the general reader says why
        return False
    if values and not ((array := np.array(values)) >= 0.0).all() & (array <= 1.0).all():  # NaN fails too
        return False
    predictions.record_count += len(matches)
    predictions.outside_window += len(matches) - len(kept)
    predictions.event_ids += [id_after or id_before or event_id for _, event_id, id_before, _, id_after in kept]
    predictions.scores += [(value,) for value in values]
    return True


def _probability(text: str) -> float | None:
    """The number, when the general reader would take it as a probability (else None: let it say why)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


# --- ground truth ----------------------------------------------------------------------------------


def read_ground_truth(path: str | os.PathLike, *, shown: Callable[[Path], str] = str,
                      max_skipped_share: float = MAX_SKIPPED_SHARE) -> GroundTruth:
    """:func:`ground_truth.read_ground_truth`, faster on lines in the SDK's layout (the module's rules)."""
    try:
        return _read_ground_truth(path, shown=shown, max_skipped_share=max_skipped_share)
    except _Fallback:
        return ground_truth.read_ground_truth(path, shown=shown, max_skipped_share=max_skipped_share)


def _read_ground_truth(path: str | os.PathLike, *, shown: Callable[[Path], str],
                       max_skipped_share: float) -> GroundTruth:
    files = list_files(path, missing="pass a ground-truth file or folder", shown=shown)
    ids: list[str] = []
    values: list[tuple[int, ...]] = []
    truth = GroundTruth({})
    for file in files:
        name = shown(file)
        check_text(file, name)
        for first_line, text, newlines in _blocks(file, strip_bom=True):
            matches = _TRUTH.findall(text)
            if len(matches) == newlines + (not text.endswith("\n")):
                truth.record_count += len(matches)
                ids += [event_id for _, event_id in matches]
                values += [(1,) if label == "1" else (0,) for label, _ in matches]
                continue
            for offset, line in enumerate(_lines(text)):
                if not line.strip():
                    continue
                truth.record_count += 1
                match = _TRUTH.fullmatch(line)
                if match is not None:
                    ids.append(match.group(2))
                    values.append((1,) if match.group(1) == "1" else (0,))
                    continue
                try:
                    event_id, labels = parse_record(line + "\n")
                except RecordError as error:
                    truth.skipped.append((f"{name}:{first_line + offset}", str(error)))
                    continue
                ids.append(event_id)
                values.append(labels)
    labels = dict(zip(ids, values))
    if len(labels) < len(ids):  # an id seen twice: ground_truth.collect's rules, in order
        labels = {}
        conflicting: set[str] = set()
        for event_id, given in zip(ids, values):
            if event_id in conflicting:
                continue
            if event_id in labels:
                if labels[event_id] == given:
                    truth.duplicates += 1
                else:
                    del labels[event_id]
                    conflicting.add(event_id)
                continue
            labels[event_id] = given
        truth.conflicting = sorted(conflicting)
    truth.labels = labels
    return ground_truth.checked(truth, path, shown=shown, max_skipped_share=max_skipped_share)


# --- the merge -------------------------------------------------------------------------------------


def join(event_ids: Sequence[str], scores: Sequence[Sequence[float]], truth: GroundTruth) -> Joined:
    """:func:`ground_truth.join` of ``zip(event_ids, scores)``: the first capture of an id counts, its
    predictions match when the id's labels are as many; the same accounting.

    >>> truth = ground_truth.collect([("f:1", '{"groundTruthData": {"data": "1", "encoding": "CSV"}, '
    ...                                       '"eventMetadata": {"eventId": "a"}}')])
    >>> joined = join(["a", "b", "a"], [(0.9,), (0.2,), (0.4,)], truth)
    >>> joined.scores.tolist(), joined.labels.tolist(), joined.accounting["duplicate_captures"]
    ([0.9], [1], 1)
    """
    count = len(event_ids)
    if len(set(event_ids)) < count:  # a capture written twice: only its first counts
        first = dict(zip(reversed(event_ids), range(count - 1, -1, -1)))  # id → its first index (the last write wins)
        keep = sorted(first.values())
        event_ids, scores = [event_ids[i] for i in keep], [scores[i] for i in keep]
    given = list(map(truth.labels.get, event_ids))
    sizes = np.fromiter(map(len, scores), dtype=np.int64, count=len(scores))
    labelled = np.fromiter((g is not None for g in given), dtype=bool, count=len(given))
    label_sizes = np.fromiter((len(g) if g is not None else -1 for g in given), dtype=np.int64, count=len(given))
    matched = labelled & (label_sizes == sizes)
    mask = matched.tolist()
    joined_scores = np.fromiter(chain.from_iterable(compress(scores, mask)), dtype=np.float64)
    joined_labels = np.fromiter(chain.from_iterable(compress(given, mask)), dtype=np.int64)
    return Joined(joined_scores, joined_labels, {
        "captured_requests": len(event_ids),
        "captured_predictions": int(sizes.sum()),
        "ground_truth_records": truth.record_count,
        "labelled_requests": len(truth.labels),
        "matched": len(joined_scores),
        "unmatched_predictions": int(sizes[~labelled].sum()),
        "labels_without_capture": len(truth.labels) - int(labelled.sum()),
        "duplicate_captures": count - len(event_ids),
        "duplicate_labels": truth.duplicates,
        "conflicting_labels": len(truth.conflicting),
        "label_count_mismatch": int(sizes[labelled & ~matched].sum()),
        "skipped_ground_truth": len(truth.skipped),
    })
