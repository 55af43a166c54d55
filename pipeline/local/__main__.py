"""Run the evaluation pipeline on this machine, from the same definition upsert sends to SageMaker.

    python -m pipeline.local --model-data model.tar.gz --test-data test.csv [--work-dir .local-sagemaker]
                             [--param Name=Value ...] [--output text|json]

Exit codes: 0 the model passed the gate and was registered; 1 the pipeline failed (the gate said no, or a
step failed: the reason is printed); 2 bad usage or input.

    python -m pipeline.local --monitoring --baseline DIR|s3://... --data FILE|DIR|s3://...
                             [--work-dir DIR] [--param Name=Value ...] [--output text|json]

runs the drift-check pipeline (pipeline/monitoring.py) instead. Exit codes: 0 no drift; 1 drift (the
FailStep's reason, naming the drifted features, is printed) or a failed step; 2 bad usage or input.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from pipeline.config import ConfigError, PipelineConfig
from pipeline.parameters import ParameterError, parse_overrides

LOCAL_BUCKET = "local-sagemaker"
LOCAL_REGION = "us-east-1"
DEFAULT_WORK_DIR = ".local-sagemaker"


class UsageError(ValueError):
    """Bad arguments or input files; exit code 2."""


def local_config(*, pipeline_name: str | None = None, model_package_group: str | None = None) -> PipelineConfig:
    """The configuration the local runner builds the definition with (bucket = the local store)."""
    changes = {k: v for k, v in {"pipeline_name": pipeline_name, "model_package_group": model_package_group}.items() if v}
    return PipelineConfig(bucket=LOCAL_BUCKET, region=LOCAL_REGION, **changes)


def _check_model_archive(path: Path) -> None:
    from pipeline.local.model_archive import ModelArchiveError, archive_members

    try:
        names = archive_members(path)
    except ModelArchiveError as error:
        raise UsageError(str(error)) from None
    if "model.joblib" not in names or "code/inference.py" not in names:
        raise UsageError(
            f"{path}: model.tar.gz must contain model.joblib and code/inference.py; build it with python -m pipeline.package"
        )


def stage_input(store, config: PipelineConfig, value: str, kind: str) -> str:
    """An s3:// URI for ``value``: local files are copied into the store, content-addressed."""
    if value.startswith("s3://"):
        if not store.list(value):
            raise UsageError(f"--{kind}: no object at {value} in the local store {store.root}")
        return value
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"--{kind}: {value} is not a file")
    if kind == "model-data":
        _check_model_archive(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    uri = f"{config.s3_root}/inputs/{digest}/{path.name}"
    if not store.exists(uri):
        store.put_bytes(uri, data)
    return uri


def checked_overrides(items: Sequence[str], reserved: dict[str, str]) -> dict[str, str]:
    """``--param Name=Value`` items, refusing the parameters a dedicated flag sets (name → flag)."""
    overrides = parse_overrides(items)
    for name, flag in reserved.items():
        if name in overrides:
            raise UsageError(f"--param {name} conflicts with {flag}: use {flag}")
    return overrides


def checked_work_dir(value: str) -> Path:
    """The work folder (created later if missing); a file there is a usage error."""
    work_dir = Path(value)
    if work_dir.exists() and not work_dir.is_dir():
        raise UsageError(f"--work-dir {work_dir} is a file: pass a folder (it is created if missing)")
    return work_dir


def _progress_printer(stream) -> Any:
    if not stream.isatty():
        return None
    last = {"percent": -1}

    def show(done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        if percent != last["percent"]:
            last["percent"] = percent
            bar = "#" * (percent // 4)
            stream.write(f"\r  transform [{bar:<25}] {percent:3d}%")
            if percent >= 100:
                stream.write("\n")
            stream.flush()

    return show


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.local",
        description="Run the evaluation pipeline locally (no AWS account, no Docker).",
    )
    parser.add_argument("--model-data", required=True, help="model.tar.gz file or s3:// URI in the local store")
    parser.add_argument("--test-data", required=True, help="test CSV file (label first, no header) or s3:// URI")
    parser.add_argument("--validation-data",
                        help="validation CSV (label first) to choose the decision threshold on (sets ValidationDataUrl)")
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help=f"local store, registry and records (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="pipeline parameter (repeatable)")
    parser.add_argument("--pipeline-name", help="pipeline name (default binary-classifier-evaluation)")
    parser.add_argument("--model-package-group", help="default model package group")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="result format on stdout")
    parser.add_argument("--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    parser.epilog = "python -m pipeline.local --monitoring --help: run the drift-check pipeline instead."
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--monitoring" in argv:
        return monitoring_main([a for a in argv if a != "--monitoring"])
    args = build_parser().parse_args(argv)
    from pipeline.local.store import LocalObjectStore

    try:
        config = local_config(pipeline_name=args.pipeline_name, model_package_group=args.model_package_group)
        overrides = checked_overrides(args.param, {"ModelDataUrl": "--model-data", "TestDataUrl": "--test-data",
                                                    "ValidationDataUrl": "--validation-data"})
        work_dir = checked_work_dir(args.work_dir)
        store = LocalObjectStore(work_dir)
        overrides["ModelDataUrl"] = stage_input(store, config, args.model_data, "model-data")
        overrides["TestDataUrl"] = stage_input(store, config, args.test_data, "test-data")
        if args.validation_data:
            overrides["ValidationDataUrl"] = stage_input(store, config, args.validation_data, "validation-data")
        return run_local(config, store=store, work_dir=work_dir, overrides=overrides, output=args.output, verbose=args.verbose)
    except (UsageError, ConfigError, ParameterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def prepare_definition(config: PipelineConfig, build, *, store, overrides: dict[str, str], verbose: bool) -> dict:
    """Build a definition with ``build(config, code=...)``, check the overrides against its parameters
    (a bad --param is a usage error, before any step), and stage the code where the definition points."""
    from pipeline.code_bundle import processing_code_bundle
    from pipeline.definition import prepare_sdk_environment, quiet_sdk_logging
    from pipeline.parameters import resolve_parameters

    prepare_sdk_environment(config.region)  # before anything imports the SDK
    quiet_sdk_logging(verbose)
    code = processing_code_bundle()
    definition = build(config, code=code)
    resolve_parameters(definition["Parameters"], overrides)
    for name, data in code.files:
        store.put_bytes(config.code_uri(code.digest) + name, data)
    return definition


def run_local(config: PipelineConfig, *, store, work_dir: Path, overrides: dict[str, str], output: str = "text",
              verbose: bool = False) -> int:
    """Build the definition, stage the code, run it, print the outcome; returns the exit code."""
    from pipeline.definition import build_definition
    from pipeline.local.runner import LocalRunner
    from pipeline.registry import LocalRegistry

    definition = prepare_definition(config, build_definition, store=store, overrides=overrides, verbose=verbose)
    from pipeline.local.functions import local_functions

    emit = print if output == "text" else (lambda line: print(line, file=sys.stderr))
    registry = LocalRegistry(work_dir / "registry.db", region=config.region)
    runner = LocalRunner(
        work_dir,
        registry=registry,
        region=config.region,
        emit=emit,
        progress=_progress_printer(sys.stderr),
        functions=local_functions(config, registry=registry, store=store),
    )
    result = runner.run(definition, pipeline_name=config.pipeline_name, overrides=overrides)
    document = result.to_json()
    if output == "json":
        print(json.dumps(document, indent=2))
    else:
        for line in summary_lines(runner, result):
            print(line)
    return 0 if result.status == "Succeeded" and result.model_package_arn else 1


def summary_lines(runner, result) -> list[str]:
    """Gate outcome, registered version and report location, for people."""
    from pipeline.definition import EVALUATION_STEP
    from steps.evaluation import EVALUATION_OUTPUT

    lines = []
    gate = None
    evaluation = result.properties.get(EVALUATION_STEP)
    if evaluation:
        [output] = [o for o in evaluation["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == EVALUATION_OUTPUT]
        folder = Path(runner.store.path_for(output["S3Output"]["S3Uri"]))
        gate = json.loads((folder / "evaluation.json").read_text()).get("gate")
        if gate:
            failed = sum(not c["passed"] for c in gate["checks"])
            verdict = "passed" if gate["passed"] else f"FAILED ({failed} of {len(gate['checks'])} checks)"
            lines.append(f"gate: {verdict}")
            for check in gate["checks"]:
                lines.append(f"  {'ok  ' if check['passed'] else 'FAIL'} {check['name']:<16} {check['reason']}")
        if (folder / "report.html").exists():
            lines.append(f"report: {folder / 'report.html'}")
    if result.model_package_arn:
        lines.append(f"registered: {result.model_package_arn}")
    elif gate and not gate["passed"]:
        lines.append("not registered: the quality gate refused it (the FAIL checks above)")
    else:
        lines.append(f"not registered: {result.failure_reason}")
    lines.append(f"record: {runner.work_dir / 'executions' / result.execution_id / 'execution.json'}")
    return lines


# --- the drift-check pipeline (--monitoring) ------------------------------------------------------------


def build_monitoring_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.local --monitoring",
        description="Run the drift-check pipeline locally (no AWS account, no Docker).",
    )
    parser.add_argument("--baseline", required=True,
                        help="folder with statistics.json and constraints.json (python -m pipeline.monitor baseline), "
                             "or an s3:// prefix in the local store")
    parser.add_argument("--data", required=True,
                        help="data to check: Data Capture JSONL or headerless CSV; file, folder or s3:// URI")
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help=f"local store and records (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="pipeline parameter, e.g. PsiThreshold=0.25 (repeatable)")
    parser.add_argument("--pipeline-name", help="evaluation pipeline name; the drift check's is <name>-monitoring")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="result format on stdout")
    parser.add_argument("--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    return parser


def stage_folder(store, config: PipelineConfig, value: str, kind: str, *, required: Sequence[str] = ()) -> str:
    """An s3:// URI for a file or folder (folders copied into the store under a digest of their files)."""
    path = Path(value)
    if value.startswith("s3://") and required:
        missing = [name for name in required if not store.exists(value.rstrip("/") + "/" + name)]
        if missing:
            raise UsageError(f"--{kind}: no {missing[0]} under {value} in the local store {store.root}")
    elif required and path.is_file():
        raise UsageError(f"--{kind}: {value} is a file; pass the folder holding {' and '.join(required)}")
    if value.startswith("s3://") or path.is_file():
        return stage_input(store, config, value, kind)
    if not path.is_dir():
        raise UsageError(f"--{kind}: {value} is not a file or folder")
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise UsageError(f"--{kind}: {value} has no {missing[0]}; write a baseline with python -m pipeline.monitor baseline")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise UsageError(f"--{kind}: {value} is an empty folder")
    digest = hashlib.sha256()
    for file in files:
        relative = file.relative_to(path).as_posix()
        data = file.read_bytes()
        digest.update(f"{len(relative)}:{relative}:{len(data)}:".encode())
        digest.update(data)
    prefix = f"{config.s3_root}/inputs/{digest.hexdigest()[:16]}/"
    for file in files:
        uri = prefix + file.relative_to(path).as_posix()
        if not store.exists(uri):
            store.put_bytes(uri, file.read_bytes())
    return prefix


def monitoring_main(argv: Sequence[str]) -> int:
    """``--monitoring``: stage the baseline and the data, then run the drift-check definition."""
    args = build_monitoring_parser().parse_args(argv)
    from pipeline.local.store import LocalObjectStore

    try:
        config = local_config(pipeline_name=args.pipeline_name)
        overrides = checked_overrides(args.param, {"BaselineUrl": "--baseline", "CaptureDataUrl": "--data"})
        work_dir = checked_work_dir(args.work_dir)
        store = LocalObjectStore(work_dir)
        overrides["BaselineUrl"] = stage_folder(store, config, args.baseline, "baseline",
                                                required=("statistics.json", "constraints.json"))
        overrides["CaptureDataUrl"] = stage_folder(store, config, args.data, "data")
        return run_monitoring_local(config, store=store, work_dir=work_dir, overrides=overrides, output=args.output,
                                    verbose=args.verbose)
    except (UsageError, ConfigError, ParameterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_monitoring_local(config: PipelineConfig, *, store, work_dir: Path, overrides: dict[str, str],
                         output: str = "text", verbose: bool = False) -> int:
    """Build the drift-check definition, stage the code, run it; 0 no drift, 1 drift or a failed step."""
    from pipeline.local.runner import LocalRunner
    from pipeline.monitoring import DRIFT_CHECK_STEP, build_monitoring_definition, monitoring_pipeline_name

    definition = prepare_definition(config, build_monitoring_definition, store=store, overrides=overrides,
                                    verbose=verbose)
    from steps.drift_check import DRIFT_OUTPUT, REPORT_FILE, STATUS_FILE

    emit = print if output == "text" else (lambda line: print(line, file=sys.stderr))
    # The drift check registers nothing, so the runner gets no registry.
    runner = LocalRunner(work_dir, registry=None, region=config.region, emit=emit)
    result = runner.run(definition, pipeline_name=monitoring_pipeline_name(config), overrides=overrides)
    document = result.to_json()
    folder = None
    check = result.properties.get(DRIFT_CHECK_STEP)
    if check:
        [out] = [o for o in check["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == DRIFT_OUTPUT]
        folder = Path(runner.store.path_for(out["S3Output"]["S3Uri"]))
        document["DriftStatus"] = json.loads((folder / STATUS_FILE).read_text())
        document["DriftReport"] = str(folder / REPORT_FILE)
    if output == "json":
        print(json.dumps(document, indent=2))
    else:
        if result.status == "Succeeded":
            print("no drift")
        else:
            drifted = document.get("DriftStatus", {}).get("drift_detected")
            print(f"{'drift' if drifted else 'failed'}: {result.failure_reason}")
        if folder is not None:
            print(f"report: {folder / REPORT_FILE}")
        print(f"record: {runner.work_dir / 'executions' / result.execution_id / 'execution.json'}")
    return 0 if result.status == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
