"""``python -m pipeline.registry ...``: the registry CLI (pipeline/registry/cli.py)."""
from pipeline.command import run_command
from pipeline.registry.cli import main

run_command(main)
