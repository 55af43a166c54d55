"""What the command lines share: the settings flags, one subcommand per pipeline, and how a refused
setting is reported (one line on standard error)."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Callable, NoReturn

from pipeline.config import ENV_VARS, PipelineConfig, parse_tags

if TYPE_CHECKING:
    from pipeline.spec import PipelineSpec


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, ``error: ... (usage: <prog> --help)``, exit 2
    (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (usage: {self.prog} --help)\n")


def settings_parser() -> argparse.ArgumentParser:
    """A parent parser with the flags every CLI that builds a definition shares."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("settings")
    group.add_argument("--bucket", help=f"artifact bucket (env {ENV_VARS['bucket']})")
    group.add_argument("--prefix", help=f"S3 key prefix (env {ENV_VARS['prefix']})")
    group.add_argument("--region", help=f"AWS region (env {ENV_VARS['region']}, or AWS_REGION)")
    group.add_argument("--pipeline-name", help=f"pipeline name (env {ENV_VARS['pipeline_name']}); the drift "
                                                "check's is <name>-monitoring")
    group.add_argument("--model-package-group",
                       help=f"default model package group (env {ENV_VARS['model_package_group']})")
    group.add_argument("--kms-key-id", help=f"KMS key for job volumes and outputs (env {ENV_VARS['kms_key_id']})")
    group.add_argument("--tags", nargs="*", metavar="KEY=VALUE", help="tags for the pipeline")
    group.add_argument("--verbose", action="store_true", help="show the SageMaker SDK's log messages")
    return parser


def config_from_args(args: argparse.Namespace, **extra: object) -> PipelineConfig:
    """Resolve a PipelineConfig from parsed flags, then the environment, then defaults."""
    overrides = {
        "bucket": args.bucket,
        "prefix": args.prefix,
        "region": args.region,
        "pipeline_name": args.pipeline_name,
        "model_package_group": args.model_package_group,
        "kms_key_id": args.kms_key_id,
        "tags": parse_tags(args.tags) if args.tags else None,
        **extra,
    }
    return PipelineConfig.from_sources(overrides)


def pipeline_subcommands(parser: argparse.ArgumentParser, *, parents: list[argparse.ArgumentParser],
                         describe: Callable[["PipelineSpec"], str],
                         add_arguments: Callable[[argparse.ArgumentParser, "PipelineSpec"], None] | None = None,
                         specs: "dict[str, PipelineSpec]") -> None:
    """One required subcommand per pipeline of ``specs`` (``pipeline.pipelines.SPECS``); ``args.spec`` is the
    chosen PipelineSpec."""
    subparsers = parser.add_subparsers(dest="pipeline", metavar="{" + ",".join(specs) + "}", required=True,
                                       parser_class=OneLineParser)
    for spec in specs.values():
        sub = subparsers.add_parser(spec.key, parents=parents, help=describe(spec), description=describe(spec))
        sub.set_defaults(spec=spec)
        if add_arguments is not None:
            add_arguments(sub, spec)


def report(error: BaseException | str) -> None:
    """A refused setting or input: one line on standard error."""
    print(f"error: {error}", file=sys.stderr)
