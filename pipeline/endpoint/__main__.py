"""``python -m pipeline.endpoint``: see pipeline/endpoint/__init__.py."""
import sys

from pipeline.endpoint.cli import main

if __name__ == "__main__":
    sys.exit(main())
