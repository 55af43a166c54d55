"""A Batch Transform job as the definition asks for it: ``TransformSpec.from_request(arguments)``.

Built once from a Transform step's evaluated ``Arguments`` (a CreateTransformJob request) and checked
then: an unsupported value fails with one line naming the member and what to use. Defaults are
SageMaker's (botocore's service model of CreateTransformJob): SplitType None (the whole object is one
request), AssembleWith None, JoinSource None, filters ``$``, MaxPayloadInMB 6, MaxConcurrentTransforms
0 or unset meaning 1 (our inference.py serves no /execution-parameters, see ``serving``), and no
Content-Type or Accept header when ContentType or Accept is unset. AWS documents no default BatchStrategy:
MultiRecord here, as before. Not emulated: SplitType RecordIO/TFRecord, S3DataType ManifestFile,
CompressionType Gzip, MaxPayloadInMB 0 (HTTP chunked encoding) and DataProcessing on anything but CSV.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from pipeline.local.filters import BatchPlan, ColumnFilter
from pipeline.local.records import MB, TransformError
from pipeline.local.serving import is_csv

SPLIT_TYPES = ("Line", "None")
BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
JOIN_SOURCES = ("None", "Input")
ASSEMBLE_WITH = ("Line", "None")
MAX_PAYLOAD_MB = 100  # MaxPayloadInMB, and MaxConcurrentTransforms × MaxPayloadInMB, at most
MAX_ENVIRONMENT = 16  # TransformEnvironmentMap: at most 16 variables


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TransformSpec:
    """What a CreateTransformJob request asks of the job, checked when built.

    >>> spec = TransformSpec(content_type="text/csv", split_type="Line", input_filter="$[1:]")
    >>> spec.plan.drop, spec.max_payload_bytes, spec.max_concurrent_transforms
    (1, 6291456, 1)
    >>> TransformSpec(split_type="RecordIO")
    Traceback (most recent call last):
    ...
    pipeline.local.records.TransformError: unsupported SplitType 'RecordIO': use Line or None
    """

    model_name: str = ""  # ModelName
    input_uri: str = ""  # TransformInput.DataSource.S3DataSource.S3Uri (S3Prefix)
    content_type: str | None = None  # TransformInput.ContentType; None: no Content-Type is sent
    split_type: str = "None"  # TransformInput.SplitType
    output_path: str = ""  # TransformOutput.S3OutputPath
    accept: str | None = None  # TransformOutput.Accept; None: no Accept is sent
    assemble_with: str = "None"  # TransformOutput.AssembleWith
    input_filter: str = "$"  # DataProcessing.InputFilter
    join_source: str = "None"  # DataProcessing.JoinSource
    output_filter: str = "$"  # DataProcessing.OutputFilter
    batch_strategy: str = "MultiRecord"  # BatchStrategy
    max_payload_mb: int = 6  # MaxPayloadInMB
    max_concurrent_transforms: int = 1  # MaxConcurrentTransforms: requests in flight at once
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)  # Environment (the container's)
    plan: BatchPlan = field(init=False, repr=False, compare=False, hash=False)  # the parsed DataProcessing

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("SplitType", self.split_type, SPLIT_TYPES),
            ("BatchStrategy", self.batch_strategy, BATCH_STRATEGIES),
            ("JoinSource", self.join_source, JOIN_SOURCES),
            ("AssembleWith", self.assemble_with, ASSEMBLE_WITH),
        ):
            if value not in allowed:
                raise TransformError(f"unsupported {name} {value!r}: use {' or '.join(allowed)}")
        if not _is_int(self.max_payload_mb) or not 1 <= self.max_payload_mb <= MAX_PAYLOAD_MB:
            chunked = " (0, HTTP chunked encoding, is not emulated)" if self.max_payload_mb == 0 else ""
            raise TransformError(f"MaxPayloadInMB must be between 1 and {MAX_PAYLOAD_MB}, not "
                                 f"{self.max_payload_mb!r}{chunked}")
        if not _is_int(self.max_concurrent_transforms) or self.max_concurrent_transforms < 1:
            raise TransformError(
                f"MaxConcurrentTransforms must be a positive integer, not {self.max_concurrent_transforms!r}")
        if self.max_concurrent_transforms * self.max_payload_mb > MAX_PAYLOAD_MB:
            raise TransformError(
                f"MaxConcurrentTransforms × MaxPayloadInMB must be at most {MAX_PAYLOAD_MB} MB, not "
                f"{self.max_concurrent_transforms} × {self.max_payload_mb}: lower one of them")
        self._check_environment()
        plan = BatchPlan.make(ColumnFilter.parse(self.input_filter), self.join_source,
                              ColumnFilter.parse(self.output_filter), self.assemble_with)
        if plan.filtered and not is_csv(self.content_type):
            shown = repr(self.content_type) if self.content_type else "an unset ContentType"
            raise TransformError(f"InputFilter/JoinSource/OutputFilter are emulated for text/csv only, not {shown}: "
                                 "send CSV with TransformInput.ContentType text/csv, or drop DataProcessing")
        object.__setattr__(self, "environment", dict(self.environment))  # a copy: the caller's dict may change
        object.__setattr__(self, "plan", plan)

    def _check_environment(self) -> None:
        if not isinstance(self.environment, Mapping):
            raise TransformError(f"Environment must map names to strings, not {type(self.environment).__name__}")
        if len(self.environment) > MAX_ENVIRONMENT:
            raise TransformError(f"Environment has {len(self.environment)} variables: CreateTransformJob allows at "
                                 f"most {MAX_ENVIRONMENT}")
        for name, value in self.environment.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TransformError(f"Environment {name!r}: names and values must be strings, not {value!r}")

    @property
    def max_payload_bytes(self) -> int:
        """MaxPayloadInMB in bytes: the most one request may carry."""
        return self.max_payload_mb * MB

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> "TransformSpec":
        """The spec of a CreateTransformJob request (a Transform step's evaluated ``Arguments``).

        A missing required member raises KeyError (the runner reports the step's arguments malformed);
        an unsupported value raises TransformError.

        >>> spec = TransformSpec.from_request({"ModelName": "m",
        ...     "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}},
        ...     "TransformOutput": {"S3OutputPath": "s3://b/out"}, "MaxConcurrentTransforms": 0})
        >>> spec.split_type, spec.assemble_with, spec.max_payload_mb, spec.max_concurrent_transforms, spec.accept
        ('None', 'None', 6, 1, None)
        """
        job_input, job_output = request["TransformInput"], request["TransformOutput"]
        source = job_input["DataSource"]["S3DataSource"]
        data_type = source.get("S3DataType", "S3Prefix")
        if data_type != "S3Prefix":
            raise TransformError(f"unsupported S3DataType {data_type!r}: use S3Prefix (the local runner reads every "
                                 "object under the prefix)")
        compression = job_input.get("CompressionType", "None")
        if compression != "None":
            raise TransformError(f"unsupported CompressionType {compression!r}: the local runner reads uncompressed "
                                 "input only; use None")
        processing = request.get("DataProcessing") or {}
        concurrent = request.get("MaxConcurrentTransforms")
        if concurrent is None or (_is_int(concurrent) and concurrent == 0):
            concurrent = 1  # SageMaker asks the container's /execution-parameters, which ours does not serve
        return cls(
            model_name=request["ModelName"],
            input_uri=source["S3Uri"],
            content_type=job_input.get("ContentType"),
            split_type=job_input.get("SplitType", "None"),
            output_path=job_output["S3OutputPath"],
            accept=job_output.get("Accept"),
            assemble_with=job_output.get("AssembleWith", "None"),
            input_filter=processing.get("InputFilter", "$"),
            join_source=processing.get("JoinSource", "None"),
            output_filter=processing.get("OutputFilter", "$"),
            batch_strategy=request.get("BatchStrategy", "MultiRecord"),
            max_payload_mb=request.get("MaxPayloadInMB", 6),
            max_concurrent_transforms=concurrent,
            environment=request.get("Environment") or {},
        )
