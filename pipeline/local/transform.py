"""Batch Transform, emulated: split, batch, filter, invoke the model's handlers, join, filter, assemble.

Semantics follow SageMaker's documentation for CSV ("Associate Prediction Results with Input Records"):
``InputFilter`` selects columns of each input record before it is sent; ``JoinSource=Input`` appends
the model's output columns to the *original* input record; ``OutputFilter`` selects columns of that
joined record. Output for ``<name>`` is written to ``<name>.out``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

MB = 1024 * 1024
_SLICE = re.compile(r"^(-?\d*):(-?\d*)$")


class TransformError(ValueError):
    """The job fails: the message says which file/record and why."""


@dataclass(frozen=True)
class ColumnFilter:
    """A JSONPath column selection on CSV records: ``$``, ``$[i]``, ``$[i:j]``, ``$[a,b,...]`` (negatives allowed)."""

    expression: str
    parts: tuple[tuple, ...]  # ("index", i) or ("slice", start, stop)

    @classmethod
    def parse(cls, expression: str | None) -> "ColumnFilter | None":
        """``None`` or ``$`` select everything (no filter).

        >>> ColumnFilter.parse("$[1:]").select(["a", "b", "c"])
        ['b', 'c']
        >>> ColumnFilter.parse("$[0,-1]").select(["a", "b", "c"])
        ['a', 'c']
        """
        if expression is None or expression.strip() == "$":
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
                    raise TransformError(f"filter {self.expression!r}: column {part[1]} does not exist in a {width}-column record")
                chosen.append(i)
            else:
                chosen.extend(range(width)[slice(part[1], part[2])])
        return chosen

    def select(self, fields: Sequence[str]) -> list[str]:
        return [fields[i] for i in self.indices(len(fields))]

    def drop_leading(self) -> int | None:
        """k when the filter is ``$[k:]`` (drop the first k columns): a fast path on raw text."""
        if len(self.parts) == 1 and self.parts[0][0] == "slice" and self.parts[0][2] is None:
            start = self.parts[0][1] or 0
            return start if start >= 0 else None
        return None


def _records(path: Path, split_type: str) -> list[bytes]:
    """The records of one input object: its lines (empty ones dropped, as the service does) or all of it.

    Records stay bytes end to end: the service passes them through without decoding.
    """
    data = path.read_bytes()
    if split_type == "None":
        return [data] if data.strip() else []
    if split_type != "Line":
        raise TransformError(f"unsupported SplitType {split_type!r}: use Line or None")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = data.split(b"\n")
    return lines if all(lines) else [line for line in lines if line]


def _batch_bounds(records: list[bytes], strategy: str, max_bytes: int, source: Path) -> tuple[list[int], np.ndarray]:
    """Start index of every request (plus the end) and the running payload size, computed in bulk."""
    if strategy not in ("MultiRecord", "SingleRecord"):
        raise TransformError(f"unsupported BatchStrategy {strategy!r}: use MultiRecord or SingleRecord")
    sizes = np.fromiter(map(len, records), dtype=np.int64, count=len(records)) + 1
    if len(sizes) and sizes.max() > max_bytes:
        number = int(np.argmax(sizes > max_bytes)) + 1
        raise TransformError(
            f"{source.name}: record {number} is {int(sizes[number - 1])} bytes, over MaxPayloadInMB ({max_bytes // MB} MB)"
        )
    cumulative = np.cumsum(sizes)
    if strategy == "SingleRecord":
        return list(range(len(records) + 1)), cumulative
    bounds = [0]
    while bounds[-1] < len(records):
        start = bounds[-1]
        sent_before = int(cumulative[start - 1]) if start else 0
        bounds.append(int(np.searchsorted(cumulative, sent_before + max_bytes, side="right")))
    return bounds, cumulative


def _split_leading(records: list[bytes], count: int, *, keep: str) -> list[bytes]:
    """The first ``count`` fields (keep="head") or everything after them (keep="tail") of each record."""
    if count == 1:
        index = 0 if keep == "head" else 2
        return [r.partition(b",")[index] for r in records]
    if keep == "head":
        return [b",".join(r.split(b",", count)[:count]) for r in records]
    return [(r.split(b",", count) + [b""])[count] for r in records]


def _apply_input_filter(records: list[bytes], column_filter: ColumnFilter | None) -> list[bytes]:
    if column_filter is None:
        return records
    k = column_filter.drop_leading()
    if k is not None:
        if k == 0:
            return records
        sent = _split_leading(records, k, keep="tail")
        if not all(sent):
            bad = next(r for r, t in zip(records, sent) if not t)
            raise TransformError(
                f"input filter {column_filter.expression!r} leaves nothing of record {bad[:80].decode(errors='replace')!r}"
            )
        return sent
    return [b",".join(column_filter.select(r.split(b","))) for r in records]


def _join_and_filter(
    records: list[bytes], outputs: list[bytes], join_source: str, column_filter: ColumnFilter | None,
    *, single_column: bool = False,
) -> list[bytes]:
    if join_source == "None":
        if column_filter is None:
            return outputs
        return [b",".join(column_filter.select(o.split(b","))) for o in outputs]
    if join_source != "Input":
        raise TransformError(f"unsupported JoinSource {join_source!r}: use Input or None")
    if column_filter is None:
        return [b",".join(pair) for pair in zip(records, outputs)]
    # Fast path for the usual "$[0,-1]": first input column + last output column.
    if column_filter.parts == (("index", 0), ("index", -1)):
        labels = _split_leading(records, 1, keep="head")
        last = outputs if single_column else [o.rpartition(b",")[2] for o in outputs]
        return [b",".join(pair) for pair in zip(labels, last)]
    return [b",".join(column_filter.select(b",".join(pair).split(b","))) for pair in zip(records, outputs)]


def transform_file(
    invoke: Callable[[bytes], bytes],
    source: Path,
    target: Path,
    *,
    split_type: str,
    batch_strategy: str,
    max_payload_mb: int,
    input_filter: ColumnFilter | None,
    join_source: str,
    output_filter: ColumnFilter | None,
    assemble_with: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Transform one input object into ``target``; returns the number of records."""
    records = _records(source, split_type)
    bounds, cumulative = _batch_bounds(records, batch_strategy, max_payload_mb * MB, source)
    separator = b"\n" if assemble_with == "Line" else b""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with open(partial, "wb") as sink:
        for start, end in zip(bounds, bounds[1:]):
            batch = records[start:end]
            sent = _apply_input_filter(batch, input_filter)
            # A Line record is sent with its line ending; SplitType=None sends the object as it is.
            body = b"\n".join(sent) + (b"\n" if split_type == "Line" else b"")
            try:
                response = invoke(body)
            except Exception as error:  # whatever the model's handlers raise is the container's error
                raise TransformError(
                    f"{source.name}: the model failed on records {start + 1}-{end} ({type(error).__name__}: {error})"
                ) from None
            outputs = response.splitlines() if len(batch) > 1 or split_type == "Line" else [response.rstrip(b"\n")]
            if len(outputs) != len(batch):
                raise TransformError(
                    f"{source.name}: the model returned {len(outputs)} predictions for {len(batch)} records"
                )
            lines = _join_and_filter(batch, outputs, join_source, output_filter, single_column=b"," not in response)
            sink.write(separator.join(lines) + separator)
            if progress:
                progress(int(cumulative[end - 1]) - (int(cumulative[start - 1]) if start else 0))
    partial.replace(target)
    return len(records)


def run_transform(
    handlers,
    input_files: Sequence[Path],
    output_dir: str | Path,
    *,
    input_root: str | Path,
    content_type: str = "text/csv",
    accept: str = "text/csv",
    split_type: str = "Line",
    batch_strategy: str = "MultiRecord",
    max_payload_mb: int = 6,
    input_filter: str | None = None,
    join_source: str = "None",
    output_filter: str | None = None,
    assemble_with: str = "Line",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Transform every input file to ``output_dir/<relative name>.out``; returns records per output file.

    ``handlers`` has ``invoke(body, content_type, accept) -> bytes`` (see model_archive.ServingHandlers).
    ``progress(done_bytes, total_bytes)`` is called as batches complete.
    """
    if not 1 <= max_payload_mb <= 100:
        raise TransformError(f"MaxPayloadInMB must be between 1 and 100, not {max_payload_mb}")
    in_filter, out_filter = ColumnFilter.parse(input_filter), ColumnFilter.parse(output_filter)
    input_root, output_dir = Path(input_root), Path(output_dir)
    total = sum(Path(f).stat().st_size for f in input_files)
    done = 0

    def advance(size: int) -> None:
        nonlocal done
        done += size
        if progress:
            progress(min(done, total), total)

    counts = {}
    for source in input_files:
        source = Path(source)
        relative = source.relative_to(input_root).as_posix()
        target = output_dir / f"{relative}.out"
        counts[f"{relative}.out"] = transform_file(
            lambda body: handlers.invoke(body, content_type, accept),
            source,
            target,
            split_type=split_type,
            batch_strategy=batch_strategy,
            max_payload_mb=max_payload_mb,
            input_filter=in_filter,
            join_source=join_source,
            output_filter=out_filter,
            assemble_with=assemble_with,
            progress=advance,
        )
    if progress:
        progress(total, total)
    return counts
