"""Local implementations of the pipeline's Lambda functions, over the SQLite registry and folder store."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from pipeline.config import PipelineConfig
from pipeline.lambdas import resolve_champion
from pipeline.local.store import LocalObjectStore, StoreError
from pipeline.registry import ModelRegistry


class LocalStorage:
    """resolve_champion's Storage over the local object store."""

    def __init__(self, store: LocalObjectStore) -> None:
        self.store = store

    def copy(self, source_uri: str, target_uri: str) -> None:
        try:
            if not self.store.exists(source_uri):
                raise resolve_champion.StagingError(f"cannot copy {source_uri}: no such object")
            self.store.put_file(target_uri, self.store.path_for(source_uri))
        except (StoreError, OSError) as error:
            raise resolve_champion.StagingError(f"cannot copy {source_uri}: {error}") from None

    def list(self, prefix_uri: str) -> list[str]:
        return self.store.list(prefix_uri)

    def put_text(self, uri: str, text: str) -> None:
        self.store.put_bytes(uri, text.encode())


def local_functions(
    config: PipelineConfig, *, registry: ModelRegistry, store: LocalObjectStore
) -> dict[str, Callable[[dict], Mapping[str, Any]]]:
    """FunctionArn → implementation, for LocalRunner(functions=...)."""
    storage = LocalStorage(store)
    return {
        config.champion_function_arn: lambda event: resolve_champion.resolve(event, registry=registry, storage=storage),
    }
