"""Run the evaluation pipeline on this machine, from the same definition upsert sends to SageMaker.

    python -m pipeline.local --model-data model.tar.gz --test-data test.csv [--work-dir .local-sagemaker]
                             [--param Name=Value ...] [--output text|json]

Exit codes: 0 the model passed the gate and was registered; 1 the pipeline failed (the gate said no, or a
step failed: the reason is printed); 2 bad usage or input.
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
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help=f"local store, registry and records (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="pipeline parameter (repeatable)")
    parser.add_argument("--pipeline-name", help="pipeline name (default binary-classifier-evaluation)")
    parser.add_argument("--model-package-group", help="default model package group")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="result format on stdout")
    parser.add_argument("--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.local.store import LocalObjectStore

    try:
        config = local_config(pipeline_name=args.pipeline_name, model_package_group=args.model_package_group)
        overrides = parse_overrides(args.param)
        for reserved, flag in (("ModelDataUrl", "--model-data"), ("TestDataUrl", "--test-data")):
            if reserved in overrides:
                raise UsageError(f"--param {reserved} conflicts with {flag}: use {flag}")
        work_dir = Path(args.work_dir)
        if work_dir.exists() and not work_dir.is_dir():
            raise UsageError(f"--work-dir {work_dir} is a file: pass a folder (it is created if missing)")
        store = LocalObjectStore(work_dir)
        overrides["ModelDataUrl"] = stage_input(store, config, args.model_data, "model-data")
        overrides["TestDataUrl"] = stage_input(store, config, args.test_data, "test-data")
        return run_local(config, store=store, work_dir=work_dir, overrides=overrides, output=args.output, verbose=args.verbose)
    except (UsageError, ConfigError, ParameterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_local(config: PipelineConfig, *, store, work_dir: Path, overrides: dict[str, str], output: str = "text",
              verbose: bool = False) -> int:
    """Build the definition, stage the code, run it, print the outcome; returns the exit code."""
    from pipeline.code_bundle import processing_code_bundle
    from pipeline.definition import build_definition, prepare_sdk_environment, quiet_sdk_logging
    from pipeline.local.runner import LocalRunner
    from pipeline.parameters import resolve_parameters
    from pipeline.registry import LocalRegistry

    prepare_sdk_environment(config.region)
    quiet_sdk_logging(verbose)
    code = processing_code_bundle()
    definition = build_definition(config, code=code)
    resolve_parameters(definition["Parameters"], overrides)  # bad --param is a usage error, before any step
    for name, data in code.files:
        store.put_bytes(config.code_uri(code.digest) + name, data)
    emit = print if output == "text" else (lambda line: print(line, file=sys.stderr))
    runner = LocalRunner(
        work_dir,
        registry=LocalRegistry(work_dir / "registry.db", region=config.region),
        region=config.region,
        emit=emit,
        progress=_progress_printer(sys.stderr),
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
    evaluation = result.properties.get(EVALUATION_STEP)
    if evaluation:
        [output] = [o for o in evaluation["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == EVALUATION_OUTPUT]
        folder = Path(runner.store.path_for(output["S3Output"]["S3Uri"]))
        gate = json.loads((folder / "evaluation.json").read_text()).get("gate")
        if gate:
            checks = ", ".join(
                f"{c['metric']}={c['value']:.4f} {'>=' if c['passed'] else '<'} {c['threshold']}" for c in gate["checks"]
            )
            lines.append(f"gate: {'passed' if gate['passed'] else 'FAILED'} ({checks})")
        if (folder / "report.html").exists():
            lines.append(f"report: {folder / 'report.html'}")
    if result.model_package_arn:
        lines.append(f"registered: {result.model_package_arn}")
    else:
        lines.append(f"not registered: {result.failure_reason}")
    lines.append(f"record: {runner.work_dir / 'executions' / result.execution_id / 'execution.json'}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
