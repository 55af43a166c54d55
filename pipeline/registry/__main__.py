"""``python -m pipeline.registry ...``: the registry CLI (pipeline/registry/cli.py)."""
import sys

from pipeline.registry.cli import main

sys.exit(main())
