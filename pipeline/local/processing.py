"""A Processing step on this machine: stage the S3 inputs, run the python entrypoint, upload the outputs.

The container's ``/opt/ml/processing`` tree is a temporary folder here; every container path in the
entrypoint, the arguments and the environment (PYTHONPATH: the code bundle) is mapped into it. The
script runs in a subprocess with this Python, in the job's folder, so ``python -m`` imports the staged
bundle, not this checkout. Its stdout and stderr go to a log next to the execution record.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

from pipeline.local.execution import StepFailure
from pipeline.local.scratch import job_scratch
from pipeline.local.store import LocalObjectStore
from processing_scripts.outputs import IncompleteOutputs, check_output_set

CONTAINER_ROOT = "/opt/ml/processing"  # where SageMaker mounts a processing job's inputs and outputs


def run_processing_job(request: Mapping[str, Any], store: LocalObjectStore, *, scratch: Path, log_path: Path) -> None:
    """Run one CreateProcessingJob request (a Processing step's evaluated ``Arguments``) to completion.

    Fails with :class:`StepFailure`: an unsupported input or entrypoint, a missing input, or the
    script's last stderr line when it exits non-zero (AlgorithmError, as SageMaker reports it).
    """
    app = request["AppSpecification"]
    with job_scratch(scratch) as tmp:  # also removes what killed runs left there
        # Absolute: the job runs in this folder, so a relative --work-dir would otherwise point nowhere.
        root = Path(tmp).resolve()

        def local(path: str) -> str:
            if path == CONTAINER_ROOT or path.startswith(CONTAINER_ROOT + "/"):
                return str(root) + path[len(CONTAINER_ROOT):]
            return path

        for item in request.get("ProcessingInputs", []):
            source = item.get("S3Input")
            if source is None:
                raise StepFailure(f"input {item.get('InputName')!r}: only S3Input is supported locally")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise StepFailure(f"input {item['InputName']!r}: unsupported S3DataType {source['S3DataType']!r}")
            if not store.download_prefix(source["S3Uri"], Path(local(source["LocalPath"]))):
                raise StepFailure(f"input {item['InputName']!r}: no objects under {source['S3Uri']}")
        outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for item in outputs:
            Path(local(item["S3Output"]["LocalPath"])).mkdir(parents=True, exist_ok=True)
        command = [local(part) for part in app.get("ContainerEntrypoint", [])]
        command += [local(part) for part in app.get("ContainerArguments", [])]
        if not command or Path(command[0]).name not in ("python", "python3"):
            raise StepFailure(f"unsupported entrypoint {app.get('ContainerEntrypoint')!r}: only python scripts run locally")
        command[0] = sys.executable
        env = {**os.environ, **{k: local(v) for k, v in request.get("Environment", {}).items()}}
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            completed = subprocess.run(command, env=env, cwd=root, stdout=log, stderr=subprocess.PIPE, text=True)
            log.write(completed.stderr)
        if completed.returncode != 0:
            last = next((ln for ln in reversed(completed.stderr.splitlines()) if ln.strip()), "")
            raise StepFailure(f"AlgorithmError: {last} (exit code {completed.returncode}; log: {log_path})")
        for item in outputs:
            upload_output_set(store, Path(local(item["S3Output"]["LocalPath"])), item["S3Output"]["S3Uri"],
                              item["OutputName"])


def upload_output_set(store: LocalObjectStore, folder: Path, uri: str, name: str) -> list[str]:
    """Upload the files a script left in ``folder`` to ``uri`` (the folder's tree, as SageMaker uploads it
    at the end of the job; a writer's staging leftovers are not outputs). A folder whose set a writer was
    caught replacing is a StepFailure and nothing of it is uploaded, so no later step reads a mixed set."""
    try:
        files = check_output_set(folder)
    except IncompleteOutputs as error:
        raise StepFailure(f"output {name!r}: {error}") from None
    base = uri.rstrip("/")
    return [store.put_file(f"{base}/{path.relative_to(folder).as_posix()}", path) for path in files]


def read_property_file(properties: Mapping[str, Any], spec: Mapping[str, str], store: LocalObjectStore) -> Any:
    """The parsed JSON of a PropertyFile (``spec``) that a completed processing job (``properties``) wrote."""
    name = spec["PropertyFileName"]
    for output in properties.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if output["OutputName"] == spec["OutputName"]:
            uri = output["S3Output"]["S3Uri"].rstrip("/") + "/" + spec["FilePath"]
            break
    else:
        raise StepFailure(f"property file {name!r} names unknown output {spec['OutputName']!r}")
    if not store.exists(uri):
        raise StepFailure(f"property file {name!r} not found at {uri}")
    try:
        return json.loads(store.get_bytes(uri))
    except ValueError as error:
        raise StepFailure(f"property file {name!r} at {uri} is not valid JSON: {error}") from None
