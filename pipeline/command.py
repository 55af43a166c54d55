"""How every ``python -m pipeline...`` command ends: its exit code, and no traceback for a Ctrl-C, a
reader that went away (``| head``) or a path the system refuses (too long, a file where a folder
should be) that no check of the command named first."""
from __future__ import annotations

import os
import signal
import sys
from typing import Callable, NoReturn

from processing_scripts.text_files import shown_value

INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT


def run_command(main: Callable[[], int], *, interrupted: str = "interrupted (Ctrl-C)") -> NoReturn:
    """``sys.exit(main())``; a Ctrl-C prints ``interrupted`` (one line) and exits 130, a closed standard
    output exits 1 quietly (Python's advice: point stdout at devnull so the exit flush cannot fail)."""
    try:
        code = main()
    except KeyboardInterrupt:
        # A second Ctrl-C while the interpreter shuts down (threads joined, handlers reset) would end the
        # process by the signal instead of with this exit code.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f"error: {interrupted}", file=sys.stderr)
        code = INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except OSError as error:
        print(f"error: {os_error_line(error)}", file=sys.stderr)
        code = 2
    sys.exit(code)


def os_error_line(error: OSError) -> str:
    """An OSError as one short line: the path (cut), what the system said, and the fix.

    >>> os_error_line(OSError(36, "File name too long", "/tmp/" + "d" * 300))
    "'/tmp/ddddddddddddddddddddddddddddddddddd'...: File name too long; check the path (each part at most 255 bytes)"
    """
    name = str(error.filename) if error.filename is not None else ""
    shown = shown_value(name, 40)
    fix = "check the path (each part at most 255 bytes)" if error.errno == 36 else "check the path and its permissions"
    return f"{shown + ': ' if name else ''}{error.strerror or error}; {fix}"
