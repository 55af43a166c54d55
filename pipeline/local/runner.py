"""Execute a SageMaker pipeline definition JSON on this machine: no AWS, no Docker.

The runner interprets the same JSON that upsert sends to SageMaker, so a wrong property reference,
JsonGet path, parameter or condition fails here as it would there. Jobs read and write ``s3://`` URIs
through a local object store; processing scripts run in a subprocess with this Python; models are
served in-process through their ``code/inference.py`` handlers, as the scikit-learn container does.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.local.conditions import evaluate_condition
from pipeline.local.execution import ExecutionResult, StepFailure, StepRecord, arn, iso, new_execution_id
from pipeline.local.expressions import ExpressionError, Scope, evaluate
from pipeline.local.journal import ExecutionLock, mark_interrupted, record_dir, write_record
from pipeline.local.model_archive import ModelArchiveError, load_serving_handlers
from pipeline.local.ordering import all_step_names, execution_order
from pipeline.local.processing import read_property_file, run_processing_job
from pipeline.local.records import TransformError
from pipeline.local.scratch import job_scratch
from pipeline.local.store import LocalObjectStore, StoreError
from pipeline.local.transform import run_transform
from pipeline.local.transform_spec import TransformSpec
from pipeline.parameters import resolve_parameters
from pipeline.registry.errors import RegistryError


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
        """Run every step; a failure stops the execution. The record is written under executions/ when it
        starts and after every step, so an interrupted run leaves one (marked by the next run); running
        again with the same ``execution_id`` is a retry: it registers no second package."""
        for interrupted in mark_interrupted(self.work_dir, self._package_generated_by):
            self.emit(f"execution {interrupted} was interrupted: its record now says Failed")
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
                "StartDateTime": iso(result.started),
                "CurrentDateTime": iso(result.started),
            },
            known_steps=frozenset(all_step_names(steps)),
            steps=result.properties,
        )
        with ExecutionLock(self.work_dir, result.execution_id):
            self.emit(f"execution {result.execution_id} of {pipeline_name}")
            self._write_record(result)
            self._run_steps(steps, scope, result)
            self._finish(result)
        return result

    def _run_steps(self, steps: list, scope: Scope, result: ExecutionResult) -> None:
        try:
            queue = list(execution_order(steps, set(scope.known_steps)))
            while queue:
                step = queue.pop(0)
                branch = self._run_step(step, scope, result)
                self._write_record(result)
                if branch is None:
                    break
                queue = branch + queue
        except ExpressionError as error:
            result.status, result.failure_reason = "Failed", str(error)

    def _finish(self, result: ExecutionResult) -> None:
        if result.status == "Executing":
            result.status = "Succeeded"
        result.ended = time.time()
        if result.failed_step:  # its line above gave the reason: said once
            self.emit(f"execution {result.status} at step {result.failed_step}")
        else:
            self.emit(f"execution {result.status}" + (f": {result.failure_reason}" if result.failure_reason else ""))
        self._write_record(result)

    # -- steps --

    def _run_step(self, step: Mapping[str, Any], scope: Scope, result: ExecutionResult) -> list | None:
        """Run one step; returns the steps to run next (a condition's branch), or None to stop."""
        record = StepRecord(name=step["Name"], type=step["Type"], started=time.time())
        result.steps.append(record)
        self._write_record(result)  # the record shows the step running: where an interrupted run stopped
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
        except (RegistryError, StoreError) as error:  # the registry refused the package; a URI leaves the store
            failure = StepFailure(str(error))
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
        name = result.job_name(step["Name"])
        self._models[name] = container
        scope.steps[step["Name"]] = {**args, "ModelName": name}
        record.metadata = {"Model": {"Arn": arn(self.region, f"model/{name}")}}

    def _transform(self, step, scope, result, record) -> None:
        args = evaluate(step["Arguments"], scope)
        try:
            spec = TransformSpec.from_request(args)
        except TransformError as error:
            raise StepFailure(str(error)) from None
        container = self._models.get(spec.model_name)
        if container is None:
            raise StepFailure(f"model {spec.model_name!r} does not exist")
        with job_scratch(self._scratch()) as tmp:  # also removes what killed runs left there
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
                    output=self._record_dir(result) / f"{step['Name']}.log",  # the model's prints, not our stdout
                )
                run_transform(spec, handlers, sorted(files), outputs, input_root=inputs, progress=self.progress)
            except (ModelArchiveError, TransformError) as error:
                raise StepFailure(f"ClientError: {error}") from None
            self.store.upload_dir(outputs, spec.output_path)
        name = result.job_name(step["Name"])
        scope.steps[step["Name"]] = {**args, "TransformJobName": name, "TransformJobStatus": "Completed"}
        record.metadata = {"TransformJob": {"Arn": arn(self.region, f"transform-job/{name}")}}

    def _processing(self, step, scope, result, record) -> None:
        args = evaluate(step["Arguments"], scope)
        log_path = self._record_dir(result) / f"{step['Name']}.log"
        run_processing_job(args, self.store, scratch=self._scratch(), log_path=log_path)
        name = result.job_name(step["Name"])
        properties = {**args, "ProcessingJobName": name, "ProcessingJobStatus": "Completed"}
        for spec in step.get("PropertyFiles", []):
            document = read_property_file(properties, spec, self.store)
            scope.property_files[(step["Name"], spec["PropertyFileName"])] = lambda d=document: d
        scope.steps[step["Name"]] = properties  # only once its property files are read: a failed step has none
        record.metadata = {"ProcessingJob": {"Arn": arn(self.region, f"processing-job/{name}")}}

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
        baselines = args.get("DriftCheckBaselines") or {}
        # Every attached file must exist: a package whose baselines name nothing fails later checks.
        for what, attached in (("model metrics", metrics), ("drift-check baseline", baselines)):
            for section in attached.values():
                for source in section.values():
                    if "S3Uri" in source and not self.store.exists(source["S3Uri"]):
                        raise StepFailure(f"{what} not found at {source['S3Uri']}")
        package = self.registry.register(
            args["ModelPackageGroupName"],
            model_data_url=container["ModelDataUrl"],
            image_uri=container["Image"],
            environment=container.get("Environment", {}),
            model_metrics=metrics,
            drift_check_baselines=baselines,
            approval_status=args.get("ModelApprovalStatus", "PendingManualApproval"),
            description=args.get("ModelPackageDescription"),
            customer_metadata=args.get("CustomerMetadataProperties"),
            content_types=args["InferenceSpecification"].get("SupportedContentTypes"),
            response_types=args["InferenceSpecification"].get("SupportedResponseMIMETypes"),
            generated_by=result.execution_arn,  # a retry of this execution finds this package
        )
        package_arn = package["ModelPackageArn"]
        result.model_package_arn = package_arn
        scope.steps[step["Name"]] = {"ModelPackageArn": package_arn}
        record.metadata = {"RegisterModel": {"Arn": package_arn}}

    def _lambda(self, step, scope, result, record) -> None:
        function_arn = step["FunctionArn"]
        function = self.functions.get(function_arn)
        if function is None:
            raise StepFailure(
                f"unsupported Lambda function {function_arn!r}: the local runner has no implementation of it")
        event = evaluate(step.get("Arguments", {}), scope)
        try:
            outputs = function(event)
        except (ValueError, RuntimeError, OSError) as error:
            raise StepFailure(f"Lambda function {function_arn.rsplit(':', 1)[-1]} failed: {error}") from None
        declared = [o["OutputName"] for o in step.get("OutputParameters", [])]
        missing = [name for name in declared if name not in outputs]
        if missing:
            raise StepFailure(f"Lambda function {function_arn!r} did not return the declared outputs {missing}")
        values = {name: str(outputs[name]) for name in declared}
        scope.steps[step["Name"]] = {"OutputParameters": values}
        returned = [{"Name": k, "Value": v} for k, v in values.items()]
        record.metadata = {"Lambda": {"Arn": function_arn, "OutputParameters": returned}}

    def _fail(self, step, scope, result, record) -> None:
        message = evaluate(step["Arguments"].get("ErrorMessage", ""), scope)
        record.metadata = {"Fail": {"ErrorMessage": message}}
        raise StepFailure(message)

    # -- helpers --

    def _scratch(self) -> Path:
        path = self.work_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _record_dir(self, result: ExecutionResult) -> Path:
        return record_dir(self.work_dir, result.execution_id)

    def _write_record(self, result: ExecutionResult) -> None:
        write_record(self.work_dir, result.execution_id, result.to_json())

    def _package_generated_by(self, execution_arn: str) -> str | None:
        """The ARN of the package the execution registered, if the registry holds one."""
        if self.registry is None:
            return None
        found = [p["ModelPackageArn"] for p in self.registry.list_packages()
                 if (p.get("MetadataProperties") or {}).get("GeneratedBy") == execution_arn]
        return found[0] if found else None


_EXECUTORS: dict[str, Callable] = {
    "Model": LocalRunner._model,
    "Transform": LocalRunner._transform,
    "Processing": LocalRunner._processing,
    "Condition": LocalRunner._condition,
    "RegisterModel": LocalRunner._register,
    "Fail": LocalRunner._fail,
    "Lambda": LocalRunner._lambda,
}

