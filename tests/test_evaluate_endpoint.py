"""pipeline.endpoint (``python -m pipeline.endpoint``) against a stand-in SageMaker runtime serving a real packaged model.

The stand-in is an HTTP server on 127.0.0.1 implementing ``POST /endpoints/{name}/invocations`` with
the model's own ``code/inference.py`` handlers, served as the scikit-learn container serves them (the
local emulation's ``ServingHandlers.respond``, with the model's Environment from ``steps.model``: Accept
resolution, response Content-Type, HTTP 500 on any handler error), and answering errors the way
SageMaker runtime does (``x-amzn-ErrorType`` header + JSON body), so boto3 raises the ClientErrors it
raises against AWS.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from pipeline.endpoint import aws, cli, errors, retry, scoring
from pipeline import package
from pipeline.local.model_archive import load_serving_handlers
from pipeline.local.store import LocalObjectStore
from pipeline.local.serving import ModelServerError, accept_note
from processing_scripts import evaluate

ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = "churn-prod"
N_ROWS = 611
BATCH = 97  # 7 batches, the last of 29 rows
ACCOUNT = "123456789012"


# --- the stand-in endpoint ---------------------------------------------------------------------------


class FakeRuntime:
    """Knobs, per test: throttle / 5xx the first K requests, wrong row counts, slow even requests."""

    def __init__(self, handlers, names):
        self.handlers = handlers  # served with their model's environment (handlers.environment)
        self.names = set(names)
        self.lock = threading.Lock()
        self.reset()

    def reset(self, *, throttle_first=0, server_error_first=0, not_ready_first=0, wrong_rows_on=(), slow_even=0.0):
        self.throttle_first = throttle_first
        self.server_error_first = server_error_first
        self.not_ready_first = not_ready_first
        self.wrong_rows_on = set(wrong_rows_on)
        self.slow_even = slow_even
        self.requests = []  # (endpoint name, rows, HTTP status), in arrival order
        self.completed = []  # first row of every successful batch, in completion order

    def respond(self, name, body, content_type, accept):
        with self.lock:
            index = len(self.requests)
            self.requests.append([name, body.count(b"\n"), None])
        if name not in self.names:
            return index, 400, "ValidationError", {"message": f"Endpoint {name} of account {ACCOUNT} not found."}
        if index < self.throttle_first:
            # What AWS sends: the code (with Coral's namespace after a colon) in the header, a message in the body.
            return index, 400, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", \
                {"message": "Rate exceeded"}
        if index < self.server_error_first:
            return index, 500, "InternalFailure", {"message": "An internal error occurred."}
        if index < self.not_ready_first:
            return index, 429, "ModelNotReadyException", {"message": "Model is not ready"}
        if self.slow_even and index % 2 == 0:
            time.sleep(self.slow_even)
        try:
            out, out_type = self.handlers.respond(body, content_type, accept)
        except Exception as error:  # the container answers 500; SageMaker relays it as ModelError (424)
            failure = ModelServerError(error, accept_note(accept, self.handlers.environment))
            return index, 424, "ModelError", {
                "ErrorCode": "CLIENT_ERROR_FROM_MODEL", "OriginalStatusCode": failure.status,
                "OriginalMessage": str(failure),
                "LogStreamArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{name}",
                "message": f"Received server error ({failure.status}) from primary with message \"{failure}\". "
                           "See logs.",
            }
        if index in self.wrong_rows_on:
            out = b"\n".join(out.splitlines()[:-1]) + b"\n"
        with self.lock:
            self.completed.append(body.split(b"\n", 1)[0])
        return index, 200, out_type, out

    def serve(self):
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                match = re.fullmatch(r"/endpoints/([^/]+)/invocations", self.path)
                if not match:
                    self._send(404, "UnknownOperationException", {"message": "unknown operation"})
                    return
                index, status, error_or_type, payload = runtime.respond(
                    unquote(match.group(1)), body, self.headers.get("Content-Type"), self.headers.get("Accept"))
                with runtime.lock:
                    runtime.requests[index][2] = status
                self._send(status, error_or_type, payload)

            def _send(self, status, error_or_type, payload):
                """A 200 carries the container's Content-Type; an error its x-amzn-ErrorType and a JSON body."""
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", error_or_type if status == 200 else "application/json")
                self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
                if status != 200:
                    self.send_header("x-amzn-ErrorType", error_or_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A fitted model packaged as model.tar.gz, served on 127.0.0.1; a label-first test CSV."""
    base = tmp_path_factory.mktemp("endpoint")
    rng = np.random.default_rng(7)
    X_train = rng.normal(size=(400, 4))
    y_train = (X_train @ [1.0, -0.5, 0.3, 0.0] + rng.normal(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X_train, y_train)
    joblib.dump(model, base / "estimator.joblib")
    archive = package.build_model_archive(base / "estimator.joblib", base / "model.tar.gz")
    from steps.model import SERVING_ENV  # the Environment the pipeline's CreateModel gives the model

    handlers = load_serving_handlers(archive, base / "model", environment=SERVING_ENV)
    X = rng.normal(size=(N_ROWS, 4))
    y = (X @ [1.0, -0.5, 0.3, 0.0] + rng.normal(size=N_ROWS) > 0).astype(int)
    lines = [f"{label}," + ",".join(repr(float(v)) for v in row) for label, row in zip(y, X)]
    test_csv = base / "test.csv"
    test_csv.write_text("\n".join(lines) + "\n")
    runtime = FakeRuntime(handlers, [ENDPOINT])
    server = runtime.serve()
    yield {"model": model, "X": X, "y": y, "lines": lines, "test_csv": test_csv, "runtime": runtime,
           "url": f"http://127.0.0.1:{server.server_address[1]}", "base": base}
    server.shutdown()
    server.server_close()


@pytest.fixture
def runtime(world, monkeypatch):
    world["runtime"].reset()
    monkeypatch.setattr(retry, "BACKOFF_BASE_SECONDS", 0.0)  # retries without waiting
    return world["runtime"]


def run(world, tmp_path, *extra, test_data=None, endpoint=ENDPOINT, url=None):
    argv = ["--endpoint-name", endpoint, "--test-data", str(test_data or world["test_csv"]),
            "--endpoint-url", url or world["url"], "--region", "us-east-1", "--output-dir", str(tmp_path / "out"),
            "--bootstrap", "0", *extra]
    return cli.main(argv)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


# --- end to end --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluated(world, tmp_path_factory):
    """One full run (concurrency 4, uneven batches, slow even requests) and evaluate.py on the same pairs."""
    runtime = world["runtime"]
    runtime.reset(slow_even=0.05)
    out = tmp_path_factory.mktemp("run")
    code = cli.main(["--endpoint-name", ENDPOINT, "--test-data", str(world["test_csv"]), "--endpoint-url", world["url"],
                    "--region", "us-east-1", "--output-dir", str(out / "endpoint"), "--batch-size", str(BATCH),
                    "--concurrency", "4", "--bootstrap", "300", "--seed", "3"])
    requests, completed = list(runtime.requests), list(runtime.completed)
    scores = world["model"].predict_proba(np.ascontiguousarray(world["X"]))[:, 1]
    pairs = out / "predictions" / "test.csv.out"
    pairs.parent.mkdir()
    pairs.write_text("".join(f"{label},{score!r}\n" for label, score in zip(world["y"], scores.tolist())))
    assert evaluate.main(["--predictions", str(pairs.parent), "--output-dir", str(out / "script"),
                          "--bootstrap", "300", "--seed", "3"]) == 0
    return {"code": code, "out": out, "requests": requests, "completed": completed, "scores": scores,
            "test_csv": world["test_csv"]}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_metrics_equal_scikit_learn_on_the_models_scores(world, evaluated):
    assert evaluated["code"] == 0
    doc = _load(evaluated["out"] / "endpoint" / "evaluation.json")
    body = doc["binary_classification_metrics"]
    y, scores = world["y"], evaluated["scores"]
    y_pred = (scores >= 0.5).astype(int)
    expected = {
        "accuracy": accuracy_score(y, y_pred), "precision": precision_score(y, y_pred),
        "recall": recall_score(y, y_pred), "f1": f1_score(y, y_pred), "auc": roc_auc_score(y, scores),
    }
    for name, value in expected.items():
        assert body[name]["value"] == pytest.approx(value, abs=1e-9), name
    (tn, fp), (fn, tp) = confusion_matrix(y, y_pred)
    assert body["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert doc["dataset"]["rows"] == N_ROWS
    assert doc["dataset"]["files"] == [str(world["test_csv"])]


def test_outputs_equal_evaluate_py_on_the_same_label_score_pairs(evaluated):
    ours = _load(evaluated["out"] / "endpoint" / "evaluation.json")
    script = _load(evaluated["out"] / "script" / "evaluation.json")
    # Only where the rows came from differs: the test CSV (and its hash) vs the label,score file.
    assert ours["dataset"].pop("files") == [str(evaluated["test_csv"])]
    assert ours["dataset"].pop("test_data_sha256") == hashlib.sha256(evaluated["test_csv"].read_bytes()).hexdigest()
    del script["dataset"]["files"]
    assert ours.pop("endpoint") == {"name": ENDPOINT, "region": "us-east-1"}
    assert ours == script  # every metric, interval, curve and section, the pairs' sha256 included
    names = sorted(p.name for p in (evaluated["out"] / "endpoint").iterdir())
    assert names == sorted(p.name for p in (evaluated["out"] / "script").iterdir())
    assert {"evaluation.json", "report.html", "roc.svg"} <= set(names)
    for name in set(names) - {"evaluation.json"}:  # plots and report: the same bytes
        assert (evaluated["out"] / "endpoint" / name).read_bytes() == (evaluated["out"] / "script" / name).read_bytes()


def test_rows_keep_their_order_with_concurrency_and_uneven_batches(world, evaluated):
    requests, completed = evaluated["requests"], evaluated["completed"]
    assert sorted(rows for _, rows, _ in requests) == sorted([BATCH] * (N_ROWS // BATCH) + [N_ROWS % BATCH])
    firsts = [line.partition(",")[2].encode() for line in world["lines"][::BATCH]]
    assert sorted(completed, key=firsts.index) == firsts and completed != firsts  # answers came back out of order
    # ... yet every score sits on its own row: the pairs evaluate.py read are the model's scores in input order.
    ours = _load(evaluated["out"] / "endpoint" / "evaluation.json")
    script = _load(evaluated["out"] / "script" / "evaluation.json")
    assert ours["binary_classification_metrics"]["receiver_operating_characteristic_curve"] == \
        script["binary_classification_metrics"]["receiver_operating_characteristic_curve"]


def test_scores_are_the_models_in_input_order(world, runtime):
    result = scoring.score_rows(
        aws.runtime_invoker(aws.make_client(region="us-east-1", endpoint_url=world["url"], concurrency=3), ENDPOINT),
        [line.partition(",")[2].encode() for line in world["lines"]],
        batch_size=50, concurrency=3, classify=aws.aws_classifier(ENDPOINT), policy=retry.RetryPolicy(max_retries=0))
    expected = world["model"].predict_proba(np.ascontiguousarray(world["X"]))[:, 1]
    np.testing.assert_array_equal(result.scores, expected)
    assert (result.requests, result.retries) == (13, 0)


# --- serving as the container serves ----------------------------------------------------------------

ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"


# (the model keeps the pipeline's SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv, the request's Accept, the
# Accept output_fn refuses or None for a CSV answer): only a missing or exactly */* Accept is the default.
@pytest.mark.parametrize("csv_default, accept, refused", [
    (True, None, None),
    (True, "*/*", None),
    (True, "text/csv", None),
    (True, "text/csv; charset=utf-8", None),
    (True, "application/json", "application/json"),
    (False, None, "application/json"),
    (False, "*/*", "application/json"),
    (False, "text/csv", None),
])
def test_the_packaged_model_answers_accept_as_the_container_does(world, runtime, tmp_path, csv_default, accept,
                                                                refused):
    from botocore.exceptions import ClientError
    from steps.model import SERVING_ENV

    server = None
    if not csv_default:  # the same archive, deployed without the pipeline's default Accept
        environment = {k: v for k, v in SERVING_ENV.items() if k != ACCEPT_VARIABLE}
        handlers = load_serving_handlers(world["base"] / "model.tar.gz", tmp_path / "model", environment=environment)
        server = FakeRuntime(handlers, [ENDPOINT]).serve()
    url = f"http://127.0.0.1:{server.server_address[1]}" if server else world["url"]
    client = aws.make_client(region="us-east-1", endpoint_url=url, concurrency=1)
    request = {"EndpointName": ENDPOINT, "Body": b"0.5,0.1,-0.2,0.3\n1,2,3,4\n", "ContentType": "text/csv"}
    if accept is not None:
        request["Accept"] = accept
    try:
        if refused is None:
            response = client.invoke_endpoint(**request)
            assert response["ContentType"] == "text/csv; charset=utf-8"  # output_fn's (body, "text/csv")
            scores = np.array(response["Body"].read().split(), dtype=float)
            expected = world["model"].predict_proba(np.array([[0.5, 0.1, -0.2, 0.3], [1.0, 2.0, 3.0, 4.0]]))[:, 1]
            np.testing.assert_array_equal(scores, expected)
        else:
            with pytest.raises(ClientError) as caught:
                client.invoke_endpoint(**request)
            error = caught.value.response
            assert error["Error"]["Code"] == "ModelError" and error["OriginalStatusCode"] == 500
            assert f"unsupported accept type {refused!r}: ask for text/csv" in error["OriginalMessage"]
            if accept is None:
                assert f"no Accept means {ACCEPT_VARIABLE}, unset: the container's default" in error["OriginalMessage"]
    finally:
        if server:
            server.shutdown()
            server.server_close()


# --- retries and failures ----------------------------------------------------------------------------


def test_the_stand_in_throttles_as_aws_does(world, runtime):
    from botocore.exceptions import ClientError

    runtime.reset(throttle_first=1)
    client = aws.make_client(region="us-east-1", endpoint_url=world["url"], concurrency=1)
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2,3,4\n", ContentType="text/csv", Accept="text/csv")
    assert caught.value.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert len(runtime.requests) == 1  # botocore's own retries are off: we retry


@pytest.mark.parametrize("knob, status", [("throttle_first", 400), ("server_error_first", 500),
                                          ("not_ready_first", 429)])
def test_transient_errors_are_retried_until_they_pass(world, runtime, tmp_path, capsys, knob, status):
    runtime.reset(**{knob: 5})
    assert run(world, tmp_path, "--batch-size", "200", "--concurrency", "2", "--max-retries", "8") == 0
    statuses = [s for _, _, s in runtime.requests]
    assert statuses.count(status) == 5 and statuses.count(200) == 4  # 4 batches, each answered once
    assert f"{N_ROWS} rows scored in 9 requests (5 retries)" in capsys.readouterr().out
    assert (tmp_path / "out" / "evaluation.json").is_file()


def test_summary_counts_requests_and_retries(world, runtime, tmp_path, capsys):
    runtime.reset(throttle_first=3)
    assert run(world, tmp_path, "--batch-size", "300", "--concurrency", "1") == 0
    out = capsys.readouterr().out
    assert f"endpoint {ENDPOINT}: {N_ROWS} rows scored in 6 requests (3 retries)" in out
    assert f"report: {tmp_path / 'out' / 'report.html'}" in out


def test_the_pairs_are_evaluated_in_process_not_through_evaluate_main(world, runtime, tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(evaluate, "main", lambda argv=None: pytest.fail("the CLI went through evaluate.main"))
    assert run(world, tmp_path) == 0
    doc = _load(tmp_path / "out" / "evaluation.json")
    assert doc["endpoint"] == {"name": ENDPOINT, "region": "us-east-1"}
    assert doc["dataset"]["files"] == [str(world["test_csv"])] and doc["dataset"]["rows"] == N_ROWS
    lines = capsys.readouterr().out.splitlines()
    body = doc["binary_classification_metrics"]
    assert lines[1] == (f"auc {body['auc']['value']:.4f}  f1 {body['f1']['value']:.4f}  "
                        f"accuracy {body['accuracy']['value']:.4f} at threshold 0.5")


def test_giving_up_after_max_retries_is_exit_1_and_writes_nothing(world, runtime, tmp_path, capsys):
    runtime.reset(throttle_first=10_000)
    assert run(world, tmp_path, "--concurrency", "1", "--max-retries", "2") == 1
    err = one_line_error(capsys)
    assert f"endpoint {ENDPOINT}: ThrottlingException: Rate exceeded (rows 1-500); gave up after 3 attempts" in err
    assert len(runtime.requests) == 3  # the first batch, tried three times; nothing else sent
    assert not (tmp_path / "out").exists()


def test_a_failure_stops_the_other_requests(world, runtime, tmp_path, capsys):
    runtime.reset(server_error_first=10_000)
    assert run(world, tmp_path, "--batch-size", "10", "--concurrency", "4", "--max-retries", "1") == 1
    assert "InternalFailure" in one_line_error(capsys)
    assert len(runtime.requests) <= 8  # at most 4 batches in flight, each tried twice; 62 batches never sent


def test_unknown_endpoint_fails_at_once(world, runtime, tmp_path, capsys):
    assert run(world, tmp_path, "--concurrency", "1", endpoint="no-such-endpoint") == 1
    err = one_line_error(capsys)
    assert "endpoint no-such-endpoint: ValidationError: Endpoint no-such-endpoint of account" in err
    assert "check --endpoint-name, --region" in err
    assert len(runtime.requests) == 1


def test_model_error_fails_at_once_naming_the_endpoint(world, runtime, tmp_path, capsys):
    data = tmp_path / "missing.csv"  # an empty feature is NaN: LogisticRegression refuses it, the container 500s
    data.write_text("1,0.5,,0.1,0.2\n0,0.1,0.2,0.3,0.4\n")
    assert run(world, tmp_path, "--max-retries", "5", test_data=data) == 1
    err = one_line_error(capsys)
    assert f"endpoint {ENDPOINT}: ModelError: Received server error (500)" in err and "(rows 1-2)" in err
    assert len(runtime.requests) == 1


def test_wrong_row_count_is_exit_1(world, runtime, tmp_path, capsys):
    runtime.reset(wrong_rows_on={0})
    assert run(world, tmp_path, "--concurrency", "1") == 1
    assert "bad response for rows 1-500: the model returned 499 lines for 500 rows; " \
        "output_fn must write one score per row" in one_line_error(capsys)


def test_connection_errors_are_retried_then_exit_1(world, runtime, tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert run(world, tmp_path, "--max-retries", "2", "--concurrency", "1", url=f"http://127.0.0.1:{port}") == 1
    err = one_line_error(capsys)
    assert "Could not connect to the endpoint URL" in err and "gave up after 3 attempts" in err


def test_missing_credentials_fail_at_once(world, runtime, tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert run(world, tmp_path, "--max-retries", "5") == 1
    assert f"endpoint {ENDPOINT}: Unable to locate credentials" in one_line_error(capsys)
    assert runtime.requests == []


def test_the_module_runs_as_a_command(world, runtime, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pipeline.endpoint", "--endpoint-name", "gone",
                           "--test-data", str(world["test_csv"]), "--endpoint-url", world["url"],
                           "--region", "us-east-1", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "endpoint gone: ValidationError" in done.stderr


# --- test data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, expected", [
    ("label,a,b\n1,2,3\n", "line 1: header row 'label,a,b' (the first line looks like a header); remove it"),
    ("1,2,3\n0,x,3\n", "line 2: non-numeric field 'x'"),
    ("1,2,3\n2,2,3\n", "line 2: label '2' is not 0 or 1"),
    ("1,2,3\n0,2\n", "line 2: 2 fields, expected 3 (label + 2 features, as in the first row)"),
    ("1,2,3\n0,2,3,4\n", "line 2: 4 fields, expected 3"),
    ("1,2,3\n\n0,2\n", "line 3: 2 fields"),
    ("1\n0\n", "line 1: 1 field, expected a label and at least one feature"),
    ("1,2,3\nnan,2,3\n", "line 2: label 'nan' is not 0 or 1"),
    ("", "no rows; label-first data is lines 'label,feature,...'"),
    ("\n\n", "no rows"),
    ("1,2,3\n1,4,5\n", "every one of the 2 labels is 1; AUC and recall are undefined"),
    # The one reader's rules (processing_scripts.labelled): a blank field is not a missing value, a line
    # of spaces is a row, quoting must be whole fields.
    ("1,2,3\n0, ,4\n", "line 2: field 2 is blank (' '); write the value, or leave the field empty (',,')"),
    ("1,2,3\n   \n0,1,2\n", "line 2: 1 fields, expected 3"),
    ("  \n1,2\n0,3\n", "line 1: 1 field, expected a label and at least one feature"),
    ('1,2,3\n0,"x"y,3\n', "line 2: broken quoting"),
])
def test_bad_test_data_is_exit_2_naming_the_file(world, runtime, tmp_path, capsys, content, expected):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    assert run(world, tmp_path, test_data=data) == 2
    err = one_line_error(capsys)
    assert expected in err and str(data) in err
    assert runtime.requests == []  # refused before any request


def test_files_must_agree_on_width(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n0,2,3\n")
    (tmp_path / "b.csv").write_text("1,2\n")
    with pytest.raises(errors.UsageError, match=r"b\.csv line 1: 2 fields, expected 3"):
        cli.read_test_data(tmp_path)


def test_reader_keeps_feature_text_and_accepts_crlf_and_missing_values(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"1,0.10,2e3\r\n\r\n0.0,,7\r\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_bytes(b"1.0,3,4")
    data = cli.read_test_data(tmp_path)
    assert data.features == [b"0.10,2e3", b",7", b"3,4"]
    assert data.labels.tolist() == [1, 0, 1] and data.width - 1 == 2
    assert data.files == (str(tmp_path / "a.csv"), str(tmp_path / "sub" / "b.csv"))


def test_quoted_fields_are_accepted_and_sent_as_written(tmp_path):
    (tmp_path / "q.csv").write_bytes(b'"1","0.5",2\n0,"1e0",""\n')
    data = cli.read_test_data(tmp_path / "q.csv")
    assert data.labels.tolist() == [1, 0] and data.width == 3
    assert data.features == [b'"0.5",2', b'"1e0",""']  # as Batch Transform's input_filter sends them


def test_missing_and_empty_test_data_are_exit_2(world, runtime, tmp_path, capsys):
    assert run(world, tmp_path, test_data=tmp_path / "nope.csv") == 2
    assert "does not exist" in one_line_error(capsys)
    (tmp_path / "empty").mkdir()
    assert run(world, tmp_path, test_data=tmp_path / "empty") == 2
    assert "no rows" in one_line_error(capsys)


@pytest.mark.parametrize("flag, value, message", [
    ("--batch-size", "0", "--batch-size 0 must be 1 or more"),
    ("--concurrency", "0", "--concurrency 0 must be 1 or more"),
    ("--concurrency", "1000", "--concurrency 1000 must be at most 64"),
    ("--max-retries", "-1", "--max-retries -1 must be 0 or more"),
    ("--threshold", "1.5", "--threshold 1.5 must be between 0 and 1"),
    ("--bootstrap", "-2", "--bootstrap -2 must be 0 or more"),
    ("--output-dir", "s3://b/out", "must be a local folder"),
    ("--batch-size", "ten", "invalid int value"),
])
def test_bad_arguments_are_exit_2(world, runtime, tmp_path, capsys, flag, value, message):
    assert run(world, tmp_path, flag, value) == 2
    assert message in one_line_error(capsys)
    assert runtime.requests == []


def test_no_region_is_exit_2(world, runtime, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    code = cli.main(["--endpoint-name", ENDPOINT, "--test-data", str(world["test_csv"]),
                    "--output-dir", str(tmp_path / "out")])
    assert code == 2 and "no AWS region: pass --region" in one_line_error(capsys)


def test_s3_test_data_from_the_local_store(world, runtime, tmp_path, capsys):
    store = LocalObjectStore(tmp_path / "work")
    half = N_ROWS // 2
    store.put_bytes("s3://data-bucket/test/part-0.csv", ("\n".join(world["lines"][:half]) + "\n").encode())
    store.put_bytes("s3://data-bucket/test/part-1.csv", ("\n".join(world["lines"][half:]) + "\n").encode())
    store.put_bytes("s3://data-bucket/bad/test.csv", b"1,2,3,4,5\n0,2,3,4\n")
    common = ("--s3", "local", "--work-dir", str(tmp_path / "work"))
    assert run(world, tmp_path, *common, test_data="s3://data-bucket/test/") == 0
    doc = _load(tmp_path / "out" / "evaluation.json")
    assert doc["dataset"]["files"] == ["s3://data-bucket/test/part-0.csv", "s3://data-bucket/test/part-1.csv"]
    y, scores = world["y"], world["model"].predict_proba(np.ascontiguousarray(world["X"]))[:, 1]
    assert doc["binary_classification_metrics"]["auc"]["value"] == pytest.approx(roc_auc_score(y, scores), abs=1e-9)
    capsys.readouterr()
    assert run(world, tmp_path, *common, test_data="s3://data-bucket/bad/test.csv") == 2
    assert "s3://data-bucket/bad/test.csv line 2: 4 fields" in one_line_error(capsys)
    assert run(world, tmp_path, *common, test_data="s3://data-bucket/nothing/") == 2
    assert "no objects under s3://data-bucket/nothing/" in one_line_error(capsys)


# --- the pure core -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, size, expected", [
    (0, 5, []), (1, 5, [(0, 1)]), (5, 5, [(0, 5)]), (6, 5, [(0, 5), (5, 6)]), (7, 3, [(0, 3), (3, 6), (6, 7)]),
    (3, 1, [(0, 1), (1, 2), (2, 3)]),
])
def test_batch_bounds(n, size, expected):
    assert scoring.batch_bounds(n, size) == expected


def test_backoff_is_exponential_capped_and_fully_jittered():
    policy = retry.RetryPolicy(max_retries=10, base=0.5, cap=20.0)
    assert [policy.delay(k, 1.0) for k in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert [policy.delay(k, 0.0) for k in range(8)] == [0.0] * 8
    assert policy.delay(3, 0.25) == 1.0


@pytest.mark.parametrize("code, status, retryable", [
    ("ThrottlingException", 400, True), ("ModelNotReadyException", 429, True), ("InternalFailure", 500, True),
    ("ServiceUnavailable", 503, True), (None, 502, True), ("Anything", 429, True),
    ("ValidationError", 400, False), ("ModelError", 424, False), ("AccessDeniedException", 403, False),
])
def test_is_retryable(code, status, retryable):
    assert retry.is_retryable(code, status) is retryable


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _failing(n_failures, error=OSError("busy")):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= n_failures:
            raise error
        return "ok"

    return call, calls


def test_retries_wait_by_the_policy_and_succeed():
    clock, (call, calls) = FakeClock(), _failing(3)
    result = retry.call_with_retries(call, policy=retry.RetryPolicy(max_retries=3, base=1.0, cap=3.0),
                                  classify=lambda e: retry.Failure(True, "busy"), sleep=clock.sleep, rand=lambda: 0.5)
    assert result == "ok" and len(calls) == 4 and clock.sleeps == [0.5, 1.0, 1.5]


def test_retries_give_up_with_the_last_failure():
    clock, (call, calls) = FakeClock(), _failing(10)
    with pytest.raises(errors.EndpointError, match=r"^busy; gave up after 3 attempts \(lower --concurrency"):
        retry.call_with_retries(call, policy=retry.RetryPolicy(max_retries=2), classify=lambda e: retry.Failure(True, "busy"),
                             sleep=clock.sleep, rand=lambda: 0.0)
    assert len(calls) == 3 and len(clock.sleeps) == 2


def test_non_retryable_failures_and_unknown_exceptions_are_not_retried():
    clock, (call, calls) = FakeClock(), _failing(1)
    with pytest.raises(errors.EndpointError, match="^denied$"):
        retry.call_with_retries(call, policy=retry.RetryPolicy(), classify=lambda e: retry.Failure(False, "denied"),
                             sleep=clock.sleep)
    call, calls = _failing(1, KeyError("bug"))
    with pytest.raises(KeyError):
        retry.call_with_retries(call, policy=retry.RetryPolicy(), classify=lambda e: None, sleep=clock.sleep)
    assert len(calls) == 1 and clock.sleeps == []


@pytest.mark.parametrize("body, n, message", [
    (b"0.1\n0.2", 2, None), (b"0.1\r\n0.2\r\n", 2, None), (b"1\n0\n", 2, None),
    (b"0.1\n", 2, "the model returned 1 lines for 2 rows"), (b"0.1\n0.2\n0.3\n", 2, "returned 3 lines for 2 rows"),
    (b"", 1, "returned 0 lines for 1 rows"), (b"0.1\nnan\n", 2, "the model scored row 2 nan, not a probability"),
    (b"1.5\n", 1, "not a probability in [0, 1]"), (b"-0.1\n", 1, "not a probability"),
    (b"0.2,0.8\n", 1, "the model returned 2 values per row ('0.2,0.8')"), (b"1_0\n", 1, "'1_0', not a number"),
])
def test_responses_are_read_by_the_one_score_reader(body, n, message):
    def score():
        return scoring.score_rows(lambda payload: body, [b"1,2"] * n, batch_size=n, concurrency=1,
                                  classify=lambda error: None)
    if message is None:
        assert len(score().scores) == n
    else:
        with pytest.raises(errors.EndpointError, match=re.escape(f"bad response for rows 1-{n}: ") + ".*"
                           + re.escape(message)):
            score()


def test_a_bad_score_names_its_row_in_the_test_data():
    answers = {b"1\n2\n": b"0.1\n0.2\n", b"3\n4\n": b"0.3\nyes\n"}
    with pytest.raises(errors.EndpointError, match=r"^bad response for rows 3-4: the model's score for row 4 is "
                                                   r"'yes', not a number"):
        scoring.score_rows(answers.__getitem__, [b"1", b"2", b"3", b"4"], batch_size=2, concurrency=1,
                           classify=lambda error: None)


def test_score_rows_keeps_order_when_answers_arrive_shuffled():
    rows = [f"{i}".encode() for i in range(103)]
    rng = np.random.default_rng(0)
    delays = {i: float(rng.uniform(0, 0.004)) for i in range(0, 103, 10)}
    finished = []

    def invoke(payload):
        first = int(payload.split(b"\n", 1)[0])
        time.sleep(delays[first])
        finished.append(first)
        return b"".join(b"%r\n" % (int(r) / 1000) for r in payload.split())

    seen = []
    result = scoring.score_rows(invoke, rows, batch_size=10, concurrency=5, classify=lambda e: None,
                           progress=lambda done, total: seen.append((done, total)))
    assert result.scores.tolist() == [i / 1000 for i in range(103)]
    assert seen[0] == (0, 103) and seen[-1] == (103, 103) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert result.requests == 11


def test_progress_bar_on_a_terminal_only():
    class Tty:
        def __init__(self, tty):
            self.tty, self.text = tty, ""

        def isatty(self):
            return self.tty

        def write(self, text):
            self.text += text

        def flush(self):
            pass

    assert cli.progress_printer(Tty(False)) is None
    stream = Tty(True)
    show = cli.progress_printer(stream)
    for done in (0, 500, 1000, 1234):
        show(done, 1234)
    assert stream.text.endswith("\r  invoke [" + "#" * 25 + "] 100% 1,234/1,234 rows\n")
    assert "  40% 500/1,234 rows" in stream.text


def test_client_does_not_retry_by_itself():
    client = aws.make_client(region="us-east-1", endpoint_url="http://127.0.0.1:9", concurrency=16)
    config = client.meta.config
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (10, 70, 16)
