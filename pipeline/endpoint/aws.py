"""The AWS side: a SageMaker runtime client, InvokeEndpoint as ``payload -> body``, and botocore's
errors described as retryable or not, naming the endpoint."""
from __future__ import annotations

from typing import Any, Callable

from pipeline.endpoint.retry import Failure, is_retryable

CSV = "text/csv"
# AWS advises a socket timeout above the 60 s a model may take to answer.
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 70


def make_client(*, region: str | None, endpoint_url: str | None, concurrency: int):
    """A ``sagemaker-runtime`` client that never retries by itself (we do), with bounded timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=max(concurrency, 10),
    )
    # A session of its own: credentials and region are read now, not cached from an earlier client.
    session = boto3.session.Session(region_name=region)
    return session.client("sagemaker-runtime", endpoint_url=endpoint_url, config=config)


def runtime_invoker(client, endpoint_name: str) -> Callable[[bytes], bytes]:
    """``payload -> response body`` through ``InvokeEndpoint`` (CSV in, CSV out)."""

    def invoke(payload: bytes) -> bytes:
        response = client.invoke_endpoint(EndpointName=endpoint_name, Body=payload, ContentType=CSV, Accept=CSV)
        return response["Body"].read()

    return invoke


def one_line(text: Any) -> str:
    """``text`` on one line, at most 300 characters (an error message for stderr)."""
    return " ".join(str(text).split())[:300]


_HINTS = {
    "ValidationError": "check --endpoint-name, --region and that the endpoint is InService",
    "ModelError": "the model's container refused the request; see the endpoint's CloudWatch logs",
    "AccessDeniedException": "the credentials may not call sagemaker:InvokeEndpoint on this endpoint",
    "UnrecognizedClientException": "check the AWS credentials",
    "InvalidSignatureException": "check the AWS credentials and --region",
}


def aws_classifier(endpoint_name: str) -> Callable[[BaseException], Failure | None]:
    """Describe botocore's exceptions as :class:`Failure` (retryable or not), naming the endpoint."""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    def classify(error: BaseException) -> Failure | None:
        if isinstance(error, ClientError):
            detail = error.response.get("Error", {})
            code = detail.get("Code") or "ClientError"
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = one_line(detail.get("Message") or f"HTTP {status}")
            hint = _HINTS.get(code)
            return Failure(
                is_retryable(code, status),
                f"endpoint {endpoint_name}: {code}: {message}" + (f"; {hint}" if hint else ""),
            )
        if isinstance(error, (ConnectionError, HTTPClientError)):  # refused, reset, timed out
            return Failure(True, f"endpoint {endpoint_name}: {one_line(error)}")
        if isinstance(error, BotoCoreError):  # no credentials, bad parameters: another try will not help
            return Failure(False, f"endpoint {endpoint_name}: {one_line(error)}")
        return None

    return classify
