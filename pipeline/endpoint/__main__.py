"""``python -m pipeline.endpoint``: see pipeline/endpoint/__init__.py."""
from pipeline.command import run_command
from pipeline.endpoint.cli import main

if __name__ == "__main__":
    run_command(main)
