"""processing_scripts/ground_truth.py: late labels read as Model Monitor's ground-truth records, joined by event id."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from processing_scripts import ground_truth as gt
from processing_scripts.labelled import DataError

SDK_MONITOR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model-monitor" / "sdk" / "monitor"


def record(event_id: str, data: str = "1", encoding: str = "CSV") -> str:
    return json.dumps({"groundTruthData": {"data": data, "encoding": encoding},
                       "eventMetadata": {"eventId": event_id}, "eventVersion": "0"})


@pytest.mark.parametrize("data, encoding, labels", [
    ("1", "CSV", (1,)), (" 0 \n", "CSV", (0,)), ("1\n0\n1", "CSV", (1, 0, 1)), ("1.0", "CSV", (1,)),
    ("true", "CSV", (1,)), ("1", "JSON", (1,)), ("[0, 1]", "JSON", (0, 1)), ("false", "JSON", (0,)),
    ('"1"', "JSON", (1,)), (base64.b64encode(b"0\n1").decode(), "BASE64", (0, 1)),
])
def test_labels_in_every_encoding(data, encoding, labels):
    assert gt.parse_labels(data, encoding) == labels


@pytest.mark.parametrize("line, reason", [
    ("{", "not JSON"),
    ('{"captureData": {}}', "not a ground-truth record"),
    (record("a", "2"), "label '2' is not 0 or 1"),
    (record("a", "0.5"), "label '0.5' is not 0 or 1"),
    (record("a", ""), "holds no label"),
    (record("a", "1", "XML"), "unknown encoding 'XML'"),
    (record("a", "%%%", "BASE64"), "BASE64 data does not decode"),
    (json.dumps({"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {}}), "eventId is missing"),
])
def test_malformed_records_are_skipped_with_their_reason(line, reason):
    truth = gt.collect([("f:1", line), ("f:2", record("b"))])
    assert truth.labels == {"b": (1,)} and truth.record_count == 2
    (where, why), = truth.skipped
    assert where == "f:1" and reason in why and "\n" not in why


def test_duplicates_count_once_and_conflicting_labels_are_left_out():
    truth = gt.collect([("f:1", record("a", "1")), ("f:2", record("a", "1")), ("f:3", record("b", "0")),
                        ("f:4", record("b", "1")), ("f:5", record("b", "0"))])
    assert truth.labels == {"a": (1,)} and truth.duplicates == 1 and truth.conflicting == ["b"]


def test_join_accounts_for_every_prediction():
    truth = gt.collect([("f:1", record("a", "1")), ("f:2", record("m", "1\n0")), ("f:3", record("x", "0")),
                        ("f:4", record("k", "1\n0"))])
    joined = gt.join([("a", [0.9]), ("m", [0.2, 0.4]), ("u", [0.5]), ("a", [0.9]), ("k", [0.3])], truth)
    assert joined.scores.tolist() == [0.9, 0.2, 0.4] and joined.labels.tolist() == [1, 1, 0]
    assert joined.accounting == {
        "captured_requests": 4, "captured_predictions": 5, "ground_truth_records": 4, "labelled_requests": 4,
        "matched": 3, "unmatched_predictions": 1, "labels_without_capture": 1, "duplicate_captures": 1,
        "duplicate_labels": 0, "conflicting_labels": 0, "label_count_mismatch": 1, "skipped_ground_truth": 0}


@pytest.mark.skipif(not SDK_MONITOR.is_dir(), reason="../shared/reference is not beside the checkout")
def test_the_sdks_capture_and_actuals_pair_joins_on_every_event():
    truth = gt.read_ground_truth(SDK_MONITOR / "actuals.jsonl")
    predictions = []
    for line in (SDK_MONITOR / "capture.jsonl").read_text().splitlines():
        capture = json.loads(line)
        output = capture["captureData"]["endpointOutput"]["data"]
        predictions.append((capture["eventMetadata"]["eventId"], [float(v) for v in output.splitlines()]))
    joined = gt.join(predictions, truth)
    assert joined.accounting["matched"] == len(predictions) == truth.record_count
    assert joined.accounting["unmatched_predictions"] == joined.accounting["labels_without_capture"] == 0
    assert set(np.unique(joined.labels)) <= {0, 1}


def test_too_many_malformed_records_refuse_the_labels(tmp_path):
    path = tmp_path / "gt.jsonl"
    path.write_text("\n".join([record(f"e{i}") for i in range(18)] + ["{", record("z", "7")]) + "\n")
    with pytest.raises(DataError, match=r"gt.jsonl:19: not JSON .*; 2 of 20 ground-truth records are malformed, "
                                        r"more than 5%"):
        gt.read_ground_truth(path)
    assert len(gt.read_ground_truth(path, max_skipped_share=0.2).labels) == 18
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="holds no ground-truth records"):
        gt.read_ground_truth(tmp_path / "empty.jsonl")
