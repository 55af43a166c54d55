"""Print a pipeline's definition JSON, offline (no AWS credentials, no network).

    python -m pipeline.definition {evaluation,monitoring,quality} [--bucket B] [--region R] [--role-arn ARN] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from pipeline.arguments import OneLineParser, config_from_args, pipeline_subcommands, report, settings_parser
from pipeline.pipelines import SPECS
from pipeline.config import ENV_VARS, ConfigError


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags (also used by tests that check buildspec.yml's commands)."""
    parser = OneLineParser(
        prog="python -m pipeline.definition",
        description="Print a SageMaker pipeline definition JSON (no AWS credentials or network needed).",
    )
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--role-arn", help=f"execution role written into the steps (env {ENV_VARS['role_arn']}; "
                                            "default a placeholder)")
    options.add_argument("--out", help="write the JSON to this file instead of standard output")
    pipeline_subcommands(parser, specs=SPECS, parents=[settings_parser(), options],
                         describe=lambda spec: f"the {spec.key} pipeline: {spec.description}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args, role_arn=args.role_arn)
        args.spec.name(config)  # a derived name's limits are settings errors too
    except ConfigError as error:
        report(error)
        return 2
    from pipeline.sdk import prepare_sdk_environment, quiet_sdk_logging

    prepare_sdk_environment(config.region)
    quiet_sdk_logging(args.verbose)
    if args.out and Path(args.out).is_dir():  # before the build: it takes seconds
        report(f"--out {args.out} is a folder; pass the path of the file to write")
        return 2
    text = json.dumps(args.spec.definition(config), indent=2) + "\n"
    if args.out:
        from processing_scripts.outputs import write_text_atomic

        try:
            write_text_atomic(args.out, text)
        except OSError as error:
            report(f"--out {args.out}: cannot write it ({error.strerror or error}); pass a file in a folder you can write")
            return 2
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)
