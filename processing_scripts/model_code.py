"""Running a model's own code (its ``inference.py`` and pickles), which is foreign to this project.

Two guards, used wherever model code runs (the local runner's transform, the evaluation container's
scoring, ``pipeline.package``'s estimator check):

- :func:`guarded` turns what only a program should raise (``SystemExit`` from ``sys.exit``,
  ``KeyboardInterrupt``, ``GeneratorExit``) into :class:`ModelCodeError`, an ordinary exception, so it
  fails the step instead of ending or interrupting the command. Other exceptions pass unchanged.
  What the real container does (sagemaker-containers 2.8.6 under gunicorn's gevent worker): its
  ``_functions.error_wrapper`` catches ``Exception`` only, so ``SystemExit`` in a handler leaves Flask
  and ends the worker process without an answer; at import (``_server.start`` imports the module
  before gunicorn starts) it ends the serving process. Either way no prediction comes back and the
  job fails; it never succeeds with nothing done.
- :class:`ModelOutput` points file descriptors 1 and 2 (and ``sys.stdout``/``sys.stderr``) at a log
  file while model code runs, so a model's ``print`` never mixes with the command's own output.

Only the standard library: it runs inside the processing container.
"""
from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])


class ModelCodeError(Exception):
    """Model code raised SystemExit, KeyboardInterrupt or another non-Exception; the message says which and where."""

    def __init__(self, where: str, raised: BaseException) -> None:
        self.where = where
        self.raised = raised
        super().__init__(f"model code raised {describe(raised)} in {where}; it must return or raise an exception, "
                         "not exit")


def user_interrupt(raised: BaseException) -> bool:
    """Whether ``raised`` is the user's own Ctrl-C, let through by :func:`guarded` (the command ends, 130)."""
    return isinstance(raised, KeyboardInterrupt) and getattr(raised, "from_sigint", False)


def describe(raised: BaseException) -> str:
    """``SystemExit(0)``, ``KeyboardInterrupt()``: the exception as code would write it, on one line, short.

    >>> describe(SystemExit(3)), describe(KeyboardInterrupt()), len(describe(SystemExit("x" * 500)))
    ('SystemExit(3)', 'KeyboardInterrupt()', 60)
    """
    text = repr(raised)
    return text if len(text) <= 60 else text[:57] + "..."


def guarded(function: Function, where: str, output: "ModelOutput | None" = None) -> Function:
    """``function`` with its non-Exception escapes turned into :class:`ModelCodeError` (``where`` names it:
    ``predict_fn``), its output going to ``output`` (None: left alone). The user's own Ctrl-C (a SIGINT
    that arrives while it runs) stays a KeyboardInterrupt: it is not the model's doing."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        with output if output is not None else contextlib.nullcontext(), _SigintWatch() as watch:
            try:
                return function(*args, **kwargs)
            except Exception:
                raise
            except BaseException as raised:  # foreign code: sys.exit or Ctrl-C must not end our command
                if isinstance(raised, KeyboardInterrupt) and watch.received:
                    # Python exits 130 only for KeyboardInterrupt itself (a subclass exits 1): marked, not wrapped.
                    raised.from_sigint = True
                    raise
                raise ModelCodeError(where, raised) from None

    return call  # type: ignore[return-value]


class _SigintWatch:
    """Notes a real SIGINT while model code runs in the main thread (elsewhere signals reach the main
    thread, outside model code, as a plain KeyboardInterrupt). Only Python's default handler is
    replaced: a program's own SIGINT handler is left alone."""

    def __init__(self) -> None:
        self.received = False
        self._installed = False

    def _note(self, signum: int, frame: object) -> None:
        self.received = True
        raise KeyboardInterrupt

    def __enter__(self) -> "_SigintWatch":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._note)
            self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


class ModelOutput:
    """While entered, fds 1 and 2 and ``sys.stdout``/``sys.stderr`` write to ``path`` (appended).

    Re-entrant and shared by threads (a transform runs up to MaxConcurrentTransforms requests at
    once): the first entry redirects, the last exit restores. Whatever the process writes meanwhile
    goes to the log too; the commands write nothing of their own while a model runs.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: tuple[int, int, Any, Any] | None = None

    def __enter__(self) -> "ModelOutput":
        with self._lock:
            if self._depth == 0:
                self._saved = _redirect(self.path)
            self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._saved is not None:
                _restore(self._saved)
                self._saved = None


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or replaced stream cannot hold our output
            stream.flush()


def _redirect(path: Path) -> tuple[int, int, Any, Any]:
    _flush()  # what the command wrote so far stays where it was going
    path.parent.mkdir(parents=True, exist_ok=True)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = (os.dup(1), os.dup(2), sys.stdout, sys.stderr)
    try:
        os.dup2(log, 1)
        os.dup2(log, 2)
    finally:
        os.close(log)
    # In-process callers (tests) may have replaced sys.stdout with an object that is not fd 1.
    sys.stdout = sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    return saved


def _restore(saved: tuple[int, int, Any, Any]) -> None:
    out, err, stdout, stderr = saved
    _flush()
    sys.stdout, sys.stderr = stdout, stderr
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)


@contextlib.contextmanager
def discarded_output() -> Iterator[None]:
    """Model code's output thrown away (``pipeline.package`` loads a pickle only to check it)."""
    with ModelOutput(os.devnull):
        yield
