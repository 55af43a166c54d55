"""The Model Registry, locally (SQLite) or in SageMaker (boto3), behind one interface and one CLI.

* ``base``      -- the ``ModelRegistry`` interface, the register request (``PackageRequest``), ARNs
* ``review``    -- the review policy: approve/reject rules, ``--force``, who reviewed
* ``local``     -- ``LocalRegistry``, an SQLite file (what the local runner registers into)
* ``sagemaker`` -- ``SageMakerRegistry``, the SageMaker Model Registry through boto3
* ``cli``       -- ``python -m pipeline.registry list|describe|approve|reject|baseline``
* ``errors``    -- ``RegistryError`` (the caller's mistake) and ``AwsError`` (the AWS call failed)

The rules for CustomerMetadataProperties are processing_scripts/customer_metadata.py's (the gate
writes the decision record with them inside the processing container).
"""
from pipeline.registry.base import (
    APPROVAL_STATUSES, DEFAULT_REGION, METRIC_SECTIONS, ModelRegistry, PackageRequest, parse_arn,
)
from pipeline.registry.cli import DEFAULT_WORK_DIR, build_parser, drift_baseline, main, open_registry
from pipeline.registry.errors import AwsError, RegistryError
from pipeline.registry.local import LOCAL_ACCOUNT, LocalRegistry
from pipeline.registry.review import Review, reviewer
from pipeline.registry.sagemaker import SageMakerRegistry

__all__ = [
    "APPROVAL_STATUSES", "DEFAULT_REGION", "DEFAULT_WORK_DIR", "LOCAL_ACCOUNT", "METRIC_SECTIONS", "AwsError",
    "LocalRegistry", "ModelRegistry", "PackageRequest", "RegistryError", "Review", "SageMakerRegistry",
    "build_parser", "drift_baseline", "main", "open_registry", "parse_arn", "reviewer",
]
