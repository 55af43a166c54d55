"""How every ``python -m pipeline...`` command ends: its exit code, and no traceback for a Ctrl-C or a
reader that went away (``| head``)."""
from __future__ import annotations

import os
import sys
from typing import Callable, NoReturn

INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT


def run_command(main: Callable[[], int], *, interrupted: str = "interrupted (Ctrl-C)") -> NoReturn:
    """``sys.exit(main())``; a Ctrl-C prints ``interrupted`` (one line) and exits 130, a closed standard
    output exits 1 quietly (Python's advice: point stdout at devnull so the exit flush cannot fail)."""
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        code = INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
