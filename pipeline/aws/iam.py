"""IAM policy documents: statements, merging by Sid, and the size IAM counts (no AWS call)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

POLICY_VERSION = "2012-10-17"
# A managed policy holds at most 6,144 characters (whitespace not counted); an inline one more.
MANAGED_POLICY_LIMIT = 6144


class PermissionsError(ValueError):
    """The policies cannot be written for these settings; the message says what to change."""


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement (always Allow)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]] | None = None

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": sorted(set(self.actions)),
            "Resource": sorted(set(self.resources)),
        }
        if self.condition:
            body["Condition"] = {op: dict(sorted(keys.items())) for op, keys in sorted(self.condition.items())}
        return body


def policy_document(statements: Iterable[Statement]) -> dict[str, Any]:
    """A policy document; statements with the same Sid (from several steps) are merged.

    >>> document = policy_document([Statement("Read", ("s3:GetObject",), ("arn:aws:s3:::b/a*",)),
    ...                             Statement("Read", ("s3:GetObject",), ("arn:aws:s3:::b/c*",))])
    >>> [(s["Sid"], s["Action"], s["Resource"]) for s in document["Statement"]]
    [('Read', ['s3:GetObject'], ['arn:aws:s3:::b/a*', 'arn:aws:s3:::b/c*'])]
    >>> policy_size(document)
    149
    """
    merged: dict[str, Statement] = {}
    for statement in statements:
        seen = merged.get(statement.sid)
        if seen is None:
            merged[statement.sid] = statement
        elif seen.condition != statement.condition:
            raise AssertionError(f"statement {statement.sid} declared twice with different conditions")
        else:
            merged[statement.sid] = Statement(seen.sid, seen.actions + statement.actions,
                                              seen.resources + statement.resources, seen.condition)
    return {"Version": POLICY_VERSION, "Statement": [s.document() for s in merged.values()]}


def policy_size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against a policy's size limit (whitespace is not counted)."""
    return len(re.sub(r"\s", "", json.dumps(document)))
