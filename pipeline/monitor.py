"""Data-quality baselines and drift checks from the command line (Model Monitor file layout, no Model Monitor).

    python -m pipeline.monitor baseline --data FILE|DIR|s3://... --output-dir DIR [--label-column first|none]
                                        [--header]
    python -m pipeline.monitor check --baseline DIR|s3://... --data FILE|DIR|s3://... [--output-dir DIR]
                                     [--format csv|capture|auto] [--label-column first|none]
                                     [--psi-threshold 0.2] [--ks-threshold 0.1] [--completeness-ratio 1.0]
                                     [--header] [--max-skipped-share 0.05] [--endpoint-name E] [--schedule-name S]
                                     [--start ISO8601] [--end ISO8601] [--run-start ISO8601 [--window-hours 24]]
    python -m pipeline.monitor quality --capture FILE|DIR|s3://... --ground-truth FILE|DIR|s3://...
                                       --constraints FILE|s3://... [--output-dir DIR] [--start ISO8601]
                                       [--end ISO8601] [--probability-threshold P] [--history FILE]
                                       [--baseline-statistics FILE|s3://...] [--min-labelled-rows 200]
    common options: --s3 local|aws (default local), --work-dir DIR (local store, default .local-sagemaker),
                    --region R (aws)

``s3://bucket/key`` is read from the local object store ``<work-dir>/s3/bucket/key`` (the local runner's),
or from S3 itself with ``--s3 aws`` (boto3, default credentials). A prefix is copied as a SageMaker
S3Prefix input is (the key after the prefix is the path below the download folder). The work is done by
``processing_scripts/monitor.py`` and ``processing_scripts/quality.py``, the scripts the Processing steps run.
``quality --history FILE`` reads the window history from FILE (if it exists) and writes it back with this
window's line.
Exit 0: no violations (or the baseline was written); 1: violations (written to the output folder), or
not enough labelled data; 2: unusable input or arguments, with one line on stderr.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Sequence

from pipeline.local.store import LocalObjectStore, StoreError, split_uri
from processing_scripts import data_quality as dq
from processing_scripts import monitor as script
from processing_scripts import quality
from processing_scripts.outputs import write_bytes_atomic

DEFAULT_WORK_DIR = ".local-sagemaker"
DEFAULT_CHECK_OUTPUT = "drift-check"
DEFAULT_QUALITY_OUTPUT = "quality-check"


class InputError(ValueError):
    """An input URI cannot be fetched."""


def download_aws(uri: str, dest_dir: Path, *, client=None, region: str | None = None) -> list[Path]:
    """Copy the objects under an S3 prefix (or one object) into ``dest_dir``, S3Prefix-style."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_uri(uri)
    if client is None:
        import boto3

        client = boto3.client("s3", region_name=region)
    copied = []
    try:
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
        for name in sorted(keys):
            relative = name.rsplit("/", 1)[-1] if name == key else name[len(key):].lstrip("/")
            if not relative or any(part in ("", ".", "..") for part in relative.split("/")):
                raise InputError(f"s3://{bucket}/{name} cannot be stored as a file; rename the object")
            target = dest_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, name, str(target))
            copied.append(target)
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise InputError(f"{uri}: {detail.get('Code', 'ClientError')}: {detail.get('Message', error)}") from None
    except BotoCoreError as error:
        raise InputError(f"{uri}: {error}") from None
    return copied


def resolve(location: str, stack: ExitStack, args: argparse.Namespace) -> str:
    """A local path for a path or an ``s3://`` URI (downloaded into a temporary folder)."""
    if not location.startswith("s3://"):
        return location
    dest = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="monitor-")))
    try:
        if args.s3 == "aws":
            copied = download_aws(location, dest, region=args.region)
        else:
            work_dir = Path(args.work_dir)
            if work_dir.exists() and not work_dir.is_dir():
                raise InputError(f"--work-dir {work_dir} is a file: pass the local store's folder")
            copied = LocalObjectStore(work_dir).download_prefix(location, dest)
    except StoreError as error:
        raise InputError(str(error)) from None
    if not copied:
        where = "S3" if args.s3 == "aws" else f"the local store {args.work_dir}"
        raise InputError(f"no objects under {location} in {where}; check the URI (or --s3 / --work-dir)")
    return str(dest)


def shown_names(location: str, local_root: Path) -> Callable[[Path], str]:
    """How a downloaded file is named in messages: its object's URI (the S3Prefix layout of :func:`resolve`)."""
    if not location.startswith("s3://"):
        return str

    def shown(path: Path) -> str:
        if path == local_root:
            return location
        relative = path.relative_to(local_root).as_posix()
        if location.rsplit("/", 1)[-1] == relative:  # an object named exactly
            return location
        return f"{location.rstrip('/')}/{relative}"

    return shown


def build_parser() -> argparse.ArgumentParser:
    parser = script.Parser(prog="python -m pipeline.monitor",
                            description="Data-quality baseline and drift check (Model Monitor layout).")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--s3", choices=("local", "aws"), default="local",
                        help="where s3:// URIs are read: the local store or AWS S3 (boto3)")
    common.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                        help=f"local store: s3://b/k is <work-dir>/s3/b/k (default {DEFAULT_WORK_DIR})")
    common.add_argument("--region", help="AWS region for --s3 aws (default: the AWS configuration's)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=script.Parser)
    baseline = commands.add_parser("baseline", parents=[common], help="write statistics.json and constraints.json")
    baseline.add_argument("--data", required=True, help="CSV file, folder or s3:// URI")
    baseline.add_argument("--output-dir", required=True, help="folder for the baseline")
    baseline.add_argument("--label-column", choices=("first", "none"), default="none",
                          help="'first': a leading label column (kept first, as Model Monitor's baselines do, "
                               "with its monitoring switched off)")
    baseline.add_argument("--header", action="store_true",
                          help="the first line of each file names the columns (Model Monitor's csv(header=True))")
    check = commands.add_parser("check", parents=[common], help="compare data with a baseline")
    check.add_argument("--baseline", required=True, help="baseline folder or s3:// URI")
    check.add_argument("--data", required=True, help="CSV or Data Capture file, folder or s3:// URI")
    check.add_argument("--output-dir", default=DEFAULT_CHECK_OUTPUT, help=f"results folder (default {DEFAULT_CHECK_OUTPUT})")
    script.add_check_options(check)
    quality_check = commands.add_parser("quality", parents=[common],
                                        help="merge captured predictions with ground truth and check model quality")
    quality_check.add_argument("--capture", required=True, help="Data Capture file, folder or s3:// URI")
    quality_check.add_argument("--ground-truth", required=True, help="ground-truth JSON lines file, folder or s3:// URI")
    quality_check.add_argument("--constraints", required=True,
                               help="the model-quality constraints.json registered with the model (file or s3:// URI)")
    quality_check.add_argument("--baseline-statistics",
                               help="the registered evaluation.json (file or s3:// URI): its threshold and the "
                                    "trend's reference values")
    quality_check.add_argument("--history", help="local quality_history.jsonl: read if it exists, written back with "
                                                 "this window")
    quality_check.add_argument("--output-dir", default=DEFAULT_QUALITY_OUTPUT,
                               help=f"results folder (default {DEFAULT_QUALITY_OUTPUT})")
    quality.add_quality_options(quality_check)
    return parser


def resolve_file(location: str, stack: ExitStack, args: argparse.Namespace) -> str:
    """A local path for a file or an ``s3://`` object (its only object, when a prefix is given)."""
    local = resolve(location, stack, args)
    if not location.startswith("s3://"):
        return local
    files = [p for p in Path(local).rglob("*") if p.is_file()]
    if len(files) != 1:
        raise InputError(f"{location} holds {len(files)} objects; pass the URI of the one file")
    return str(files[0])


def run_quality(args: argparse.Namespace) -> int:
    """The ``quality`` command: resolve the inputs, run the check, print the verdict."""
    if args.history and args.history.startswith("s3://"):
        print(f"error: --history {args.history} must be a local file", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        try:
            shown = {}
            for key, flag in (("capture", "capture"), ("ground_truth", "ground_truth")):
                given = getattr(args, flag)
                setattr(args, flag, resolve(given, stack, args))
                shown[key] = shown_names(given, Path(getattr(args, flag)))
            for key, flag in (("constraints", "constraints"), ("baseline", "baseline_statistics")):
                given = getattr(args, flag)
                if given is not None:
                    setattr(args, flag, resolve_file(given, stack, args))
                    shown[key] = shown_names(given, Path(getattr(args, flag)))
        except (InputError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        history_out = Path(tempfile.mkdtemp(prefix="quality-history-")) if args.history else None
        if history_out is not None:
            stack.callback(lambda: __import__("shutil").rmtree(history_out, ignore_errors=True))
        args.history_out = str(history_out) if history_out else None
        args.fail_on_violation = True
        code, result = quality.run(args, shown=shown)
        if result is None:
            return code
        if history_out is not None:
            try:
                write_bytes_atomic(args.history, (history_out / quality.HISTORY_FILE).read_bytes())
            except OSError as error:
                print(f"error: cannot write --history {args.history}: {error.strerror or error}", file=sys.stderr)
                return 2
    for line in quality.describe(result):
        print(line)
    print(f"report: {os.path.join(args.output_dir, 'quality_report.html')}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """0: no violations / baseline written; 1: violations; 2: unusable input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return 2 if exit_.code else 0
    except script.UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.output_dir.startswith("s3://"):
        print(f"error: --output-dir {args.output_dir} must be a local folder", file=sys.stderr)
        return 2
    if args.command == "quality":
        return run_quality(args)
    with ExitStack() as stack:
        try:
            data = args.data
            args.data = resolve(data, stack, args)
            shown = {"shown": shown_names(data, Path(args.data))}
            if args.command == "check":
                args.baseline_dir = resolve(args.baseline, stack, args)
                shown["baseline_shown"] = shown_names(args.baseline, Path(args.baseline_dir))
        except (InputError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        args.fail_on_violation = True
        code, result = script.run(args, **shown)
    if code == 2:
        return code
    if result is None:
        print(f"baseline written to {os.path.join(args.output_dir, 'statistics.json')} and constraints.json")
        return code
    if not result.violations:
        print(f"no violations ({result.summary['dataset']['item_count']} rows); report: "
              f"{os.path.join(args.output_dir, 'drift_report.html')}")
        return code
    print(f"{len(result.violations)} violation(s); details: {os.path.join(args.output_dir, 'constraint_violations.json')}, "
          f"report: {os.path.join(args.output_dir, 'drift_report.html')}")
    for line in dq.iter_violation_lines(result.violations):
        print(f"  {line}")
    return code


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)
