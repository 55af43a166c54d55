"""Evaluate a deployed SageMaker endpoint on a labelled test set: the pipeline's evaluation, live.

    python -m pipeline.endpoint --endpoint-name NAME --test-data FILE|DIR|s3://...
        [--batch-size 500] [--concurrency 4] [--output-dir endpoint-evaluation] [--threshold 0.5]
        [--bootstrap 1000] [--seed 0] [--max-retries 8]
        [--region R] [--endpoint-url URL] [--s3 local|aws] [--work-dir .local-sagemaker]

The test data is what the pipeline's Batch Transform reads: label-first CSV rows without a header
(a file, or every file below a folder in path order; ``s3://`` is read from the local object store
``<work-dir>/s3/...`` or, with ``--s3 aws``, from S3). Each row's features (its text after the label,
verbatim, as the transform's ``input_filter="$[1:]"`` sends them) go to the endpoint with
``InvokeEndpoint`` (``text/csv`` in and out), ``--batch-size`` rows per request and ``--concurrency``
requests in flight; the response is one score, P(class 1), per row. The label,score pairs then go
through ``processing_scripts.evaluate.evaluate``, so ``evaluation.json``, the plots and
``report.html`` are those of the pipeline's EvaluateModel step on the same pairs.

Throttling and transient failures (ThrottlingException, HTTP 429, 5xx, ModelNotReadyException,
connection errors and timeouts) are retried with exponential backoff and full jitter, up to
``--max-retries`` retries per request; any other error (ValidationError such as an unknown endpoint,
ModelError) stops at once. Exit 0: outputs written; 1: the endpoint or AWS failed; 2: bad usage or
input. Errors are one line on stderr, and nothing is written on failure.

Modules: ``retry`` (backoff policy, which errors are retried), ``scoring`` (batches and concurrency;
answers read by ``processing_scripts.score_response``), ``aws`` (the SageMaker runtime client and its
errors), ``cli`` (the command; the test set is read by ``processing_scripts.labelled``, the rules every
label-first reader here follows).
"""
