"""Run a pipeline on this machine, from the same definition upsert sends to SageMaker.

    python -m pipeline.local evaluation --model-data model.tar.gz --test-data test.csv
                             [--validation-data validation.csv] [--work-dir .local-sagemaker]
                             [--param Name=Value ...] [--output text|json] [--retry EXECUTION_ID]
    python -m pipeline.local monitoring --baseline DIR|s3://... --data FILE|DIR|s3://...
                             [--work-dir DIR] [--param Name=Value ...] [--output text|json]
    python -m pipeline.local quality --capture FILE|DIR|s3://... --ground-truth FILE|DIR|s3://...
                             [--model-package-group G] [--work-dir DIR] [--param Name=Value ...] [--output text|json]

Exit codes: 0 the model passed the gate and was registered (evaluation), no drift (monitoring) or the
deployed model's quality is within its constraints (quality); 1 the pipeline failed (the gate said no,
drift, degraded quality or not enough labelled data, or a step failed: the reason is printed); 2 bad usage
or input, before any step ran (an unwritable work folder or registry included).

``--retry ID`` runs an execution again under its id (one that failed or was interrupted, like SageMaker's
RetryPipelineExecution): a package that execution registered already is not registered twice.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.arguments import OneLineParser, pipeline_subcommands, report
from pipeline.pipelines import SPECS
from pipeline.config import ConfigError, PipelineConfig
from pipeline.local.journal import ExecutionBusy, read_record
from pipeline.local.staging import DEFAULT_WORK_DIR, UsageError, checked_work_dir, local_config, stage_folder, stage_input
from pipeline.local.store import StoreError
from pipeline.parameters import ParameterError, check_overrides, parse_overrides
from pipeline.spec import PipelineSpec
from processing_scripts.parameters import Parameter
from processing_scripts.text_files import shown_value


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


def _inputs(parser: argparse.ArgumentParser, spec: PipelineSpec) -> None:
    for item in spec.local_inputs:
        parser.add_argument(f"--{item.flag}", required=item.required, help=f"{item.help} (sets {item.parameter})")
    if spec.functions:
        parser.add_argument("--model-package-group", help="default model package group")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m pipeline.local",
        description="Run a pipeline locally (no AWS account, no Docker) from the definition SageMaker would run.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                        help=f"local store, registry and records (default {DEFAULT_WORK_DIR})")
    common.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="pipeline parameter (repeatable), checked before any step runs")
    common.add_argument("--pipeline-name", help="pipeline name (default binary-classifier-evaluation; the drift "
                                                "check's is <name>-monitoring, the quality check's <name>-quality)")
    common.add_argument("--output", choices=("text", "json"), default="text", help="result format on stdout")
    common.add_argument("--retry", metavar="EXECUTION_ID",
                        help="run a failed or interrupted execution again under its id (nothing registered twice)")
    common.add_argument("--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    pipeline_subcommands(parser, specs=SPECS, parents=[common], add_arguments=_inputs,
                         describe=lambda spec: f"run the {spec.key} pipeline: {spec.description}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec: PipelineSpec = args.spec
    from pipeline.local.store import LocalObjectStore
    from pipeline.registry import RegistryError

    try:
        config = local_config(pipeline_name=args.pipeline_name,
                              model_package_group=getattr(args, "model_package_group", None))
        spec.name(config)
        overrides = parse_overrides(args.param)
        for item in spec.local_inputs:
            if item.parameter in overrides:
                raise UsageError(f"--param {item.parameter}: a local run takes it as --{item.flag} (a file, folder "
                                 "or s3:// URI in the local store); pass that instead")
        check_overrides(spec.parameters, overrides)  # every --param, before anything is staged or run
        work_dir = checked_work_dir(args.work_dir)
        retried = check_retry(work_dir, args.retry, spec.name(config))
        registry = open_local_registry(work_dir, config) if spec.functions else None
        store = LocalObjectStore(work_dir)
        for item in spec.local_inputs:
            value = getattr(args, item.flag.replace("-", "_"))
            if value is None:
                continue
            try:
                if item.folder:
                    overrides[item.parameter] = stage_folder(store, config, value, item.flag,
                                                             required=item.required_files)
                else:
                    overrides[item.parameter] = stage_input(store, config, value, item.flag)
            except StoreError as error:
                if not value.startswith("s3://") and ("\\" in Path(value).name or "\0" in value):
                    raise UsageError(f"--{item.flag}: {value}: an S3 key here cannot hold a backslash; rename "
                                     "the file") from None
                raise UsageError(f"--{item.flag}: {error}") from None
        if retried is not None:
            overrides = retried_parameters(args.retry, retried, spec.parameters, overrides)
        return run_local(config, spec, store=store, work_dir=work_dir, overrides=overrides, output=args.output,
                         verbose=args.verbose, registry=registry, execution_id=args.retry)
    except (UsageError, ConfigError, ParameterError, RegistryError, StoreError, ExecutionBusy) as error:
        report(error)
        return 2


def check_retry(work_dir: Path, execution_id: str | None, pipeline_name: str) -> dict | None:
    """A retry names an execution of this pipeline in ``work_dir`` that did not succeed: its record."""
    if execution_id is None:
        return None
    record = read_record(work_dir, execution_id) if execution_id.isalnum() else None
    if record is None:
        raise UsageError(f"--retry {execution_id!r}: no such execution in {work_dir / 'executions'}")
    if not record.get("PipelineArn", "").endswith(f":pipeline/{pipeline_name}"):
        raise UsageError(f"--retry {execution_id}: an execution of another pipeline ({record.get('PipelineArn')})")
    if record.get("PipelineExecutionStatus") == "Succeeded":
        raise UsageError(f"--retry {execution_id}: it succeeded; run without --retry for a new execution")
    return record


def retried_parameters(execution_id: str, record: Mapping, table: Sequence[Parameter],
                       given: Mapping[str, str]) -> dict[str, str]:
    """The parameters a retry runs with: the execution's own, as SageMaker's RetryPipelineExecution
    takes none. A value given again must be the recorded one (a file staged again has the same URI:
    staging is content-addressed); any other is refused, or a retry could register what was refused.

    >>> from processing_scripts.parameters import GATE_PARAMETERS
    >>> record = {"PipelineParameters": [{"Name": "AucThreshold", "Value": "0.75"}]}
    >>> retried_parameters("e1", record, GATE_PARAMETERS, {"AucThreshold": "0.750"})
    {'AucThreshold': '0.75'}
    >>> retried_parameters("e1", record, GATE_PARAMETERS, {"AucThreshold": "0.5"})
    Traceback (most recent call last):
    pipeline.local.staging.UsageError: --retry e1: AucThreshold was '0.75', not '0.5'; a retry reruns the execution's own parameters: leave it out, or start a new run
    """
    recorded = {p["Name"]: p["Value"] for p in record.get("PipelineParameters", [])}
    rows = {row.name: row for row in table}
    for name, value in given.items():
        row = rows.get(name)
        same = name in recorded and (row.parse(value) == row.parse(recorded[name]) if row else value == recorded[name])
        if not same:
            was = shown_value(recorded.get(name, "(unset)"))
            raise UsageError(f"--retry {execution_id}: {name} was {was}, not {shown_value(value)}; a retry reruns "
                             "the execution's own parameters: leave it out, or start a new run")
    return recorded


def open_local_registry(work_dir: Path, config: PipelineConfig):
    """The work folder's registry, checked writable before any step runs (RegistryError if not)."""
    from pipeline.registry import LocalRegistry

    registry = LocalRegistry(work_dir / "registry.db", region=config.region)
    registry.check_writable()
    return registry


def prepare_definition(config: PipelineConfig, spec: PipelineSpec, *, store, overrides: dict[str, str],
                       verbose: bool) -> dict:
    """Build ``spec``'s definition, check the overrides against its parameters (a bad --param is a usage
    error, before any step), and stage the code where the definition points."""
    from pipeline.code_bundle import processing_code_bundle
    from pipeline.parameters import resolve_parameters
    from pipeline.sdk import prepare_sdk_environment, quiet_sdk_logging

    prepare_sdk_environment(config.region)  # before anything imports the SDK
    quiet_sdk_logging(verbose)
    code = processing_code_bundle()
    definition = spec.definition(config, code=code)
    resolve_parameters(definition["Parameters"], overrides)
    for name, data in code.files:
        store.put_bytes(config.code_uri(code.digest) + name, data)
    return definition


def run_local(config: PipelineConfig, spec: PipelineSpec, *, store, work_dir: Path, overrides: dict[str, str],
              output: str = "text", verbose: bool = False, registry=None, execution_id: str | None = None) -> int:
    """Build the definition, stage the code, run it, print the outcome; returns the exit code."""
    from pipeline.local.functions import local_functions
    from pipeline.local.runner import LocalRunner
    from pipeline.local.summaries import outcome
    from pipeline.registry import LocalRegistry

    definition = prepare_definition(config, spec, store=store, overrides=overrides, verbose=verbose)
    emit = print if output == "text" else (lambda line: print(line, file=sys.stderr))
    functions = None
    if spec.functions:
        if registry is None:
            registry = LocalRegistry(work_dir / "registry.db", region=config.region)
        functions = local_functions(config, registry=registry, store=store)
    runner = LocalRunner(work_dir, registry=registry, region=config.region, emit=emit,
                         progress=_progress_printer(sys.stderr), functions=functions)
    result = runner.run(definition, pipeline_name=spec.name(config), overrides=overrides, execution_id=execution_id)
    lines, fields, succeeded = outcome(spec.key, runner, result)
    if output == "json":
        print(json.dumps({**result.to_json(), **fields}, indent=2))
    else:
        print("\n".join(lines))
    return 0 if succeeded else 1


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main, interrupted="interrupted (Ctrl-C): its record in <work-dir>/executions/ says how far it got; --retry <id> runs it again")
