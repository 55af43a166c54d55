"""Safe ``model.tar.gz`` extraction and handler loading for the local runner.

One implementation, shared with the evaluation container: this module re-exports
:mod:`processing_scripts.model_archive` (which needs only the standard library and numpy).
"""
from __future__ import annotations

from processing_scripts.model_archive import (
    CONTAINER_DEFAULT_ACCEPT,
    DEFAULT_ACCEPT_VARIABLE,
    ModelArchiveError,
    ServingHandlers,
    archive_members,
    default_input_fn,
    default_output_fn,
    default_predict_fn,
    extract_model,
    load_serving_handlers,
    resolve_accept,
    response_of,
)

__all__ = [
    "CONTAINER_DEFAULT_ACCEPT",
    "DEFAULT_ACCEPT_VARIABLE",
    "ModelArchiveError",
    "ServingHandlers",
    "archive_members",
    "default_input_fn",
    "default_output_fn",
    "default_predict_fn",
    "extract_model",
    "load_serving_handlers",
    "resolve_accept",
    "response_of",
]
