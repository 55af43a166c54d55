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
from typing import Callable, Iterable, Iterator, Sequence

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


def _records(path: Path, split_type: str) -> Iterator[str]:
    data = path.read_bytes().decode("utf-8")
    if split_type == "None":
        if data.strip():
            yield data
        return
    if split_type != "Line":
        raise TransformError(f"unsupported SplitType {split_type!r}: use Line or None")
    for line in data.splitlines():
        if line.strip():  # the service does not send empty records
            yield line


def _batches(records: Iterable[str], strategy: str, max_bytes: int, source: Path) -> Iterator[list[str]]:
    if strategy not in ("MultiRecord", "SingleRecord"):
        raise TransformError(f"unsupported BatchStrategy {strategy!r}: use MultiRecord or SingleRecord")
    batch: list[str] = []
    size = 0
    for number, record in enumerate(records, start=1):
        length = len(record) + 1
        if length > max_bytes:
            raise TransformError(
                f"{source.name}: record {number} is {length} bytes, over MaxPayloadInMB ({max_bytes // MB} MB)"
            )
        if batch and (strategy == "SingleRecord" or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += length
    if batch:
        yield batch


def _apply_input_filter(records: list[str], column_filter: ColumnFilter | None) -> list[str]:
    if column_filter is None:
        return records
    k = column_filter.drop_leading()
    if k is not None:
        if k == 0:
            return records
        out = []
        for record in records:
            parts = record.split(",", k)
            if len(parts) <= k:
                raise TransformError(f"input filter {column_filter.expression!r} leaves nothing of record {record[:80]!r}")
            out.append(parts[k])
        return out
    return [",".join(column_filter.select(r.split(","))) for r in records]


def _join_and_filter(
    records: list[str], outputs: list[str], join_source: str, column_filter: ColumnFilter | None
) -> list[str]:
    if join_source == "None":
        joined_records = outputs
        if column_filter is None:
            return joined_records
        return [",".join(column_filter.select(r.split(","))) for r in joined_records]
    if join_source != "Input":
        raise TransformError(f"unsupported JoinSource {join_source!r}: use Input or None")
    if column_filter is None:
        return [f"{r},{o}" for r, o in zip(records, outputs)]
    # Fast path for the usual "$[0,-1]": first input column + last output column.
    if column_filter.parts == (("index", 0), ("index", -1)):
        return [f"{r.split(',', 1)[0]},{o.rsplit(',', 1)[-1]}" for r, o in zip(records, outputs)]
    return [",".join(column_filter.select(f"{r},{o}".split(","))) for r, o in zip(records, outputs)]


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
    count = 0
    separator = "\n" if assemble_with == "Line" else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with open(partial, "w", encoding="utf-8", newline="") as sink:
        for batch in _batches(_records(source, split_type), batch_strategy, max_payload_mb * MB, source):
            sent = _apply_input_filter(batch, input_filter)
            # A Line record is sent with its line ending; SplitType=None sends the object as it is.
            body = ("\n".join(sent) + ("\n" if split_type == "Line" else "")).encode("utf-8")
            try:
                response = invoke(body).decode("utf-8")
            except Exception as error:  # whatever the model's handlers raise is the container's error
                raise TransformError(
                    f"{source.name}: the model failed on records {count + 1}-{count + len(batch)} "
                    f"({type(error).__name__}: {error})"
                ) from None
            outputs = response.splitlines() if len(batch) > 1 or split_type == "Line" else [response.rstrip("\n")]
            if len(outputs) != len(batch):
                raise TransformError(
                    f"{source.name}: the model returned {len(outputs)} predictions for {len(batch)} records"
                )
            lines = _join_and_filter(batch, outputs, join_source, output_filter)
            sink.write(separator.join(lines) + separator)
            count += len(batch)
            if progress:
                progress(sum(len(r) + 1 for r in batch))
    partial.replace(target)
    return count


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
