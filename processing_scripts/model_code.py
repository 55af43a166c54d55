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
- While guarded code runs, :class:`_ProcessGuard` replaces the calls that end or replace the process
  without an exception (``os._exit``, ``os.abort``, ``os.exec[v]e``, ``os.kill``/``os.killpg`` aimed
  at this process, its parent or its process group, ``signal.raise_signal``, ``signal.pthread_kill``,
  ``signal.alarm``/``setitimer``) with ones raising :class:`ProcessExit`, which the guard turns into
  ModelCodeError too: ``os._exit(0)`` must not end the runner with exit 0 as if the model were
  registered. In the container such a call just loses the worker (the job fails). Limits: ctypes, a
  direct syscall, a subprocess (``os.system("kill ...")``), a thread the model leaves running or a
  ``__del__`` run after the guard cannot be stopped in-process; they kill the command (never exit 0
  with a record of success: the run's execution record stays unfinished and ``--retry`` redoes it).
  The replacements are process-wide while any guarded call is active, so another thread calling them
  then is refused too (the runner signals nothing while a model runs).
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
        verb = "called" if isinstance(raised, ProcessExit) else "raised"
        super().__init__(f"model code {verb} {describe(raised)} in {where}; it must return or raise an exception, "
                         "not exit")


class ProcessExit(BaseException):
    """What a guarded call to ``os._exit``, ``os.kill(os.getpid(), 9)`` and the like raises instead."""

    def __init__(self, call: str) -> None:
        super().__init__(call)
        self.call = call

    def __repr__(self) -> str:
        return self.call


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
        with output if output is not None else contextlib.nullcontext(), _SigintWatch() as watch, PROCESS_GUARD:
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


def _call(name: str, *args: Any) -> str:
    # int(): os.kill(pid, signal.SIGTERM) reads as os.kill(pid, 15), not the enum's long repr.
    return f"{name}({', '.join(repr(int(arg) if isinstance(arg, int) else arg) for arg in args)})"


def _refuse(name: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise ProcessExit(_call(name, *args))
    return refused


def _ours(pid: int) -> bool:
    """Whether a signal sent to ``pid`` reaches this process or its parent (0, -1, a group: maybe)."""
    return pid <= 0 or pid in (os.getpid(), os.getppid())


def _our_group(pgid: int) -> bool:
    groups = {0, os.getpgrp()}
    with contextlib.suppress(OSError):
        groups.add(os.getpgid(os.getppid()))
    return pgid in groups


class _ProcessGuard:
    """While entered (by any thread; counted), the calls that end this process without an exception raise
    :class:`ProcessExit`; the last exit puts the originals back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list[tuple[Any, str, Any]] = []

    def _replacements(self) -> dict[str, Callable[..., Any]]:
        kill, killpg, alarm, setitimer = os.kill, os.killpg, signal.alarm, signal.setitimer

        def guarded_kill(pid: int, sig: int) -> None:
            if sig != 0 and _ours(pid):
                raise ProcessExit(_call("os.kill", pid, sig))
            kill(pid, sig)

        def guarded_killpg(pgid: int, sig: int) -> None:
            if sig != 0 and _our_group(pgid):
                raise ProcessExit(_call("os.killpg", pgid, sig))
            killpg(pgid, sig)

        def guarded_pthread_kill(thread_id: int, sig: int) -> None:
            if sig != 0:  # every thread id is one of this process's
                raise ProcessExit(_call("signal.pthread_kill", thread_id, sig))

        def guarded_alarm(seconds: int) -> int:
            if seconds:  # SIGALRM's default action ends the process when it fires
                raise ProcessExit(_call("signal.alarm", seconds))
            return alarm(seconds)

        def guarded_setitimer(which: int, seconds: float, interval: float = 0.0) -> tuple[float, float]:
            if seconds:
                raise ProcessExit(_call("signal.setitimer", which, seconds))
            return setitimer(which, seconds, interval)

        return {"_exit": _refuse("os._exit"), "abort": _refuse("os.abort"), "execv": _refuse("os.execv"),
                "execve": _refuse("os.execve"), "kill": guarded_kill, "killpg": guarded_killpg,
                "raise_signal": _refuse("signal.raise_signal"), "pthread_kill": guarded_pthread_kill,
                "alarm": guarded_alarm, "setitimer": guarded_setitimer}

    def __enter__(self) -> "_ProcessGuard":
        with self._lock:
            if self._depth == 0:
                replacements = self._replacements()
                # posix and _signal too: ``import posix; posix._exit(0)`` is the same call.
                for module in (os, sys.modules.get("posix"), signal, sys.modules.get("_signal")):
                    for name, replacement in replacements.items():
                        if module is not None and hasattr(module, name) and \
                                (module in (os, sys.modules.get("posix"))) == (name in _OS_NAMES):
                            self._saved.append((module, name, getattr(module, name)))
                            setattr(module, name, replacement)
            self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for module, name, original in reversed(self._saved):
                    setattr(module, name, original)
                self._saved.clear()


_OS_NAMES = {"_exit", "abort", "execv", "execve", "kill", "killpg"}
PROCESS_GUARD = _ProcessGuard()


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
