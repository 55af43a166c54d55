"""One mini-batch of records through the model, filtered, joined and assembled: ``(output, records)``.

For the usual shapes of filter (``$``/``$[k:]`` in, ``$``/``$[0,...,j-1,-1]`` out) a batch is filtered
and joined with numpy on its bytes (:func:`fast_batch`), never as per-record Python objects; every other
filter goes through the per-record reference path (:func:`reference_batch`), which the fast path is
tested against byte for byte. Each function takes the batch's raw lines, the plan and ``send(body)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from pipeline.local.filters import BatchPlan, filter_input, join_outputs, nothing_left
from pipeline.local.records import (NEWLINE, RecordError, TransformError, check_count, line_ends,
                                    normalise_response, records_of)
from pipeline.local.serving import ModelServerError

Send = Callable[[bytes], bytes]
BatchFunction = Callable[[bytes, BatchPlan, Send], tuple[bytes, int]]
_COMMA = 44  # b","
_SCAN_LIMIT = 32  # per-byte vectorised steps when looking for a comma before falling back to a full scan


def call(send: Send, body: bytes, records: int) -> bytes:
    """The model's answer to one request of ``records`` records; its failure names them all."""
    try:
        return send(body)
    except TransformError:
        raise
    except ModelServerError as error:
        raise RecordError(0, records - 1, str(error)) from None
    except Exception as error:  # whatever the model's handlers raise, the container answers HTTP 500
        raise RecordError(0, records - 1, str(ModelServerError(error))) from None


def reference_batch(batch: bytes, plan: BatchPlan, send: Send) -> tuple[bytes, int]:
    """The reference path: one batch of lines, record by record."""
    records = records_of(batch)
    if not records:
        return b"", 0
    sent = filter_input(records, plan.input_filter)
    response = normalise_response(call(send, b"\n".join(sent) + b"\n", len(records)))
    outputs = response.split(b"\n")[:-1]
    check_count(len(outputs), len(records))
    return join_outputs(records, outputs, plan), len(records)


def single_records(batch: bytes, plan: BatchPlan, send: Send) -> tuple[bytes, int]:
    """BatchStrategy=SingleRecord: one request per record."""
    outputs, count = [], 0
    for record in records_of(batch):
        try:
            output, _ = reference_batch(record + b"\n", plan, send)
        except RecordError as error:
            raise RecordError(count, count, error.text) from None
        outputs.append(output)
        count += 1
    return b"".join(outputs), count


def _nth_commas(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, count: int) -> list[np.ndarray]:
    """Positions of the 1st..``count``-th comma of every line (-1 where the line has fewer)."""
    found, position = [], starts.copy()
    comma_positions = None
    for _ in range(count):
        result = np.full(len(starts), -1, dtype=np.int64)
        todo = np.flatnonzero(position < ends)
        cursor = position[todo]
        # Leading fields (labels, ids) are short: advance every line one byte at a time for a few steps.
        for _step in range(_SCAN_LIMIT):
            if not len(todo):
                break
            hit = arr[cursor] == _COMMA
            result[todo[hit]] = cursor[hit]
            todo, cursor = todo[~hit], cursor[~hit] + 1
            alive = cursor < ends[todo]
            todo, cursor = todo[alive], cursor[alive]
        if len(todo):  # long fields: look the rest up among all the batch's commas
            if comma_positions is None:
                comma_positions = np.flatnonzero(arr == _COMMA)
            at = np.searchsorted(comma_positions, cursor)
            candidate = comma_positions[np.minimum(at, len(comma_positions) - 1)] if len(comma_positions) else cursor
            ok = (at < len(comma_positions)) & (candidate < ends[todo])
            result[todo[ok]] = candidate[ok]
        found.append(result)
        position = np.where(result >= 0, result + 1, ends)
    return found


def _spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Every position in ``[starts[i], starts[i] + lengths[i])``, in order."""
    total = int(lengths.sum())
    before = np.cumsum(lengths) - lengths
    return np.repeat(starts - before, lengths) + np.arange(total, dtype=np.int64)


def fast_batch(batch: bytes, plan: BatchPlan, send: Send) -> tuple[bytes, int]:
    """Filter, send and join one batch of lines on its bytes with numpy (``plan.vectorised`` plans only)."""
    batch, ends = line_ends(batch)
    arr = np.frombuffer(batch, dtype=np.uint8)
    n = len(ends)
    if not n:
        return b"", 0
    starts = np.empty(n, dtype=np.int64)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    need = max(plan.drop, plan.prefix if plan.prefix and plan.prefix > 0 else 0)
    commas = _nth_commas(arr, starts, ends, need) if need else []
    if plan.drop:
        cut = commas[plan.drop - 1]
        if (cut < 0).any():
            bad = int(np.argmax(cut < 0))
            raise RecordError(bad, bad, nothing_left(plan.input_filter, batch[starts[bad]:ends[bad]]))
        keep = np.ones(len(arr), dtype=bool)
        keep[_spans(starts, cut + 1 - starts)] = False
        body = arr[keep].tobytes()
    else:
        body = batch
    response = normalise_response(call(send, body, n))
    resp = np.frombuffer(response, dtype=np.uint8)
    resp_ends = np.flatnonzero(resp == NEWLINE)
    check_count(len(resp_ends), n)
    if plan.prefix is None:  # JoinSource=None, no output filter: the response is the output
        return response, n
    if plan.last_only and b"," in response:  # several output columns: pick the last one record by record
        return join_outputs(batch.split(b"\n")[:-1], response.split(b"\n")[:-1], plan), n
    if plan.prefix > 0:
        stop = commas[plan.prefix - 1]
        if (stop < 0).any():  # a record with only the columns the output keeps: no comma to copy
            return join_outputs(batch.split(b"\n")[:-1], response.split(b"\n")[:-1], plan), n
        prefix_len = stop + 1 - starts  # the kept columns and the comma after them
    else:
        prefix_len = ends + 1 - starts  # the whole line; its newline becomes the joining comma
    # Output line i = input bytes [starts[i], starts[i] + prefix_len[i]) then response line i.
    resp_starts = np.empty(n, dtype=np.int64)
    resp_starts[:1] = 0
    resp_starts[1:] = resp_ends[:-1] + 1
    line_len = prefix_len + (resp_ends + 1 - resp_starts)
    out_starts = np.cumsum(line_len) - line_len
    out = np.empty(int(line_len.sum()), dtype=np.uint8)
    from_input = np.zeros(len(out), dtype=bool)
    target = _spans(out_starts, prefix_len)
    from_input[target] = True
    out[target] = arr[_spans(starts, prefix_len)]
    out[~from_input] = resp
    if plan.prefix < 0:
        out[out_starts + prefix_len - 1] = _COMMA
    return out.tobytes(), n


def batch_function(plan: BatchPlan, batch_strategy: str, vectorised: bool = True) -> BatchFunction:
    """The path for a job's batches: one request per record, the numpy path, or the reference path."""
    if batch_strategy == "SingleRecord":
        return single_records
    return fast_batch if vectorised and plan.vectorised else reference_batch
