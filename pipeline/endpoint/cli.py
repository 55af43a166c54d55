"""``python -m pipeline.endpoint`` (``sm-eval-endpoint``): the command; see pipeline/endpoint/__init__.py."""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pipeline import monitor
from pipeline.endpoint import aws, retry
from pipeline.endpoint.errors import EndpointError, UsageError
from pipeline.endpoint.scoring import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, MAX_CONCURRENCY, ScoringResult, score_rows
from processing_scripts import evaluate, labelled

DEFAULT_OUTPUT_DIR = "endpoint-evaluation"


def build_parser() -> evaluate.UsageParser:
    parser = evaluate.UsageParser(prog="python -m pipeline.endpoint",
                                  description="Evaluate a deployed SageMaker endpoint on a labelled test set.")
    parser.add_argument("--endpoint-name", required=True, help="the endpoint to invoke")
    parser.add_argument("--test-data", required=True,
                        help="label-first CSV without a header: a file, a folder or an s3:// URI")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help=f"rows per request (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"requests in flight (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--max-retries", type=int, default=retry.DEFAULT_MAX_RETRIES,
                        help="retries per request on throttling and transient errors "
                             f"(default {retry.DEFAULT_MAX_RETRIES})")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                        help=f"where evaluation.json, plots and report.html go (default {DEFAULT_OUTPUT_DIR})")
    parser.add_argument("--threshold", type=float, default=0.5, help="predict positive when score >= this")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no uncertainty)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed (0 or more)")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    parser.add_argument("--endpoint-url", help="SageMaker runtime URL (default: AWS's for the region)")
    parser.add_argument("--s3", choices=("local", "aws"), default="local",
                        help="where s3:// test data is read: the local store or AWS S3 (boto3)")
    parser.add_argument("--work-dir", default=monitor.DEFAULT_WORK_DIR,
                        help=f"local store: s3://b/k is <work-dir>/s3/b/k (default {monitor.DEFAULT_WORK_DIR})")
    return parser


def evaluation_settings(args: argparse.Namespace) -> evaluate.EvaluationSettings:
    """The evaluation the arguments ask for; UsageError for unusable values (evaluate.py's rules and words)."""
    for flag, value, low in (("--batch-size", args.batch_size, 1), ("--concurrency", args.concurrency, 1),
                             ("--max-retries", args.max_retries, 0)):
        if value < low:
            raise UsageError(f"{flag} {value} must be {low} or more")
    if args.concurrency > MAX_CONCURRENCY:
        raise UsageError(f"--concurrency {args.concurrency} must be at most {MAX_CONCURRENCY}")
    if not args.endpoint_name.strip():
        raise UsageError("--endpoint-name is empty")
    if args.output_dir.startswith("s3://"):
        raise UsageError(f"--output-dir {args.output_dir} must be a local folder")
    settings = evaluate.EvaluationSettings(threshold=args.threshold, n_bootstrap=args.bootstrap, seed=args.seed)
    try:
        settings.check()
    except evaluate.UsageError as error:
        raise UsageError(str(error)) from None
    return settings


def read_test_data(path: str | Path, *, shown: Callable[[Path], str] = str) -> labelled.LabelledData:
    """Label-first rows without a header (``labelled``'s rules and words), with both classes present;
    a one-line UsageError names the file, the line and the problem."""
    try:
        data = labelled.read_labelled(path, missing="pass a CSV file, a folder or an s3:// URI", shown=shown)
    except labelled.DataError as error:
        raise UsageError(str(error)) from None
    positives = int(np.count_nonzero(data.labels))
    if positives in (0, len(data.labels)):
        raise UsageError(
            f"{', '.join(data.files)[:200]}: every one of the {len(data.labels)} labels is {int(data.labels[0])}; "
            "AUC and recall are undefined: evaluate on a test set with both classes"
        )
    return data


def load_test_data(args: argparse.Namespace) -> labelled.LabelledData:
    """``--test-data``, downloaded first when it is an ``s3://`` URI; UsageError when it is unusable."""
    with ExitStack() as stack:
        try:
            local = monitor.resolve(args.test_data, stack, args)
            return read_test_data(local, shown=monitor.shown_names(args.test_data, Path(local)))
        except monitor.InputError as error:
            raise UsageError(str(error)) from None
        except OSError as error:
            raise UsageError(f"cannot read --test-data {args.test_data}: {error.strerror or error}") from None


def runtime_client(args: argparse.Namespace):
    """The SageMaker runtime client the arguments describe; UsageError when it cannot be made."""
    from botocore.exceptions import BotoCoreError, NoRegionError

    try:
        return aws.make_client(region=args.region, endpoint_url=args.endpoint_url, concurrency=args.concurrency)
    except NoRegionError:
        raise UsageError("no AWS region: pass --region or set AWS_DEFAULT_REGION") from None
    except (BotoCoreError, ValueError) as error:  # e.g. a malformed --endpoint-url
        raise UsageError(f"cannot create the SageMaker runtime client: {aws.one_line(error)}") from None


def progress_printer(stream) -> Callable[[int, int], None] | None:
    """A ``rows done / total`` bar on ``stream`` when it is a terminal (like the local runner's)."""
    if not stream.isatty():
        return None
    last = {"percent": -1}

    def show(done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        if percent != last["percent"] or done == total:
            last["percent"] = percent
            bar = "#" * (percent // 4)
            stream.write(f"\r  invoke [{bar:<25}] {percent:3d}% {done:,}/{total:,} rows")
            if done >= total:
                stream.write("\n")
            stream.flush()

    return show


def format_pairs(labels: np.ndarray, scores: np.ndarray) -> bytes:
    """``label,score`` lines, as the pipeline's transform writes them (every digit of the score kept).

    >>> format_pairs(np.array([1, 0], dtype=np.int8), np.array([0.1 + 0.2, 1.0]))
    b'1,0.30000000000000004\\n0,1.0\\n'
    """
    return "".join(f"{label},{score!r}\n" for label, score in zip(labels.tolist(), scores.tolist())).encode()


def evaluate_scores(data: labelled.LabelledData, scores: np.ndarray, settings: evaluate.EvaluationSettings,
                    endpoint: dict[str, Any]) -> evaluate.Evaluation:
    """The pipeline's evaluation of the label,score pairs, with where they came from.

    ``dataset.sha256`` is that of the pairs as the transform would write them (so the document equals
    evaluate.py's on those pairs); ``dataset.files`` and ``dataset.test_data_sha256`` are the test
    data's, and an ``endpoint`` section names the endpoint.
    """
    dataset = {"files": list(data.files), "sha256": hashlib.sha256(format_pairs(data.labels, scores)).hexdigest(),
               "test_data_sha256": data.sha256}
    try:
        return evaluate.evaluate(data.labels, scores, settings, dataset=dataset, sections={"endpoint": endpoint})
    except ValueError as error:  # metrics.InputError: pairs no metric can be computed from
        raise UsageError(str(error)) from None


def summary_lines(document: dict[str, Any], result: ScoringResult, elapsed: float, output_dir: Path) -> list[str]:
    """What the command prints when the outputs are written."""
    body = document["binary_classification_metrics"]
    rows = document["dataset"]["rows"]
    return [
        f"endpoint {document['endpoint']['name']}: {rows:,} rows scored in {result.requests:,} requests "
        f"({result.retries:,} retries) in {elapsed:.1f} s",
        f"auc {body['auc']['value']:.4f}  f1 {body['f1']['value']:.4f}  accuracy {body['accuracy']['value']:.4f} "
        f"at threshold {document['threshold']}",
        f"report: {output_dir / 'report.html'} (evaluation.json and plots beside it)",
    ]


def run(args: argparse.Namespace) -> list[str]:
    """Score the test data through the endpoint, evaluate and write the outputs; the summary lines.

    Raises UsageError (exit 2) or EndpointError (exit 1); nothing is written when it raises.
    """
    settings = evaluation_settings(args)
    data = load_test_data(args)
    client = runtime_client(args)
    started = time.monotonic()
    result = score_rows(
        aws.runtime_invoker(client, args.endpoint_name),
        data.features,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        # Read at run time, so that tests can make retries instant.
        policy=retry.RetryPolicy(max_retries=args.max_retries, base=retry.BACKOFF_BASE_SECONDS,
                                 cap=retry.BACKOFF_CAP_SECONDS),
        classify=aws.aws_classifier(args.endpoint_name),
        progress=progress_printer(sys.stderr),
    )
    elapsed = time.monotonic() - started
    evaluation = evaluate_scores(data, result.scores, settings,
                                 {"name": args.endpoint_name, "region": client.meta.region_name})
    output_dir = Path(args.output_dir)
    try:
        evaluation.write(output_dir)
    except OSError as error:
        raise UsageError(f"cannot write the outputs to {args.output_dir}: {error.strerror or error}; "
                         "pass a writable --output-dir") from None
    return summary_lines(evaluation.document, result, elapsed, output_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """0: outputs written; 1: the endpoint or AWS failed; 2: bad usage or input; 130: interrupted."""
    args = build_parser().parse_or_exit_code(argv)
    if isinstance(args, int):
        return args
    try:
        lines = run(args)
    except (UsageError, EndpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"error: interrupted; nothing written to {args.output_dir}", file=sys.stderr)
        return 130
    for line in lines:
        print(line)
    return 0
