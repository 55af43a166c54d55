"""Batch Transform, emulated: every input object through the model, written whole as ``<name>.out``.

The job is a :class:`~pipeline.local.transform_spec.TransformSpec` (read from the definition). An input
file is streamed one mini-batch (at most ``MaxPayloadInMB`` of whole lines, ``records``) at a time; each
batch is filtered, sent, joined and assembled (``batch``, ``filters``) by up to MaxConcurrentTransforms
requests at once, and written in input order. A request goes to the model as the scikit-learn
container serves it (``serving``); whatever its handlers raise fails the job as the container's
HTTP 500 would. The output for an input object ``<name>`` is ``<name>.out``, never half-written.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

from pipeline.local.batch import Send, batch_function, call, reference_batch
from pipeline.local.model_archive import resolve_accept
from pipeline.local.records import MB, RecordError, RecordTooLarge, TransformError, line_batches, normalise
from pipeline.local.serving import Handlers, is_csv, request_sender
from pipeline.local.transform_spec import TransformSpec


def transform_file(
    send: Send,
    source: Path,
    target: Path,
    spec: TransformSpec,
    *,
    progress: Callable[[int], None] | None = None,
    vectorised: bool = True,
) -> int:
    """Transform one input object into ``target`` (written whole or not at all); returns the record count.

    Up to ``spec.max_concurrent_transforms`` requests are in flight at once; outputs are written in
    input order. ``progress(raw_bytes)`` is called after every request with the input bytes it
    consumed. ``vectorised=False`` forces the per-record reference path.
    """
    plan = spec.plan
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    records = 0
    try:
        with open(partial, "wb") as sink:
            if spec.split_type == "None":
                records = _whole_object(send, source, sink, spec)
                if progress:
                    progress(source.stat().st_size)
            else:
                run = batch_function(plan, spec.batch_strategy, vectorised)
                batches = line_batches(source, spec.max_payload_bytes)
                results = _in_order(lambda batch: run(batch, plan, send), batches, spec.max_concurrent_transforms)
                for (output, count), consumed in results:
                    sink.write(output)
                    records += count
                    if progress:
                        progress(consumed)
        partial.replace(target)
    except RecordError as error:
        first, last = records + error.first + 1, records + error.last + 1
        where = f"record {first}" if first == last else f"records {first}-{last}"
        raise TransformError(f"{source.name}: {where}: {error.text}") from None
    except RecordTooLarge as error:
        raise TransformError(
            f"{source.name}: record {records + 1} is {error.size} bytes, over MaxPayloadInMB "
            f"({error.max_bytes // MB} MB): too much data for max payload size; raise MaxPayloadInMB or split the record"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return records


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


def _whole_object(send: Send, source: Path, sink: BinaryIO, spec: TransformSpec) -> int:
    """SplitType=None: the object is one record, sent as it is."""
    data = source.read_bytes()
    if len(data) > spec.max_payload_bytes:
        raise TransformError(
            f"{source.name}: the object is {len(data)} bytes, over MaxPayloadInMB ({spec.max_payload_mb} MB) for "
            "SplitType=None: too much data for max payload size; use SplitType=Line or raise MaxPayloadInMB"
        )
    if not data or data.isspace():
        return 0
    if spec.plan.filtered:
        lines = normalise(data)
        if lines.count(b"\n") != 1:
            raise TransformError(
                f"{source.name}: InputFilter/JoinSource/OutputFilter on a multi-line CSV object need SplitType=Line"
            )
        sink.write(reference_batch(lines, spec.plan, send)[0])
        return 1
    response = call(send, data, 1)
    response = response.encode("utf-8") if isinstance(response, str) else bytes(response)
    if spec.assemble_with == "Line" and response and not response.endswith(b"\n"):
        response += b"\n"
    sink.write(response)
    return 1


def run_transform(
    spec: TransformSpec,
    handlers: Handlers,
    input_files: Sequence[str | Path],
    output_dir: str | Path,
    *,
    input_root: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Run the job ``spec`` on every input file, writing ``output_dir/<path relative to input_root>.out``.

    ``handlers.invoke(body, content_type, accept) -> bytes`` serves one request (see
    ``model_archive.ServingHandlers``, which maps a missing or ``*/*`` ``accept`` to its
    ``environment``'s default as the container does). ``input_root`` defaults to the input files'
    common folder. ``progress(done_bytes, total_bytes)`` is called after every request. Returns the
    number of records per output file (keyed by its name relative to ``output_dir``). With
    MaxConcurrentTransforms above 1 the handlers must be thread-safe (this project's are pure
    functions); the outputs do not depend on it.
    """
    resolved = resolve_accept(spec.accept, getattr(handlers, "environment", None))
    sender = request_sender(handlers, spec.content_type, spec.accept)
    # JoinSource=Input on a non-CSV Accept is refused after the model's answer: a container that refuses
    # that Accept (HTTP 500, what AWS reports) fails the job first, as it would there.
    join_unsupported = spec.join_source == "Input" and not is_csv(resolved)

    def send(body: bytes) -> bytes:
        response = sender(body)
        if join_unsupported:
            raise TransformError(f"JoinSource=Input is emulated for Accept text/csv only, not {resolved!r}")
        return response

    files = [Path(f) for f in input_files]
    input_root = Path(_common_folder(files) if input_root is None else input_root)
    total = sum(f.stat().st_size for f in files)
    done = 0

    def advance(size: int) -> None:
        nonlocal done
        done = min(done + size, total)
        progress(done, total)

    counts = {}
    for source in files:
        relative = source.relative_to(input_root).as_posix()
        counts[f"{relative}.out"] = transform_file(send, source, Path(output_dir) / f"{relative}.out", spec,
                                                   progress=advance if progress else None)
    if progress and done < total:
        progress(total, total)
    return counts


def _common_folder(files: Sequence[Path]) -> Path:
    if not files:
        return Path(".")
    return Path(os.path.commonpath([str(f.parent) for f in files]))
