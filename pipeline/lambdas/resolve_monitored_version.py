"""Lambda function: find the deployed model version and stage what the model-quality check reads.

The processing container may not call AWS APIs, so this step (the quality pipeline's LambdaStep) reads
the Model Registry: the latest Approved version of ``ModelPackageGroupName`` (``champions.latest_approved``,
the one definition of "the deployed version"). Under ``OutputUri``, a per-execution prefix the check
downloads, it stages:

    context.json            what was found (always written, also when the step fails)
    constraints.json        the version's ModelMetrics.ModelQuality.Constraints (its thresholds)
    evaluation.json         the version's ModelMetrics.ModelQuality.Statistics (the trend charts' baseline)
    quality_history.jsonl   a copy of HistoryUri, when that object exists (earlier windows' metrics)
    capture/...             the Data Capture objects under CaptureDataUrl that can hold the window's records

Data Capture names its objects ``.../yyyy/mm/dd/hh/<file>.jsonl`` by the hour they were *written*, which
is never before a record's inferenceTime and usually within minutes after it. So the hour folders from the
window start's hour to the window end's hour + 1 are kept (the extra hour: records of the window's last
minutes written after its end), and objects without such a path too; the container then filters exactly
by inferenceTime. The window is computed from the same inputs as the container's (RunStart is the
execution's start time) by the same code: ``processing_scripts/windows.py`` is shipped in the function's
package (``pipeline/aws/functions.py``), so the two cannot disagree.

The step fails (fail closed: the execution then fails) when the group has no Approved version, when that
version has no registered ModelQuality constraints or statistics, when GroundTruthUrl has no objects, or
when no capture object can hold the window's records.

Deployed as ``resolve_monitored_version.lambda_handler`` with ``champions.py``, ``storage.py`` and
``windows.py``: standard library and boto3 only. The local runner calls :func:`resolve` with the local
registry's SageMaker-shaped client and its folder object store.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

try:  # in the repository
    from pipeline.lambdas import champions
    from pipeline.lambdas.storage import S3Storage, StagingError, Storage, join
    from processing_scripts import windows
except ImportError:  # flat in the Lambda package
    import champions  # type: ignore[no-redef]
    import windows  # type: ignore[no-redef]
    from storage import S3Storage, StagingError, Storage, join  # type: ignore[no-redef]

CONTEXT_FILE = "context.json"
CONSTRAINTS_FILE = "constraints.json"
STATISTICS_FILE = "evaluation.json"
HISTORY_FILE = "quality_history.jsonl"
CAPTURE_PREFIX = "capture/"
OUTPUTS = ("ContextUri", "ModelPackageArn", "ModelPackageVersion", "CaptureObjects")

# Data Capture's key layout: .../yyyy/mm/dd/hh/<file> (the hour the file was written, UTC).
_HOUR_FOLDER = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
# How long after a record's inference Data Capture may still write it, in whole hour folders.
WRITE_LAG = timedelta(hours=1)
COPY_WORKERS = 16  # boto3 clients are thread-safe; S3 takes far more concurrent copies than this


class QualityInputError(ValueError):
    """What the check needs is missing; the message says what and how to fix it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # a bad parameter fails the step, it does not exit the function
        raise QualityInputError(message)


def window_of(event: Mapping[str, Any]) -> "windows.Window | None":
    """The window the check will use, read from the event exactly as the container reads its arguments
    (WindowStart, WindowEnd, RunStart, WindowHours, LabelDelayHours; empty strings: not given)."""
    parser = _Parser(add_help=False)
    windows.add_window_options(parser, label_delay=True)
    argv = [f"{flag}={event.get(key, '')}" for flag, key in (
        ("--start", "WindowStart"), ("--end", "WindowEnd"), ("--run-start", "RunStart"),
        ("--window-hours", "WindowHours"), ("--label-delay-hours", "LabelDelayHours"))]
    try:
        return windows.window_from_options(parser.parse_args(argv))
    except ValueError as error:
        raise QualityInputError(str(error)) from None


def _hour(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def hour_folder(uri: str) -> datetime | None:
    """The hour a Data Capture object was written, from its key; None for a key of another layout.

    >>> hour_folder("s3://b/capture/ep/AllTraffic/2024/01/07/23/12-00-000-abc.jsonl").isoformat()
    '2024-01-07T23:00:00+00:00'
    >>> hour_folder("s3://b/capture/records.jsonl") is None, hour_folder("s3://b/x/2024/13/01/00/f") is None
    (True, True)
    """
    match = _HOUR_FOLDER.search(uri)
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()), tzinfo=timezone.utc)
    except ValueError:  # not a date: another layout
        return None


def in_window_folders(uris: Iterable[str], window: "windows.Window | None") -> list[str]:
    """The objects that can hold records of ``window``: hour folders from its start's hour to its end's
    hour + 1 inclusive, and every object not in an hour folder (None: every object).

    >>> w = windows.Window(windows.parse_time("2024-01-07"), windows.parse_time("2024-01-08"))
    >>> keys = [f"s3://b/c/2024/01/{d:02d}/{h:02d}/f.jsonl" for d, h in ((6, 23), (7, 0), (8, 1), (8, 2))]
    >>> [k[9:] for k in in_window_folders(keys + ["s3://b/c/other.jsonl"], w)]
    ['2024/01/07/00/f.jsonl', '2024/01/08/01/f.jsonl', 'other.jsonl']
    """
    uris = list(uris)
    if window is None:
        return uris
    low = _hour(window.start) if window.start is not None else None
    high = _hour(window.end) + WRITE_LAG if window.end is not None else None
    kept = []
    for uri in uris:
        hour = hour_folder(uri)
        if hour is None or ((low is None or hour >= low) and (high is None or hour <= high)):
            kept.append(uri)
    return kept


def _relative(uri: str, base: str) -> str:
    return uri[len(base):].lstrip("/") if uri.startswith(base) else uri.rsplit("/", 1)[-1]


def copy_all(storage: Storage, pairs: list[tuple[str, str]]) -> None:
    """Copy each (source, target); concurrently, since a day of Data Capture is hundreds of objects per
    instance and each copy is a round trip (the step has 10 minutes). The first failure is raised."""
    if len(pairs) <= 1:
        for source, target in pairs:
            storage.copy(source, target)
        return
    with ThreadPoolExecutor(max_workers=min(COPY_WORKERS, len(pairs))) as pool:
        for done in [pool.submit(storage.copy, source, target) for source, target in pairs]:
            done.result()


def _quality_source(package: Mapping[str, Any], kind: str) -> str | None:
    return (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get(kind) or {}).get("S3Uri")


def _window_text(window: "windows.Window | None") -> dict[str, str] | None:
    if window is None:
        return None
    return {"start": windows.iso(window.start) if window.start else "-inf",
            "end": windows.iso(window.end) if window.end else "+inf", "described": window.describe()}


def resolve(event: Mapping[str, Any], *, sagemaker, storage: Storage) -> dict[str, str]:
    """Stage the deployed version's constraints, statistics, the history and the window's captures under
    ``event["OutputUri"]``; return the step outputs. QualityInputError (or the registry's or storage's
    error) when something the check needs is missing: the step fails with that message.

    ``event``: ModelPackageGroupName, CaptureDataUrl, GroundTruthUrl, HistoryUri, OutputUri, WindowStart,
    WindowEnd, RunStart, WindowHours, LabelDelayHours, KmsKeyId (may be empty).
    """
    group, output = str(event["ModelPackageGroupName"]), str(event["OutputUri"])
    context: dict[str, Any] = {"model_package_group": group, "resolved_at": time.time(), "window": None,
                               "model_package": None, "ground_truth": None, "capture": None, "history": None,
                               "error": None}
    try:
        outputs = _stage(event, group, output, context, sagemaker=sagemaker, storage=storage)
    except (QualityInputError, StagingError, champions.ChampionLookupError) as error:
        context["error"] = str(error)
        _write_context(storage, output, context)
        raise
    _write_context(storage, output, context)
    return outputs


def _write_context(storage: Storage, output: str, context: Mapping[str, Any]) -> None:
    storage.put_text(join(output, CONTEXT_FILE), json.dumps(context, indent=2, default=str) + "\n")


def _stage(event: Mapping[str, Any], group: str, output: str, context: dict[str, Any], *, sagemaker,
           storage: Storage) -> dict[str, str]:
    window = window_of(event)
    context["window"] = _window_text(window)
    package = champions.latest_approved(sagemaker, group)
    if package is None:
        raise QualityInputError(f"model package group {group} has no Approved version: approve the deployed "
                                "version (python -m pipeline.registry approve) or set ModelPackageGroupName")
    arn, version = package["ModelPackageArn"], package.get("ModelPackageVersion")
    sources = {kind: _quality_source(package, kind) for kind in ("Constraints", "Statistics")}
    context["model_package"] = {
        "arn": arn, "version": version, "creation_time": str(package.get("CreationTime")),
        "model_sha256": (package.get("CustomerMetadataProperties") or {}).get("model_sha256"),
        "constraints_uri": sources["Constraints"], "statistics_uri": sources["Statistics"],
    }
    for kind, name in (("Constraints", CONSTRAINTS_FILE), ("Statistics", STATISTICS_FILE)):
        if not sources[kind]:
            raise QualityInputError(f"{arn} (version {version}) has no registered ModelQuality {kind}: register "
                                    "it with a pipeline that attaches the evaluation's model-quality constraints")
        storage.copy(sources[kind], join(output, name))

    ground_truth = str(event.get("GroundTruthUrl") or "").strip()
    labels = storage.list(ground_truth) if ground_truth else []
    context["ground_truth"] = {"source": ground_truth, "objects": len(labels)}
    if not labels:
        raise QualityInputError(f"GroundTruthUrl {ground_truth or '(empty)'} has no objects: upload the ground-truth "
                                "JSONL records there, or point GroundTruthUrl at them")

    capture = str(event.get("CaptureDataUrl") or "").strip()
    listed = storage.list(capture) if capture else []
    kept = in_window_folders(listed, window)
    context["capture"] = {"source": capture, "objects_listed": len(listed), "objects_staged": len(kept)}
    if not kept:
        where = f"in the hour folders of the window {window.describe()}" if window is not None else "at all"
        raise QualityInputError(f"CaptureDataUrl {capture or '(empty)'} has no Data Capture object {where}: check the "
                                "endpoint's data capture destination, or the window parameters")
    base = capture if capture.endswith("/") or len(listed) > 1 else capture.rsplit("/", 1)[0] + "/"
    copy_all(storage, [(uri, join(output, CAPTURE_PREFIX + _relative(uri, base))) for uri in kept])

    history = str(event.get("HistoryUri") or "").strip()
    exists = bool(history) and history in storage.list(history)  # the object itself, not a longer key
    if exists:
        storage.copy(history, join(output, HISTORY_FILE))
    context["history"] = {"source": history, "staged": exists}
    return {"ContextUri": output.rstrip("/") + "/", "ModelPackageArn": arn,
            "ModelPackageVersion": str(version), "CaptureObjects": str(len(kept))}


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """The Lambda entry point (handler ``resolve_monitored_version.lambda_handler``)."""
    import boto3

    storage = S3Storage(boto3.client("s3"), kms_key_id=event.get("KmsKeyId"))
    return resolve(event, sagemaker=boto3.client("sagemaker"), storage=storage)
