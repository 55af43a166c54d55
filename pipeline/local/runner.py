"""Execute a SageMaker pipeline definition JSON on this machine: no AWS, no Docker.

The runner interprets the same JSON that upsert sends to SageMaker, so a wrong property reference,
JsonGet path, parameter or condition fails here as it would there. Jobs read and write ``s3://`` URIs
through a local object store; processing scripts run in a subprocess with this Python; models are
served in-process through their ``code/inference.py`` handlers, as the scikit-learn container does.
"""
from __future__ import annotations

import json
import operator
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.atomic import write_text_atomic
from pipeline.local.expressions import ExpressionError, Scope, evaluate, referenced_steps
from pipeline.local.model_archive import ModelArchiveError, load_serving_handlers
from pipeline.local.store import LocalObjectStore
from pipeline.local.records import TransformError
from pipeline.local.transform import run_transform
from pipeline.local.transform_spec import TransformSpec
from pipeline.parameters import resolve_parameters

CONTAINER_ROOT = "/opt/ml/processing"
ACCOUNT = "000000000000"


class StepFailure(RuntimeError):
    """A step failed; the message becomes the step's FailureReason."""


@dataclass
class StepRecord:
    """One row of ListPipelineExecutionSteps."""

    name: str
    type: str
    status: str = "Executing"
    started: float = 0.0
    ended: float = 0.0
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        record = {
            "StepName": self.name,
            "StepType": self.type,
            "StepStatus": self.status,
            "StartTime": _iso(self.started),
            "EndTime": _iso(self.ended),
            "Metadata": self.metadata,
        }
        if self.failure_reason:
            record["FailureReason"] = self.failure_reason
        return record


@dataclass
class ExecutionResult:
    """DescribePipelineExecution + ListPipelineExecutionSteps, as one document."""

    pipeline_name: str
    execution_id: str
    region: str
    parameters: dict[str, Any]
    status: str = "Executing"
    failure_reason: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    model_package_arn: str | None = None
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    # Step name → Describe*-shaped properties of the steps that ran (not part of the JSON record).
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def pipeline_arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:pipeline/{self.pipeline_name}"

    @property
    def execution_arn(self) -> str:
        return f"{self.pipeline_arn}/execution/{self.execution_id}"

    def to_json(self) -> dict[str, Any]:
        document = {
            "PipelineArn": self.pipeline_arn,
            "PipelineExecutionArn": self.execution_arn,
            "PipelineExecutionStatus": self.status,
            "CreationTime": _iso(self.started),
            "LastModifiedTime": _iso(self.ended or time.time()),
            "PipelineParameters": [{"Name": k, "Value": _param_text(v)} for k, v in self.parameters.items()],
            "Steps": [step.to_json() for step in self.steps],
        }
        if self.failure_reason:
            document["FailureReason"] = self.failure_reason
        if self.model_package_arn:
            document["ModelPackageArn"] = self.model_package_arn
        return document


def _iso(timestamp: float) -> str | None:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat() if timestamp else None


def _param_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def new_execution_id() -> str:
    """12 lowercase alphanumerics, like SageMaker's execution ids."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


# --- ordering ------------------------------------------------------------------------------------------


def step_dependencies(step: Mapping[str, Any]) -> set[str]:
    """Steps whose results ``step`` (or, for a condition, any step in its branches) reads or names."""
    deps = set(step.get("DependsOn", [])) | referenced_steps(step.get("Arguments", {}))
    if step["Type"] == "Condition":
        nested = step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", [])
        for child in nested:
            deps |= step_dependencies(child)
        deps -= {child["Name"] for child in nested}
    deps.discard(step["Name"])
    return deps


def execution_order(steps: list[Mapping[str, Any]], known: set[str]) -> list[Mapping[str, Any]]:
    """Topological order by data dependencies and DependsOn, definition order among equals."""
    pending = list(steps)
    deps = {s["Name"]: step_dependencies(s) for s in steps}
    for name, needs in deps.items():
        unknown = sorted(needs - known)
        if unknown:
            raise ExpressionError(f"step {name!r} depends on unknown step {unknown[0]!r}")
    top_level = {s["Name"] for s in steps}
    done: set[str] = set()
    ordered = []
    while pending:
        ready = [s for s in pending if (deps[s["Name"]] & top_level) <= done]
        if not ready:
            raise ExpressionError(f"dependency cycle among steps {sorted(s['Name'] for s in pending)}")
        step = ready[0]
        ordered.append(step)
        done.add(step["Name"])
        pending.remove(step)
    return ordered


def all_step_names(steps: list[Mapping[str, Any]]) -> set[str]:
    names = set()
    for step in steps:
        names.add(step["Name"])
        if step["Type"] == "Condition":
            names |= all_step_names(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return names


# --- conditions ----------------------------------------------------------------------------------------

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.ne,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}


def evaluate_condition(condition: Mapping[str, Any], scope: Scope) -> bool:
    """One condition of a ConditionStep (SageMaker's condition types)."""
    kind = condition["Type"]
    if kind in _COMPARISONS:
        left = evaluate(condition["LeftValue"], scope)
        right = evaluate(condition["RightValue"], scope)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if kind not in ("Equals", "NotEquals") and not numeric:
            raise StepFailure(f"condition {kind} cannot compare {left!r} with {right!r}: both must be numbers")
        return bool(_COMPARISONS[kind](left, right))
    if kind == "In":
        value = evaluate(condition["QueryValue"], scope)
        return value in evaluate(condition["Values"], scope)
    if kind == "Not":
        return not evaluate_condition(condition["Condition"], scope)
    if kind == "Or":
        return any(evaluate_condition(c, scope) for c in condition["Conditions"])
    raise StepFailure(f"unsupported condition type {kind!r}")


# --- the runner ----------------------------------------------------------------------------------------


class LocalRunner:
    """Runs definitions against a work directory holding the object store, registry and records."""

    def __init__(
        self,
        work_dir: Path,
        *,
        registry,
        region: str = "us-east-1",
        emit: Callable[[str], None] = print,
        progress: Callable[[int, int], None] | None = None,
        functions: Mapping[str, Callable[[dict], Mapping[str, Any]]] | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        # Lambda steps: FunctionArn → a local implementation taking the event and returning the outputs.
        self.functions = dict(functions or {})
        self.store = LocalObjectStore(self.work_dir)
        self.registry = registry
        self.region = region
        self.emit = emit
        self.progress = progress
        self._models: dict[str, dict[str, Any]] = {}

    # -- public --

    def run(
        self,
        definition: Mapping[str, Any],
        *,
        pipeline_name: str,
        overrides: Mapping[str, str] | None = None,
        execution_id: str | None = None,
    ) -> ExecutionResult:
        """Run every step; a failure stops the execution. The record is written under executions/."""
        parameters = resolve_parameters(definition.get("Parameters", []), overrides or {})
        result = ExecutionResult(
            pipeline_name=pipeline_name,
            execution_id=execution_id or new_execution_id(),
            region=self.region,
            parameters=parameters,
        )
        steps = definition.get("Steps", [])
        scope = Scope(
            parameters=parameters,
            execution={
                "PipelineExecutionId": result.execution_id,
                "PipelineExecutionArn": result.execution_arn,
                "PipelineName": pipeline_name,
                "PipelineArn": result.pipeline_arn,
                "StartDateTime": _iso(result.started),
                "CurrentDateTime": _iso(result.started),
            },
            known_steps=frozenset(all_step_names(steps)),
            steps=result.properties,
        )
        self.emit(f"execution {result.execution_id} of {pipeline_name}")
        try:
            queue = list(execution_order(steps, set(scope.known_steps)))
            while queue:
                step = queue.pop(0)
                branch = self._run_step(step, scope, result)
                if branch is None:
                    break
                queue = branch + queue
        except ExpressionError as error:
            result.status, result.failure_reason = "Failed", str(error)
        if result.status == "Executing":
            result.status = "Succeeded"
        result.ended = time.time()
        reason = f": {result.failure_reason}" if result.failure_reason else ""
        self.emit(f"execution {result.status}{reason}")
        self._write_record(result)
        return result

    # -- steps --

    def _run_step(self, step: Mapping[str, Any], scope: Scope, result: ExecutionResult) -> list | None:
        """Run one step; returns the steps to run next (a condition's branch), or None to stop."""
        record = StepRecord(name=step["Name"], type=step["Type"], started=time.time())
        result.steps.append(record)
        executor = _EXECUTORS.get(step["Type"])
        branch: list = []
        failure: Exception | None = None
        try:
            if executor is None:
                raise StepFailure(f"unsupported step type {step['Type']!r} (step {step['Name']!r})")
            outcome = executor(self, step, scope, result, record)
            if step["Type"] == "Condition":
                branch = outcome
            record.status = "Succeeded"
        except (StepFailure, ExpressionError) as error:
            failure = error
        except (KeyError, IndexError, TypeError) as error:
            # A field the step needs is missing or malformed: SageMaker would reject the definition.
            failure = StepFailure(f"malformed {step['Type']} step arguments ({type(error).__name__}: {error})")
        except OSError as error:
            failure = StepFailure(f"I/O error: {error}")
        if failure is not None:
            record.status, record.failure_reason = "Failed", str(failure)
            result.status = "Failed"
            result.failure_reason = (
                str(failure) if step["Type"] == "Fail" else f"Step failure: {step['Name']}: {failure}"
            )
        record.ended = time.time()
        reason = f" - {record.failure_reason}" if record.failure_reason else ""
        self.emit(f"  {record.name:<22} {record.status:<10} {record.ended - record.started:6.1f}s{reason}")
        return None if record.status == "Failed" else branch

    def _model(self, step, scope, result, record) -> None:
        args = evaluate(step["Arguments"], scope)
        container = args.get("PrimaryContainer") or (args.get("Containers") or [None])[0]
        if not container:
            raise StepFailure("CreateModel needs a PrimaryContainer")
        model_data = container.get("ModelDataUrl")
        if not model_data or not self.store.exists(model_data):
            raise StepFailure(f"Could not find model data at {model_data}")
        name = f"{result.pipeline_name}-{step['Name']}-{result.execution_id}"[:63]
        self._models[name] = container
        scope.steps[step["Name"]] = {**args, "ModelName": name}
        record.metadata = {"Model": {"Arn": f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:model/{name}"}}

    def _transform(self, step, scope, result, record) -> None:
        args = evaluate(step["Arguments"], scope)
        try:
            spec = TransformSpec.from_request(args)
        except TransformError as error:
            raise StepFailure(str(error)) from None
        container = self._models.get(spec.model_name)
        if container is None:
            raise StepFailure(f"model {spec.model_name!r} does not exist")
        with tempfile.TemporaryDirectory(dir=self._scratch()) as tmp:
            inputs, outputs, model_dir = Path(tmp, "input"), Path(tmp, "output"), Path(tmp, "model")
            files = self.store.download_prefix(spec.input_uri, inputs)
            if not files:
                raise StepFailure(f"no input objects under {spec.input_uri}")
            # The job's Environment is set in the model's container on top of the model's own.
            environment = {**container.get("Environment", {}), **spec.environment}
            try:
                handlers = load_serving_handlers(
                    self.store.path_for(container["ModelDataUrl"]),
                    model_dir,
                    program=environment.get("SAGEMAKER_PROGRAM", "inference.py"),
                    environment=environment,  # its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT answers a missing Accept
                )
                run_transform(spec, handlers, sorted(files), outputs, input_root=inputs, progress=self.progress)
            except (ModelArchiveError, TransformError) as error:
                raise StepFailure(f"ClientError: {error}") from None
            self.store.upload_dir(outputs, spec.output_path)
        name = f"{result.pipeline_name}-{step['Name']}-{result.execution_id}"[:63]
        scope.steps[step["Name"]] = {**args, "TransformJobName": name, "TransformJobStatus": "Completed"}
        record.metadata = {"TransformJob": {"Arn": f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:transform-job/{name}"}}

    def _processing(self, step, scope, result, record) -> None:
        args = evaluate(step["Arguments"], scope)
        app = args["AppSpecification"]
        with tempfile.TemporaryDirectory(dir=self._scratch()) as tmp:
            root = Path(tmp)

            def local(path: str) -> str:
                # The container's /opt/ml/processing tree lives under a temporary directory here.
                if path == CONTAINER_ROOT or path.startswith(CONTAINER_ROOT + "/"):
                    return str(root) + path[len(CONTAINER_ROOT):]
                return path

            for item in args.get("ProcessingInputs", []):
                source = item.get("S3Input")
                if source is None:
                    raise StepFailure(f"input {item.get('InputName')!r}: only S3Input is supported locally")
                if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                    raise StepFailure(f"input {item['InputName']!r}: unsupported S3DataType {source['S3DataType']!r}")
                if not self.store.download_prefix(source["S3Uri"], Path(local(source["LocalPath"]))):
                    raise StepFailure(f"input {item['InputName']!r}: no objects under {source['S3Uri']}")
            outputs = args.get("ProcessingOutputConfig", {}).get("Outputs", [])
            for item in outputs:
                Path(local(item["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
            command = [local(part) for part in app.get("ContainerEntrypoint", [])]
            command += [local(part) for part in app.get("ContainerArguments", [])]
            if not command or Path(command[0]).name not in ("python", "python3"):
                raise StepFailure(f"unsupported entrypoint {app.get('ContainerEntrypoint')!r}: only python scripts run locally")
            command[0] = sys.executable
            # Container paths in the environment (PYTHONPATH: the code bundle) map like the arguments; the
            # subprocess runs in the job's folder so `python -m` finds the staged bundle, not this checkout.
            env = {**os.environ, **{k: local(v) for k, v in args.get("Environment", {}).items()}}
            log_path = self._record_dir(result) / f"{step['Name']}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "w") as log:
                completed = subprocess.run(command, env=env, cwd=root, stdout=log, stderr=subprocess.PIPE, text=True)
                log.write(completed.stderr)
            if completed.returncode != 0:
                last = next((ln for ln in reversed(completed.stderr.splitlines()) if ln.strip()), "")
                raise StepFailure(f"AlgorithmError: {last} (exit code {completed.returncode}; log: {log_path})")
            for item in outputs:
                self.store.upload_dir(Path(local(item["S3Output"]["LocalPath"])), item["S3Output"]["S3Uri"])
        name = f"{result.pipeline_name}-{step['Name']}-{result.execution_id}"[:63]
        properties = {**args, "ProcessingJobName": name, "ProcessingJobStatus": "Completed"}
        scope.steps[step["Name"]] = properties
        for spec in step.get("PropertyFiles", []):
            uri = self._property_file_uri(properties, spec)
            document = self._read_json(uri, spec["PropertyFileName"])
            scope.property_files[(step["Name"], spec["PropertyFileName"])] = lambda d=document: d
        record.metadata = {"ProcessingJob": {"Arn": f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:processing-job/{name}"}}

    def _condition(self, step, scope, result, record) -> list:
        outcome = all(evaluate_condition(c, scope) for c in step["Arguments"]["Conditions"])
        scope.steps[step["Name"]] = {"Outcome": str(outcome).lower()}
        record.metadata = {"Condition": {"Outcome": "True" if outcome else "False"}}
        branch = step["Arguments"]["IfSteps" if outcome else "ElseSteps"]
        return execution_order(list(branch), set(scope.known_steps))

    def _register(self, step, scope, result, record) -> None:
        args = evaluate(step["Arguments"], scope)
        [container, *_] = args["InferenceSpecification"]["Containers"]
        metrics = args.get("ModelMetrics") or {}
        for section in metrics.values():
            for source in section.values():
                if "S3Uri" in source and not self.store.exists(source["S3Uri"]):
                    raise StepFailure(f"model metrics not found at {source['S3Uri']}")
        package = self.registry.register(
            args["ModelPackageGroupName"],
            model_data_url=container["ModelDataUrl"],
            image_uri=container["Image"],
            environment=container.get("Environment", {}),
            model_metrics=metrics,
            drift_check_baselines=args.get("DriftCheckBaselines"),
            approval_status=args.get("ModelApprovalStatus", "PendingManualApproval"),
            description=args.get("ModelPackageDescription"),
            customer_metadata=args.get("CustomerMetadataProperties"),
            content_types=args["InferenceSpecification"].get("SupportedContentTypes"),
            response_types=args["InferenceSpecification"].get("SupportedResponseMIMETypes"),
        )
        arn = package["ModelPackageArn"]
        result.model_package_arn = arn
        scope.steps[step["Name"]] = {"ModelPackageArn": arn}
        record.metadata = {"RegisterModel": {"Arn": arn}}

    def _lambda(self, step, scope, result, record) -> None:
        arn = step["FunctionArn"]
        function = self.functions.get(arn)
        if function is None:
            raise StepFailure(f"unsupported Lambda function {arn!r}: the local runner has no implementation of it")
        event = evaluate(step.get("Arguments", {}), scope)
        try:
            outputs = function(event)
        except (ValueError, RuntimeError, OSError) as error:
            raise StepFailure(f"Lambda function {arn.rsplit(':', 1)[-1]} failed: {error}") from None
        declared = [o["OutputName"] for o in step.get("OutputParameters", [])]
        missing = [name for name in declared if name not in outputs]
        if missing:
            raise StepFailure(f"Lambda function {arn!r} did not return the declared outputs {missing}")
        values = {name: str(outputs[name]) for name in declared}
        scope.steps[step["Name"]] = {"OutputParameters": values}
        record.metadata = {"Lambda": {"Arn": arn, "OutputParameters": [{"Name": k, "Value": v} for k, v in values.items()]}}

    def _fail(self, step, scope, result, record) -> None:
        message = evaluate(step["Arguments"].get("ErrorMessage", ""), scope)
        record.metadata = {"Fail": {"ErrorMessage": message}}
        raise StepFailure(message)

    # -- helpers --

    def _property_file_uri(self, properties: Mapping[str, Any], spec: Mapping[str, str]) -> str:
        for output in properties.get("ProcessingOutputConfig", {}).get("Outputs", []):
            if output["OutputName"] == spec["OutputName"]:
                return output["S3Output"]["S3Uri"].rstrip("/") + "/" + spec["FilePath"]
        raise StepFailure(f"property file {spec['PropertyFileName']!r} names unknown output {spec['OutputName']!r}")

    def _read_json(self, uri: str, name: str) -> Any:
        if not self.store.exists(uri):
            raise StepFailure(f"property file {name!r} not found at {uri}")
        try:
            return json.loads(self.store.get_bytes(uri))
        except ValueError as error:
            raise StepFailure(f"property file {name!r} at {uri} is not valid JSON: {error}") from None

    def _scratch(self) -> Path:
        path = self.work_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _record_dir(self, result: ExecutionResult) -> Path:
        return self.work_dir / "executions" / result.execution_id

    def _write_record(self, result: ExecutionResult) -> None:
        write_text_atomic(self._record_dir(result) / "execution.json", json.dumps(result.to_json(), indent=2) + "\n")


_EXECUTORS: dict[str, Callable] = {
    "Model": LocalRunner._model,
    "Transform": LocalRunner._transform,
    "Processing": LocalRunner._processing,
    "Condition": LocalRunner._condition,
    "RegisterModel": LocalRunner._register,
    "Fail": LocalRunner._fail,
    "Lambda": LocalRunner._lambda,
}

