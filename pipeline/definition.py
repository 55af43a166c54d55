"""The pipeline: one ``create_pipeline(config)`` shared by upsert (SageMaker) and the local runner.

``python -m pipeline.definition [--out FILE]`` prints the definition JSON with no AWS credentials and no
network calls: the processing code's S3 location is derived from its content hash, and uploading it is
a separate, explicit step of ``pipeline.upsert``.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from typing import TYPE_CHECKING, Iterator, Sequence

from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import ENV_VARS, ConfigError, PipelineConfig, parse_tags

if TYPE_CHECKING:  # the SDK is imported lazily: importing it needs AWS_DEFAULT_REGION set first
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline

# Step names are the contract with Studio, the local runner and the tests.
FREEZE_STEP = "FreezeModel"
CHAMPION_STEP = "FindChampion"
CREATE_MODEL_STEP = "CreateModel"
TRANSFORM_STEP = "BatchTransform"
BASELINE_STEP = "BaselineDataQuality"
EVALUATION_STEP = "EvaluateModel"
CONDITION_STEP = "CheckQualityGate"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "QualityGateFailed"

# The SDK's switch for usage telemetry (a background HTTP call); see PipelineConfig.sdk_telemetry.
_TELEMETRY_OPT_OUT = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def prepare_sdk_environment(region: str) -> None:
    """Set what importing ``sagemaker.mlops``/``sagemaker.serve`` needs (they build a client at import)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)


@contextlib.contextmanager
def _offline_role_checks() -> Iterator[None]:
    """How the SDK must behave while a definition is built.

    * no IAM calls: the SDK validates roles unless told not to;
    * the session's config (our telemetry opt-out) checked against the SDK's config schema without
      re-checking that schema itself on every config lookup, which the SDK does some 70 times per build
      and which costs most of the build's time (about 6 s of 7); the config is still validated.
    """
    from sagemaker.core.config.config_manager import SageMakerConfig

    previous = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    original = SageMakerConfig.__dict__["validate_sagemaker_config"]
    SageMakerConfig.validate_sagemaker_config = staticmethod(_config_validator().validate)
    try:
        yield
    finally:
        SageMakerConfig.validate_sagemaker_config = original
        if previous is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = previous


@functools.lru_cache(maxsize=1)
def _config_validator():
    """A validator for the SDK's config schema; the schema is checked once, here."""
    import jsonschema
    from sagemaker.core.config.config_schema import SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA

    validator_class = jsonschema.validators.validator_for(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    validator_class.check_schema(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    return validator_class(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)


def create_session(config: PipelineConfig, boto_session: "boto3.Session | None" = None) -> "PipelineSession":
    """A PipelineSession that records step arguments instead of starting jobs."""
    prepare_sdk_environment(config.region)
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto_session = boto_session or boto3.Session(region_name=config.region)
    kwargs = {} if config.sdk_telemetry else {"sagemaker_config": _TELEMETRY_OPT_OUT}
    return PipelineSession(boto_session=boto_session, default_bucket=config.bucket, **kwargs)


def create_pipeline(
    config: PipelineConfig,
    *,
    session: "PipelineSession | None" = None,
    code: CodeBundle | None = None,
) -> "Pipeline":
    """Wire the steps: FreezeModel → (FindChampion, CreateModel → BatchTransform) → EvaluateModel → gate → RegisterModel | Fail,
    with BaselineDataQuality (the test features' Model Monitor baseline) attached to the registration."""
    session = session or create_session(config)
    code = code or processing_code_bundle()
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from processing_scripts.gate import RECORD_KEYS, RECORD_PATH, SUMMARY_PATH
    from steps.baseline import create_data_quality_baseline_step
    from steps.champion import create_champion_step
    from steps.condition import create_condition_step, evaluation_value
    from steps.evaluation import create_evaluation_step
    from steps.fail import create_fail_step
    from steps.freeze import create_freeze_step
    from steps.model import create_model_builder, create_model_step, sklearn_image_uri
    from steps.parameters import create_parameters
    from steps.register import create_register_step
    from steps.transform import create_transform_step

    params = create_parameters(
        model_data_url=config.default_model_data_url,
        test_data_url=config.default_test_data_url,
        model_package_group_name=config.model_package_group,
        transform_instance_type=config.transform_instance_type,
        transform_instance_count=config.transform_instance_count,
        processing_instance_type=config.processing_instance_type,
    )
    image_uri = sklearn_image_uri(region=config.region, version=config.sklearn_image_version)

    def execution_uri(*parts: str) -> Join:
        # Per-execution locations keep concurrent executions from overwriting each other.
        return Join(on="/", values=[config.s3_root, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])

    from pipeline.functions import LAMBDA_STEP_LIMIT_SECONDS

    with _offline_role_checks():
        freeze = create_freeze_step(
            name=FREEZE_STEP,
            display_name="Freeze-model-by-SHA256",
            function_arn=config.freeze_function_arn,
            model_data_url=params.model_data_url,
            output_prefix=config.frozen_models_prefix,
            kms_key_id=config.kms_key_id,
            timeout_seconds=LAMBDA_STEP_LIMIT_SECONDS,
            session=session,
        )
        # Only the frozen copy from here on: what is evaluated is what gets registered.
        model_builder = create_model_builder(
            image_uri=image_uri,
            model_data_url=freeze.model_data_url,
            role_arn=config.role_arn,
            session=session,
        )
        champion = create_champion_step(
            name=CHAMPION_STEP,
            display_name="Find-champion",
            function_arn=config.champion_function_arn,
            model_package_group_name=params.model_package_group_name,
            validation_data_url=params.validation_data_url,
            output_uri=execution_uri("context"),
            kms_key_id=config.kms_key_id,
            timeout_seconds=LAMBDA_STEP_LIMIT_SECONDS,
            session=session,
        )
        create_model = create_model_step(name=CREATE_MODEL_STEP, display_name="Create-model",
                                         model_builder=model_builder)
        transform = create_transform_step(
            name=TRANSFORM_STEP,
            display_name="Score-test-set",
            model_name=create_model.properties.ModelName,
            test_data_url=params.test_data_url,
            output_path=execution_uri("transform"),
            instance_type=params.transform_instance_type,
            instance_count=params.transform_instance_count,
            max_payload_mb=config.max_payload_mb,
            kms_key_id=config.kms_key_id,
            session=session,
        )
        baseline = create_data_quality_baseline_step(
            name=BASELINE_STEP,
            display_name="Baseline-test-features",
            image_uri=image_uri,
            role_arn=config.role_arn,
            code_uri=config.code_uri(code.digest),
            test_data_uri=params.test_data_url,
            output_uri=execution_uri("baseline"),
            instance_type=params.processing_instance_type,
            volume_size_gb=config.processing_volume_gb,
            kms_key_id=config.kms_key_id,
            session=session,
        )
        evaluation = create_evaluation_step(
            name=EVALUATION_STEP,
            display_name="Evaluate-and-decide-gate",
            image_uri=image_uri,
            role_arn=config.role_arn,
            code_uri=config.code_uri(code.digest),
            predictions_uri=transform.properties.TransformOutput.S3OutputPath,
            test_data_uri=params.test_data_url,
            model_data_uri=freeze.model_data_url,
            model_sha256=freeze.sha256,
            model_package_group_name=params.model_package_group_name,
            context_uri=champion.context_uri,
            output_uri=execution_uri("evaluation"),
            instance_type=params.processing_instance_type,
            decision_threshold=params.decision_threshold,
            threshold_objective=params.threshold_objective,
            gate=dict(params.gate),
            bootstrap_resamples=config.bootstrap_resamples,
            volume_size_gb=config.processing_volume_gb,
            kms_key_id=config.kms_key_id,
            session=session,
        )
        register = create_register_step(
            name=REGISTER_STEP,
            display_name="Register-model-version",
            model_builder=model_builder,
            model_package_group_name=params.model_package_group_name,
            approval_status=params.model_approval_status,
            evaluation_json_uri=evaluation.evaluation_json_uri,
            data_statistics_uri=baseline.statistics_uri,
            data_constraints_uri=baseline.constraints_uri,
            decision_record={
                **{key: evaluation_value(evaluation, f"{RECORD_PATH}.{key}") for key in RECORD_KEYS},
                "pipeline_execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            },
            inference_instance_types=config.inference_instance_types,
            transform_instance_types=(config.transform_instance_type,),
            description=f"Registered by pipeline {config.pipeline_name} after passing its quality gate.",
        )
        fail = create_fail_step(name=FAIL_STEP, display_name="Quality-gate-failed",
                                summary=evaluation_value(evaluation, SUMMARY_PATH))
        gate = create_condition_step(
            name=CONDITION_STEP,
            display_name="Check-quality-gate",
            evaluation=evaluation,
            if_steps=[register],
            else_steps=[fail],
        )
    return Pipeline(
        name=config.pipeline_name,
        parameters=params.all(),
        steps=[freeze.step, champion.step, create_model, transform, baseline.step, evaluation.step, gate],
        sagemaker_session=session,
    )


def definition_json(pipeline: "Pipeline") -> dict:
    """The parsed definition JSON (what SageMaker stores and the local runner interprets)."""
    import warnings

    with _offline_role_checks(), warnings.catch_warnings():
        # The champion function is deployed by upsert, not by the SDK: naming only its ARN is intended.
        warnings.filterwarnings("ignore", message="Lambda function won't be updated")
        return json.loads(pipeline.definition())


def build_definition(config: PipelineConfig, *, code: CodeBundle | None = None) -> dict:
    """``create_pipeline(config)`` rendered to its definition JSON, offline (a fresh dict each call)."""
    return json.loads(_definition_text(config, code or processing_code_bundle()))


@functools.lru_cache(maxsize=8)
def _definition_text(config: PipelineConfig, code: CodeBundle) -> str:
    # Memoised: the rendering is a pure function of (config, code) and costs seconds in the SDK.
    return json.dumps(definition_json(create_pipeline(config, code=code)))


def quiet_sdk_logging(verbose: bool = False) -> None:
    """The SDK logs INFO chatter and per-step warnings about fields it drops; keep CLIs readable."""
    import logging

    # Import first: the SDK configures its loggers at import time.
    import sagemaker.mlops.workflow.pipeline  # noqa: F401
    import sagemaker.serve.model_builder  # noqa: F401

    level = logging.INFO if verbose else logging.ERROR
    # The SDK sets levels on its own child loggers, so setting the parent is not enough.
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("sagemaker", "botocore", "boto3")]
    for name in ["sagemaker", *names]:
        logging.getLogger(name).setLevel(level)
    import warnings

    if not verbose:
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every CLI that builds the definition."""
    parser.add_argument("--bucket", help=f"artifact bucket (env {ENV_VARS['bucket']})")
    parser.add_argument("--prefix", help=f"S3 key prefix (env {ENV_VARS['prefix']})")
    parser.add_argument("--region", help=f"AWS region (env {ENV_VARS['region']}; default us-east-1)")
    parser.add_argument("--pipeline-name", help=f"pipeline name (env {ENV_VARS['pipeline_name']})")
    parser.add_argument(
        "--model-package-group",
        help=f"default model package group (env {ENV_VARS['model_package_group']})",
    )
    parser.add_argument("--kms-key-id", help=f"KMS key for job volumes and outputs (env {ENV_VARS['kms_key_id']})")
    parser.add_argument("--tags", nargs="*", metavar="KEY=VALUE", help="tags for the pipeline")
    parser.add_argument("--verbose", action="store_true", help="show the SageMaker SDK's log messages")


def config_from_args(args: argparse.Namespace, **extra: object) -> PipelineConfig:
    """Resolve a PipelineConfig from parsed flags, then the environment, then defaults."""
    overrides = {
        "bucket": args.bucket,
        "prefix": args.prefix,
        "region": args.region,
        "pipeline_name": args.pipeline_name,
        "model_package_group": args.model_package_group,
        "kms_key_id": args.kms_key_id,
        "tags": parse_tags(args.tags) if args.tags else None,
        **extra,
    }
    return PipelineConfig.from_sources(overrides)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags (also used by tests that check buildspec.yml's commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.definition",
        description="Print the SageMaker pipeline definition JSON (no AWS credentials or network needed).",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--role-arn",
        help=f"execution role written into the steps (env {ENV_VARS['role_arn']}; default a placeholder)",
    )
    parser.add_argument("--out", help="write the JSON to this file instead of standard output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, role_arn=args.role_arn)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prepare_sdk_environment(config.region)
    quiet_sdk_logging(args.verbose)
    write_definition(build_definition(config), args.out)
    return 0


def write_definition(definition: dict, out: str | None) -> None:
    """The definition JSON to ``out`` (atomically) or to standard output."""
    text = json.dumps(definition, indent=2) + "\n"
    if out:
        from processing_scripts.outputs import write_text_atomic

        write_text_atomic(out, text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    sys.exit(main())
