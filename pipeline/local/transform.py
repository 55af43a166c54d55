"""Batch Transform, emulated: split, batch, filter, invoke the model's handlers, join, filter, assemble.

Semantics follow SageMaker's documentation for CSV ("Associate Prediction Results with Input Records"):
a CSV record is an array of columns; ``InputFilter`` selects columns of each record before it is sent;
``JoinSource=Input`` appends the model's output columns to the *original* input record (its text kept
verbatim); ``OutputFilter`` selects columns of that joined record. The output for an input object
``<name>`` is ``<name>.out``.

Records are streamed: an input file is read one mini-batch (at most ``MaxPayloadInMB`` of records) at a
time. For the usual shapes of filter (``$``/``$[k:]`` in, ``$``/``$[0,...,j-1,-1]`` out) a batch is
filtered and joined with numpy on its bytes, never as per-record Python objects; every other filter
goes through the per-record reference path (``_generic_batch``), which the fast path is tested against.
Choices where AWS documents nothing: blank lines are not records (dropped); line endings ``\\r\\n`` and
``\\r`` become ``\\n``; a batch is bounded by the raw size of its input lines (before the input filter,
which only shrinks it); the number of output lines must equal the number of records sent.

Each request goes to the model as the SageMaker scikit-learn 1.9-0 container serves it. Read from its code
(aws/sagemaker-scikit-learn-container, whose requirements.txt pins sagemaker-containers 2.8.6.post2,
sagemaker-inference 1.5.5 and Flask 3.1.3; aws/sagemaker-containers at v2.8.6.post2), and checked by
running that code's ``_worker.Worker`` and ``_transformer.Transformer`` under Flask's test client:

- Who serves: ``sagemaker_sklearn_container.serving.serving_entrypoint`` starts gunicorn on
  ``serving.main``, a sagemaker-containers ``_worker.Worker`` whose /invocations view is
  ``_transformer.Transformer.transform``. sagemaker-inference (``handler_service.HandlerService`` under
  Multi Model Server) serves only when SAGEMAKER_MULTI_MODEL is set, which our single-model
  CreateModel and Batch Transform never set.
- Accept (``_worker.Request.accept``): a missing, empty or exactly ``*/*`` header becomes
  ``_env.ServingEnv.default_accept`` = the environment variable SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, or
  ``application/json`` when it is unset. Anything else reaches ``output_fn`` verbatim: no negotiation,
  so lists (``text/csv, application/json``), parameters (``text/csv; charset=utf-8``) and ``*/*;q=0.8``
  are for output_fn to read (``model_archive.resolve_accept``).
- Content type (``_worker.Request.content_type``): the ``ContentType`` or ``Content-Type`` header, else
  ``application/json``; the body is a UTF-8 str when that is exactly text/csv or application/json,
  else bytes (our input_fn takes both).
- Response (``_transformer.Transformer.transform``): a ``(body, content_type)`` tuple from output_fn
  becomes ``_worker.Response(response=body, mimetype=content_type)``; a bare str or bytes is returned
  to Flask as it is and goes out as ``text/html``. Werkzeug appends ``; charset=utf-8`` to text types,
  so our ``(body, "text/csv")`` is sent as ``text/csv; charset=utf-8`` (``model_archive.response_of``).
- Errors: ``serving._user_module_transformer`` always passes input_fn/predict_fn/output_fn (the user's or
  sklearn's defaults), and ``Transformer.__init__`` wraps each in ``_functions.error_wrapper(fn,
  ClientError)``, so whatever they raise, UnsupportedFormatError included, is a ClientError: the 415
  (input_fn) and 406 (output_fn) answers of ``_default_transform_fn`` never happen in this container.
  The error leaves the Flask view: HTTP 500, werkzeug's HTML "Internal Server Error" page
  (``ModelServerError`` here). InvokeEndpoint relays that as ModelError; a transform job fails.
- Batch Transform sends ``TransformInput.ContentType`` and ``TransformOutput.Accept`` "with each http
  call" (the API reference): they are the request's Content-Type and Accept. Choice where AWS documents
  nothing: a job without ``TransformOutput.Accept`` sends no Accept, so the model's default applies.
"""
from __future__ import annotations

import os
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from pipeline.local.model_archive import CONTAINER_DEFAULT_ACCEPT, DEFAULT_ACCEPT_VARIABLE, resolve_accept

MB = 1024 * 1024
SPLIT_TYPES = ("Line", "None")
BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
JOIN_SOURCES = ("None", "Input")
ASSEMBLE_WITH = ("Line", "None")
_SLICE = re.compile(r"^(-?\d*):(-?\d*)$")
_COMMA, _NEWLINE = 44, 10
_SCAN_LIMIT = 32  # per-byte vectorised steps when looking for a comma before falling back to a full scan


class TransformError(ValueError):
    """The job fails: the message says which file/record and why."""


class Handlers(Protocol):
    """``model_archive.ServingHandlers`` or a stand-in; ``environment`` (optional) is the model's Environment."""

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> bytes: ...


class ModelServerError(Exception):
    """The model container answered HTTP 500: a handler raised (its error, on one line, and the fix)."""

    status = 500

    def __init__(self, error: BaseException, note: str = "") -> None:
        message = (str(error).strip().splitlines() or [""])[0]
        super().__init__(f"the model container answered HTTP 500 ({type(error).__name__}: {message}){note}")


def accept_note(accept: str | None, environment: Mapping[str, str] | None) -> str:
    """Why output_fn got a non-CSV Accept although the request named none (or ``*/*``), and the fix; else "".

    >>> accept_note(None, {})
    "; no Accept means SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, unset: the container's default 'application/json'; \
set SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv in the model's Environment (steps/model.py SERVING_ENV) or ask \
for Accept text/csv"
    >>> accept_note("*/*", {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}), accept_note("application/json", {})
    ('', '')
    """
    environment = environment or {}
    resolved = resolve_accept(accept, environment)
    if accept not in (None, "", "*/*") or _is_csv(resolved):
        return ""  # a named Accept is in output_fn's own message; text/csv is what our output_fn writes
    if DEFAULT_ACCEPT_VARIABLE in environment:
        source = f"the model's {DEFAULT_ACCEPT_VARIABLE}={resolved!r}"
    else:
        source = f"{DEFAULT_ACCEPT_VARIABLE}, unset: the container's default {CONTAINER_DEFAULT_ACCEPT!r}"
    return (f"; {'no Accept' if not accept else 'Accept */*'} means {source}; set {DEFAULT_ACCEPT_VARIABLE}=text/csv "
            "in the model's Environment (steps/model.py SERVING_ENV) or ask for Accept text/csv")


# --- JSONPath column filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFilter:
    """A JSONPath selection of CSV columns: ``$``, ``$[i]``, ``$[i:j]``, ``$[i:]``, ``$[:j]``, ``$[a,b,...]``.

    Indices may be negative (from the end) and items may be mixed (``$[0,3:5,-1]``), as in SageMaker.

    >>> ColumnFilter.parse("$[1:]").select(["a", "b", "c"])
    ['b', 'c']
    >>> ColumnFilter.parse("$[0,-1]").select(["a", "b", "c"])
    ['a', 'c']
    >>> ColumnFilter.parse("$[-2:]").select(["a", "b", "c"])
    ['b', 'c']
    """

    expression: str
    parts: tuple[tuple, ...]  # ("index", i) or ("slice", start, stop)

    @classmethod
    def parse(cls, expression: str | None) -> "ColumnFilter | None":
        """``None``, ``""`` or ``$`` select everything: no filter."""
        if expression is None or expression.strip() in ("", "$"):
            return None
        text = expression.replace(" ", "")
        if not (text.startswith("$[") and text.endswith("]")) or len(text) < 4:
            raise TransformError(f"unsupported filter {expression!r}: use $, $[i], $[i:j] or $[a,b,...] on CSV")
        parts = []
        for item in text[2:-1].split(","):
            if re.fullmatch(r"-?\d+", item):
                parts.append(("index", int(item)))
            elif (match := _SLICE.match(item)) is not None:
                start, stop = (int(g) if g else None for g in match.groups())
                parts.append(("slice", start, stop))
            else:
                raise TransformError(f"unsupported filter {expression!r}: cannot read {item!r}")
        return cls(expression, tuple(parts))

    def indices(self, width: int) -> list[int]:
        """Column positions selected from a record of ``width`` columns."""
        chosen = []
        for part in self.parts:
            if part[0] == "index":
                i = part[1] + width if part[1] < 0 else part[1]
                if not 0 <= i < width:
                    raise TransformError(
                        f"filter {self.expression!r}: column {part[1]} does not exist in a {width}-column record"
                    )
                chosen.append(i)
            else:
                chosen.extend(range(width)[slice(part[1], part[2])])
        return chosen

    def select(self, fields: Sequence) -> list:
        return [fields[i] for i in self.indices(len(fields))]

    def drop_leading(self) -> int | None:
        """k when the filter is ``$[k:]`` with k >= 0 (drop the first k columns), else None.

        >>> ColumnFilter.parse("$[2:]").drop_leading(), ColumnFilter.parse("$[0,2]").drop_leading()
        (2, None)
        """
        if len(self.parts) == 1 and self.parts[0][0] == "slice" and self.parts[0][2] is None:
            start = self.parts[0][1] or 0
            return start if start >= 0 else None
        return None

    def leading_then_last(self) -> int | None:
        """j when the filter is columns ``0..j-1`` then ``-1`` (e.g. ``$[0,-1]``, ``$[0:2,-1]``), else None.

        >>> ColumnFilter.parse("$[0,-1]").leading_then_last(), ColumnFilter.parse("$[0,1,-1]").leading_then_last()
        (1, 2)
        >>> ColumnFilter.parse("$[1,-1]").leading_then_last() is None
        True
        """
        *head, last = self.parts
        if last != ("index", -1):
            return None
        expected = 0
        for part in head:
            if part[0] == "index" and part[1] == expected:
                expected += 1
            elif part[0] == "slice" and (part[1] or 0) == expected and part[2] is not None and part[2] > expected:
                expected = part[2]
            else:
                return None
        return expected if expected > 0 else None


# --- reading records -------------------------------------------------------------------------------------


def _normalise(chunk: bytes) -> bytes:
    """``\\n`` line endings, no blank lines, ending with ``\\n`` (or empty)."""
    if b"\r" in chunk:
        chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if chunk.startswith(b"\n") or b"\n\n" in chunk:
        chunk = re.sub(rb"\n\n+", b"\n", chunk).lstrip(b"\n")
    if chunk and not chunk.endswith(b"\n"):
        chunk += b"\n"
    return chunk


class _RecordTooLarge(Exception):
    """The record after every batch read so far exceeds MaxPayloadInMB."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(size)
        self.size, self.max_bytes = size, max_bytes


def _line_batches(path: Path, max_bytes: int) -> Iterator[tuple[bytes | _RecordTooLarge, int]]:
    """Greedy batches of whole lines whose raw size (line endings included) is at most ``max_bytes``.

    Yields ``(raw batch, its size)``; reads ``max_bytes`` at a time, so memory stays bounded whatever
    the size of the file. A record over the limit ends the stream with ``(_RecordTooLarge, 0)``, so
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
                yield _RecordTooLarge(size + 1, max_bytes), 0
                return
            yield bytes(view[:cut]), cut
            buffer[:filled - cut] = bytes(view[cut:filled])  # a copy: the two ranges may overlap
            filled -= cut


# --- one mini-batch: the vectorised path and the per-record reference path --------------------------------


@dataclass(frozen=True)
class _Plan:
    input_filter: ColumnFilter | None
    join_source: str
    output_filter: ColumnFilter | None
    assemble_with: str
    drop: int | None  # input filter as "drop the first k columns" (0: no filter), None: not that shape
    prefix: int | None  # with JoinSource=Input: keep input columns 0..j-1 (-1: the whole line)
    last_only: bool  # ...then only the last output column (else every output column)

    @classmethod
    def make(cls, input_filter, join_source, output_filter, assemble_with) -> "_Plan":
        drop = 0 if input_filter is None else input_filter.drop_leading()
        prefix, last_only = None, False
        if join_source == "Input":
            if output_filter is None:
                prefix = -1
            elif (j := output_filter.leading_then_last()) is not None:
                prefix, last_only = j, True
        return cls(input_filter, join_source, output_filter, assemble_with, drop, prefix, last_only)

    @property
    def vectorised(self) -> bool:
        shaped_output = (self.join_source == "None" and self.output_filter is None) or self.prefix is not None
        return self.drop is not None and shaped_output and self.assemble_with == "Line"


def _split_response(response: bytes | str) -> bytes:
    """The response with ``\\n`` line endings, ending with one (or empty)."""
    if isinstance(response, str):
        response = response.encode("utf-8")
    response = bytes(response)
    if b"\r" in response:
        response = response.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if response and not response.endswith(b"\n"):
        response += b"\n"
    return response


class _RecordError(Exception):
    """A failure at records ``first..last`` of a batch (0-based); the caller adds file and offset."""

    def __init__(self, first: int, last: int, text: str) -> None:
        super().__init__(text)
        self.first, self.last, self.text = first, last, text


def _check_count(got: int, sent: int) -> None:
    if got != sent:
        raise _RecordError(0, sent - 1, f"the model returned {got} predictions for {sent} records")


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


def _line_ends(batch: bytes) -> tuple[bytes, np.ndarray]:
    """The batch with ``\\n`` line endings and no blank lines, and the position of every ``\\n``."""
    if b"\r" in batch:
        batch = batch.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not batch.endswith(b"\n"):
        batch += b"\n"
    ends = np.flatnonzero(np.frombuffer(batch, dtype=np.uint8) == _NEWLINE)
    if len(ends) and (ends[0] == 0 or (np.diff(ends) == 1).any()):  # blank lines (rare): drop them and look again
        batch = _normalise(batch)
        ends = np.flatnonzero(np.frombuffer(batch, dtype=np.uint8) == _NEWLINE)
    return batch, ends


def _fast_batch(batch: bytes, plan: _Plan, invoke: Callable[[bytes], bytes]) -> tuple[bytes, int]:
    """Filter, invoke and join one batch of lines on its bytes with numpy; returns (output, records)."""
    batch, ends = _line_ends(batch)
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
            raise _RecordError(bad, bad, _nothing_left(plan.input_filter, batch[starts[bad]:ends[bad]]))
        keep = np.ones(len(arr), dtype=bool)
        keep[_spans(starts, cut + 1 - starts)] = False
        body = arr[keep].tobytes()
    else:
        body = batch
    response = _split_response(_call(invoke, body, n))
    resp = np.frombuffer(response, dtype=np.uint8)
    resp_ends = np.flatnonzero(resp == _NEWLINE)
    _check_count(len(resp_ends), n)
    if plan.prefix is None:  # JoinSource=None, no output filter: the response is the output
        return response, n
    if plan.last_only and b"," in response:  # several output columns: pick the last one record by record
        return _generic_join(batch.split(b"\n")[:-1], response.split(b"\n")[:-1], plan), n
    if plan.prefix > 0:
        stop = commas[plan.prefix - 1]
        if (stop < 0).any():  # a record with only the columns the output keeps: no comma to copy
            return _generic_join(batch.split(b"\n")[:-1], response.split(b"\n")[:-1], plan), n
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


def _nothing_left(column_filter: ColumnFilter, record: bytes) -> str:
    return (f"input filter {column_filter.expression!r} leaves nothing of record "
            f"{record[:80].decode(errors='replace')!r}")


def _call(invoke: Callable[[bytes], bytes], body: bytes, records: int) -> bytes:
    try:
        return invoke(body)
    except TransformError:
        raise
    except ModelServerError as error:
        raise _RecordError(0, records - 1, str(error)) from None
    except Exception as error:  # whatever the model's handlers raise, the container answers HTTP 500
        raise _RecordError(0, records - 1, str(ModelServerError(error))) from None


def _filter_input(records: list[bytes], column_filter: ColumnFilter | None) -> list[bytes]:
    if column_filter is None:
        return records
    sent = []
    for number, record in enumerate(records):
        try:
            chosen = column_filter.select(record.split(b","))
        except TransformError as error:
            raise _RecordError(number, number, str(error)) from None
        if not chosen:
            raise _RecordError(number, number, _nothing_left(column_filter, record))
        sent.append(b",".join(chosen))
    return sent


def _generic_join(records: list[bytes], outputs: list[bytes], plan: _Plan) -> bytes:
    """Join (JoinSource) and filter (OutputFilter) record by record, then assemble (AssembleWith)."""
    if plan.join_source == "Input":
        joined = [record + b"," + output for record, output in zip(records, outputs)]
    else:
        joined = outputs
    if plan.output_filter is not None:
        selected = []
        for number, line in enumerate(joined):
            try:
                selected.append(b",".join(plan.output_filter.select(line.split(b","))))
            except TransformError as error:
                raise _RecordError(number, number, f"output {error}") from None
        joined = selected
    separator = b"\n" if plan.assemble_with == "Line" else b""
    return separator.join(joined) + separator if joined else b""


def _generic_batch(batch: bytes, plan: _Plan, invoke: Callable[[bytes], bytes]) -> tuple[bytes, int]:
    """The reference path: one batch of lines, record by record; returns (output, records)."""
    records = _normalise(batch).split(b"\n")[:-1]
    if not records:
        return b"", 0
    sent = _filter_input(records, plan.input_filter)
    response = _split_response(_call(invoke, b"\n".join(sent) + b"\n", len(records)))
    outputs = response.split(b"\n")[:-1]
    _check_count(len(outputs), len(records))
    return _generic_join(records, outputs, plan), len(records)


# --- one input object ------------------------------------------------------------------------------------


def transform_file(
    invoke: Callable[[bytes], bytes],
    source: Path,
    target: Path,
    *,
    split_type: str = "Line",
    batch_strategy: str = "MultiRecord",
    max_payload_mb: int = 6,
    input_filter: ColumnFilter | None = None,
    join_source: str = "None",
    output_filter: ColumnFilter | None = None,
    assemble_with: str = "Line",
    progress: Callable[[int], None] | None = None,
    max_concurrent: int = 1,
    vectorised: bool = True,
) -> int:
    """Transform one input object into ``target`` (written whole or not at all); returns the record count.

    Up to ``max_concurrent`` requests are in flight at once (MaxConcurrentTransforms); outputs are
    written in input order. ``progress(raw_bytes)`` is called after every request with the input
    bytes it consumed. ``vectorised=False`` forces the per-record reference path.
    """
    plan = _Plan.make(input_filter, join_source, output_filter, assemble_with)
    max_bytes = max_payload_mb * MB
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    records = 0
    try:
        with open(partial, "wb") as sink:
            if split_type == "None":
                records = _whole_object(invoke, source, sink, plan, max_bytes)
                if progress:
                    progress(source.stat().st_size)
            else:
                if batch_strategy == "SingleRecord":
                    run = _single_records
                elif vectorised and plan.vectorised:
                    run = _fast_batch
                else:
                    run = _generic_batch
                batches = _line_batches(source, max_bytes)
                for (output, count), consumed in _in_order(lambda b: run(b, plan, invoke), batches, max_concurrent):
                    sink.write(output)
                    records += count
                    if progress:
                        progress(consumed)
        partial.replace(target)
    except _RecordError as error:
        first, last = records + error.first + 1, records + error.last + 1
        where = f"record {first}" if first == last else f"records {first}-{last}"
        raise TransformError(f"{source.name}: {where}: {error.text}") from None
    except _RecordTooLarge as error:
        raise TransformError(
            f"{source.name}: record {records + 1} is {error.size} bytes, over MaxPayloadInMB "
            f"({error.max_bytes // MB} MB): too much data for max payload size; raise MaxPayloadInMB or split the record"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return records


def _single_records(batch: bytes, plan: _Plan, invoke: Callable[[bytes], bytes]) -> tuple[bytes, int]:
    """BatchStrategy=SingleRecord: one request per record."""
    outputs, count = [], 0
    for record in _normalise(batch).split(b"\n")[:-1]:
        try:
            output, _ = _generic_batch(record + b"\n", plan, invoke)
        except _RecordError as error:
            raise _RecordError(count, count, error.text) from None
        outputs.append(output)
        count += 1
    return b"".join(outputs), count


def _in_order(work: Callable[[bytes], tuple[bytes, int]], batches: Iterator[tuple[bytes | Exception, int]],
              workers: int) -> Iterator[tuple[tuple[bytes, int], int]]:
    """``(work(batch), size)`` for every batch, in order, with up to ``workers`` running at once.

    Parsing, prediction and the numpy work of a request mostly release the GIL, so threads overlap the
    way the container's workers do; at most ``2 * workers`` batches are held in memory. A batch that
    is an exception is raised when its turn comes.
    """

    def start(batch):
        if isinstance(batch, Exception) or not batch or batch.isspace():
            return batch
        return pool.submit(work, batch) if pool else work(batch)

    def finish(started):
        if isinstance(started, Exception):
            raise started
        if isinstance(started, bytes):  # a blank batch
            return b"", 0
        return started.result() if pool else started

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="transform") if workers > 1 else None
    pending: deque = deque()
    try:
        for batch, size in batches:
            pending.append((start(batch), size))
            while len(pending) > (2 * workers if pool else 0):
                started, done_size = pending.popleft()
                yield finish(started), done_size
        while pending:
            started, done_size = pending.popleft()
            yield finish(started), done_size
    finally:
        if pool:
            for started, _ in pending:
                if hasattr(started, "cancel"):
                    started.cancel()
            pool.shutdown(wait=True)


def _whole_object(invoke, source: Path, sink, plan: _Plan, max_bytes: int) -> int:
    """SplitType=None: the object is one record, sent as it is."""
    data = source.read_bytes()
    if len(data) > max_bytes:
        raise TransformError(
            f"{source.name}: the object is {len(data)} bytes, over MaxPayloadInMB ({max_bytes // MB} MB) for "
            "SplitType=None: too much data for max payload size; use SplitType=Line or raise MaxPayloadInMB"
        )
    if not data or data.isspace():
        return 0
    filtered = plan.input_filter is not None or plan.join_source != "None" or plan.output_filter is not None
    if filtered:
        lines = _normalise(data)
        if lines.count(b"\n") != 1:
            raise TransformError(
                f"{source.name}: InputFilter/JoinSource/OutputFilter on a multi-line CSV object need SplitType=Line"
            )
        sink.write(_generic_batch(lines, plan, invoke)[0])
        return 1
    response = _call(invoke, data, 1)
    response = response.encode("utf-8") if isinstance(response, str) else bytes(response)
    if plan.assemble_with == "Line" and response and not response.endswith(b"\n"):
        response += b"\n"
    sink.write(response)
    return 1


# --- the job ---------------------------------------------------------------------------------------------


def _check_options(split_type, batch_strategy, max_payload_mb, join_source, assemble_with, content_type,
                   filtered: bool) -> None:
    for name, value, allowed in (
        ("SplitType", split_type, SPLIT_TYPES),
        ("BatchStrategy", batch_strategy, BATCH_STRATEGIES),
        ("JoinSource", join_source, JOIN_SOURCES),
        ("AssembleWith", assemble_with, ASSEMBLE_WITH),
    ):
        if value not in allowed:
            raise TransformError(f"unsupported {name} {value!r}: use {' or '.join(allowed)}")
    if isinstance(max_payload_mb, bool) or not isinstance(max_payload_mb, int) or not 1 <= max_payload_mb <= 100:
        raise TransformError(f"MaxPayloadInMB must be between 1 and 100, not {max_payload_mb!r}")
    if filtered and content_type.split(";")[0].strip() != "text/csv":
        raise TransformError(f"InputFilter/JoinSource/OutputFilter are emulated for text/csv only, not {content_type!r}")


def _is_csv(media_type: str) -> bool:
    return media_type.split(";")[0].strip().lower() == "text/csv"


def run_transform(
    handlers: Handlers,
    input_files: Sequence[str | Path],
    output_dir: str | Path,
    *,
    input_root: str | Path | None = None,
    content_type: str = "text/csv",
    accept: str | None = "text/csv",
    split_type: str = "Line",
    batch_strategy: str = "MultiRecord",
    max_payload_mb: int = 6,
    input_filter: str | None = None,
    join_source: str = "None",
    output_filter: str | None = None,
    assemble_with: str = "Line",
    progress: Callable[[int, int], None] | None = None,
    max_concurrent_transforms: int | None = None,
) -> dict[str, int]:
    """Transform every input file to ``output_dir/<path relative to input_root>.out``.

    ``handlers.invoke(body, content_type, accept) -> bytes`` serves one request (see
    ``model_archive.ServingHandlers``, which maps a missing or ``*/*`` ``accept`` to its
    ``environment``'s default as the container does); whatever it raises fails the job as the
    container's HTTP 500 would. ``input_root`` defaults to the input files' common folder.
    ``progress(done_bytes, total_bytes)`` is called after every request. Returns the number of records
    per output file (keyed by its name relative to ``output_dir``). ``max_concurrent_transforms``
    requests run at once (default: the CPU count, at most 4); outputs do not depend on it, but the
    handlers must then be thread-safe (the serving handlers of this project are pure functions).
    """
    in_filter, out_filter = ColumnFilter.parse(input_filter), ColumnFilter.parse(output_filter)
    filtered = in_filter is not None or out_filter is not None or join_source == "Input"
    environment = getattr(handlers, "environment", None)
    resolved = resolve_accept(accept, environment)
    _check_options(split_type, batch_strategy, max_payload_mb, join_source, assemble_with, content_type, filtered)
    # JoinSource=Input on a non-CSV Accept is refused after the model's answer: a container that refuses
    # that Accept (HTTP 500, what AWS reports) fails the job first, as it would there.
    join_unsupported = join_source == "Input" and not _is_csv(resolved)
    note = accept_note(accept, environment)

    def invoke(body: bytes) -> bytes:
        try:
            response = handlers.invoke(body, content_type, accept)
        except Exception as error:  # any handler's error is the container's HTTP 500
            raise ModelServerError(error, note) from None
        if join_unsupported:
            raise TransformError(f"JoinSource=Input is emulated for Accept text/csv only, not {resolved!r}")
        return response

    files = [Path(f) for f in input_files]
    if input_root is None:
        input_root = _common_folder(files)
    input_root, output_dir = Path(input_root), Path(output_dir)
    if max_concurrent_transforms is None:
        max_concurrent_transforms = min(os.cpu_count() or 1, 4)
    if isinstance(max_concurrent_transforms, bool) or not isinstance(max_concurrent_transforms, int) \
            or max_concurrent_transforms < 1:
        raise TransformError(f"MaxConcurrentTransforms must be a positive integer, not {max_concurrent_transforms!r}")
    total = sum(f.stat().st_size for f in files)
    done = 0

    def advance(size: int) -> None:
        nonlocal done
        done = min(done + size, total)
        progress(done, total)

    counts = {}
    for source in files:
        relative = source.relative_to(input_root).as_posix()
        counts[f"{relative}.out"] = transform_file(
            invoke,
            source,
            output_dir / f"{relative}.out",
            split_type=split_type,
            batch_strategy=batch_strategy,
            max_payload_mb=max_payload_mb,
            input_filter=in_filter,
            join_source=join_source,
            output_filter=out_filter,
            assemble_with=assemble_with,
            progress=advance if progress else None,
            max_concurrent=max_concurrent_transforms,
        )
    if progress and done < total:
        progress(total, total)
    return counts


def _common_folder(files: Sequence[Path]) -> Path:
    if not files:
        return Path(".")
    return Path(os.path.commonpath([str(f.parent) for f in files]))
