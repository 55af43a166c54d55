"""How a Batch Transform request reaches the model: as the SageMaker scikit-learn 1.9-0 container serves it.

Read from its code (aws/sagemaker-scikit-learn-container, whose requirements.txt pins sagemaker-containers
2.8.6.post2, sagemaker-inference 1.5.5 and Flask 3.1.3; aws/sagemaker-containers at v2.8.6.post2), and
checked by running that code's ``_worker.Worker`` and ``_transformer.Transformer`` under Flask's test client:

- Who serves: ``sagemaker_sklearn_container.serving.serving_entrypoint`` starts gunicorn on
  ``serving.main``, a sagemaker-containers ``_worker.Worker`` whose /invocations view is
  ``_transformer.Transformer.transform``. sagemaker-inference (``handler_service.HandlerService`` under
  Multi Model Server) serves only when SAGEMAKER_MULTI_MODEL is set, which our single-model
  CreateModel and Batch Transform never set.
- Accept (``_worker.Request.accept``): a missing, empty or exactly ``*/*`` header becomes
  ``_env.ServingEnv.default_accept`` = the environment variable SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, or
  ``application/json`` when it is unset. Anything else reaches ``output_fn`` verbatim: no negotiation,
  so lists (``text/csv, application/json``), parameters (``text/csv; charset=utf-8``) and ``*/*;q=0.8``
  are for output_fn to read (``model_archive.resolve_accept``).
- Content type (``_worker.Request.content_type``): the ``ContentType`` or ``Content-Type`` header, else
  ``application/json``; the body is a UTF-8 str when that is exactly text/csv or application/json,
  else bytes (our input_fn takes both).
- Response (``_transformer.Transformer.transform``): a ``(body, content_type)`` tuple from output_fn
  becomes ``_worker.Response(response=body, mimetype=content_type)``; a bare str or bytes is returned
  to Flask as it is and goes out as ``text/html``. Werkzeug appends ``; charset=utf-8`` to text types,
  so our ``(body, "text/csv")`` is sent as ``text/csv; charset=utf-8`` (``model_archive.response_of``).
- Errors: ``serving._user_module_transformer`` always passes input_fn/predict_fn/output_fn (the user's or
  sklearn's defaults), and ``Transformer.__init__`` wraps each in ``_functions.error_wrapper(fn,
  ClientError)``, so whatever they raise, UnsupportedFormatError included, is a ClientError: the 415
  (input_fn) and 406 (output_fn) answers of ``_default_transform_fn`` never happen in this container.
  The error leaves the Flask view: HTTP 500, werkzeug's HTML "Internal Server Error" page
  (``ModelServerError`` here). InvokeEndpoint relays that as ModelError; a transform job fails.
  ``error_wrapper`` catches ``Exception`` only: a handler's ``sys.exit`` or KeyboardInterrupt leaves Flask
  and gunicorn's gevent worker and ends that worker process, so the request gets no answer at all
  (``model_code.guarded`` turns it into ModelCodeError; the job fails the same way).
- Concurrency: ``serving.main`` serves /execution-parameters only when inference.py defines
  ``execution_parameters_fn`` (ours does not), so a job without MaxConcurrentTransforms sends one
  request at a time (CreateTransformJob: "the default value is 1").
- Batch Transform sends ``TransformInput.ContentType`` and ``TransformOutput.Accept`` "with each http
  call" (the API reference): they are the request's Content-Type and Accept. Choice where AWS documents
  nothing: a job without ``TransformOutput.Accept`` sends no Accept, so the model's default applies; one
  without ``TransformInput.ContentType`` sends no Content-Type, so input_fn reads application/json.
"""
from __future__ import annotations

from typing import Callable, Mapping, Protocol

from pipeline.local.model_archive import CONTAINER_DEFAULT_ACCEPT, DEFAULT_ACCEPT_VARIABLE, resolve_accept
from processing_scripts.model_code import ModelCodeError, user_interrupt

# What the container's input_fn is told when the request has no Content-Type (``_worker.Request.content_type``).
CONTAINER_DEFAULT_CONTENT_TYPE = "application/json"


class Handlers(Protocol):
    """``model_archive.ServingHandlers`` or a stand-in; ``environment`` (optional) is the model's Environment."""

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> bytes: ...


class ModelServerError(Exception):
    """The model container answered HTTP 500: a handler raised (its error, on one line, and the fix)."""

    status = 500

    def __init__(self, error: BaseException, note: str = "") -> None:
        message = (str(error).strip().splitlines() or [""])[0]
        if isinstance(error, ModelCodeError):
            # error_wrapper catches Exception only: SystemExit leaves Flask and ends the gunicorn worker.
            super().__init__(f"the model container answered nothing, its worker process ended: {message}")
            return
        super().__init__(f"the model container answered HTTP 500 ({type(error).__name__}: {message}){note}")


def is_csv(media_type: str | None) -> bool:
    """Whether a Content-Type or Accept names text/csv (parameters and case aside).

    >>> is_csv("text/csv; charset=utf-8"), is_csv("Text/CSV"), is_csv("application/json"), is_csv(None)
    (True, True, False, False)
    """
    return (media_type or "").split(";")[0].strip().lower() == "text/csv"


def accept_note(accept: str | None, environment: Mapping[str, str] | None) -> str:
    """Why output_fn got a non-CSV Accept although the request named none (or ``*/*``), and the fix; else "".

    >>> accept_note(None, {})
    "; no Accept means SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, unset: the container's default 'application/json'; \
set SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv in the model's Environment (steps/model.py SERVING_ENV) or ask \
for Accept text/csv"
    >>> accept_note("*/*", {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}), accept_note("application/json", {})
    ('', '')
    """
    environment = environment or {}
    resolved = resolve_accept(accept, environment)
    if accept not in (None, "", "*/*") or is_csv(resolved):
        return ""  # a named Accept is in output_fn's own message; text/csv is what our output_fn writes
    if DEFAULT_ACCEPT_VARIABLE in environment:
        source = f"the model's {DEFAULT_ACCEPT_VARIABLE}={resolved!r}"
    else:
        source = f"{DEFAULT_ACCEPT_VARIABLE}, unset: the container's default {CONTAINER_DEFAULT_ACCEPT!r}"
    return (f"; {'no Accept' if not accept else 'Accept */*'} means {source}; set {DEFAULT_ACCEPT_VARIABLE}=text/csv "
            "in the model's Environment (steps/model.py SERVING_ENV) or ask for Accept text/csv")


def request_sender(handlers: Handlers, content_type: str | None, accept: str | None) -> Callable[[bytes], bytes]:
    """``send(body) -> response`` for every request of a job with these headers (None: not sent).

    Whatever a handler raises is the container's HTTP 500: ``ModelServerError``, with the Accept note.
    """
    note = accept_note(accept, getattr(handlers, "environment", None))
    received_type = content_type or CONTAINER_DEFAULT_CONTENT_TYPE

    def send(body: bytes) -> bytes:
        try:
            return handlers.invoke(body, received_type, accept)
        except Exception as error:  # any handler's error is the container's HTTP 500
            raise ModelServerError(error, note) from None
        except BaseException as raised:  # handlers not loaded by model_archive are foreign code too
            if user_interrupt(raised):
                raise  # the user's Ctrl-C, not the model's doing
            raise ModelServerError(ModelCodeError("a request handler", raised)) from None

    return send
