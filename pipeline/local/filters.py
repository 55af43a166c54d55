"""Batch Transform's DataProcessing on CSV: JSONPath-like column filters, the join, and the assembly.

Semantics follow SageMaker's documentation for CSV ("Associate Prediction Results with Input Records"):
a CSV record is an array of columns; ``InputFilter`` selects columns of each record before it is sent;
``JoinSource=Input`` appends the model's output columns to the *original* input record (its text kept
verbatim); ``OutputFilter`` selects columns of that joined record; ``AssembleWith=Line`` ends every
output record with a newline, ``None`` concatenates them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from pipeline.local.records import RecordError, TransformError, not_text
from processing_scripts.text_files import shown_value

_SLICE = re.compile(r"^(-?\d*):(-?\d*)$")


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
        """The selected fields of one record, in the filter's order."""
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


@dataclass(frozen=True)
class BatchPlan:
    """How every batch is filtered, joined and assembled, and whether the numpy path can do it.

    >>> plan = BatchPlan.make(ColumnFilter.parse("$[1:]"), "Input", ColumnFilter.parse("$[0,-1]"), "Line")
    >>> plan.drop, plan.prefix, plan.last_only, plan.vectorised
    (1, 1, True, True)
    """

    input_filter: ColumnFilter | None
    join_source: str
    output_filter: ColumnFilter | None
    assemble_with: str
    drop: int | None  # input filter as "drop the first k columns" (0: no filter), None: not that shape
    prefix: int | None  # with JoinSource=Input: keep input columns 0..j-1 (-1: the whole line)
    last_only: bool  # ...then only the last output column (else every output column)

    @classmethod
    def make(cls, input_filter: ColumnFilter | None, join_source: str, output_filter: ColumnFilter | None,
             assemble_with: str) -> "BatchPlan":
        """The plan of a job's DataProcessing and AssembleWith."""
        drop = 0 if input_filter is None else input_filter.drop_leading()
        prefix, last_only = None, False
        if join_source == "Input":
            if output_filter is None:
                prefix = -1
            elif (j := output_filter.leading_then_last()) is not None:
                prefix, last_only = j, True
        return cls(input_filter, join_source, output_filter, assemble_with, drop, prefix, last_only)

    @property
    def filtered(self) -> bool:
        """Whether any DataProcessing applies (it then needs CSV records)."""
        return self.input_filter is not None or self.output_filter is not None or self.join_source == "Input"

    @property
    def vectorised(self) -> bool:
        """Whether the numpy path (``batch.fast_batch``) handles this plan."""
        shaped_output = (self.join_source == "None" and self.output_filter is None) or self.prefix is not None
        return self.drop is not None and shaped_output and self.assemble_with == "Line"


def nothing_left(column_filter: ColumnFilter, record: bytes) -> str:
    """Why a record cannot be sent: the input filter selects none of its columns (a record of binary
    bytes is named as such: the object is compressed or not CSV at all).

    >>> nothing_left(ColumnFilter.parse("$[1:]"), b"\\x00\\x00\\x00\\x01Bud1")
    'the record is binary (binary byte 0x00), not CSV text: remove the object from the input'
    >>> nothing_left(ColumnFilter.parse("$[1:]"), b"1" * 100)[-30:]
    "11111111111111111111111111'..."
    """
    if (why := not_text(record)) is not None:
        return why
    return f"input filter {column_filter.expression!r} leaves nothing of record {shown_value(record)}"


def filter_input(records: list[bytes], column_filter: ColumnFilter | None) -> list[bytes]:
    """The records as sent to the model (InputFilter applied), one per input record.

    >>> filter_input([b"1,10,20", b"0,30,40"], ColumnFilter.parse("$[1:]"))
    [b'10,20', b'30,40']
    """
    if column_filter is None:
        return records
    sent = []
    for number, record in enumerate(records):
        try:
            chosen = column_filter.select(record.split(b","))
        except TransformError as error:
            raise RecordError(number, number, str(error)) from None
        if not chosen:
            raise RecordError(number, number, nothing_left(column_filter, record))
        sent.append(b",".join(chosen))
    return sent


def join_outputs(records: list[bytes], outputs: list[bytes], plan: BatchPlan) -> bytes:
    """Join (JoinSource) and filter (OutputFilter) record by record, then assemble (AssembleWith).

    >>> plan = BatchPlan.make(None, "Input", ColumnFilter.parse("$[0,-1]"), "Line")
    >>> join_outputs([b"1,10,20", b"0,30,40"], [b"0.9", b"0.2"], plan)
    b'1,0.9\\n0,0.2\\n'
    """
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
                raise RecordError(number, number, f"output {error}") from None
        joined = selected
    separator = b"\n" if plan.assemble_with == "Line" else b""
    return separator.join(joined) + separator if joined else b""
