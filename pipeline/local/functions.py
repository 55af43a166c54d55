"""Local implementations of the pipeline's Lambda functions: their own code, over the SQLite registry
(through its SageMaker-shaped client) and the folder object store."""
from __future__ import annotations

import hashlib
import tempfile
from typing import Any, Callable, Mapping

from pipeline.config import PipelineConfig
from pipeline.lambdas import freeze_model, resolve_champion, resolve_monitored_version
from pipeline.lambdas.storage import ChangedError, StagingError
from pipeline.local.sagemaker_api import LocalSageMakerApi
from pipeline.local.store import LocalObjectStore, StoreError
from pipeline.registry import LocalRegistry


class LocalStorage:
    """The Lambda functions' Storage over the local object store. An object's version tag is the SHA-256
    of its bytes (S3 uses the ETag): a conditional copy re-hashes what it copies and refuses a change."""

    def __init__(self, store: LocalObjectStore) -> None:
        self.store = store

    def _source(self, uri: str, verb: str = "read"):
        try:
            if not self.store.exists(uri):
                raise StagingError(f"cannot {verb} {uri}: no such object in the local store {self.store.root}")
            return self.store.path_for(uri)
        except StoreError as error:
            raise StagingError(f"cannot {verb} {uri}: {error}") from None

    def copy(self, source_uri: str, target_uri: str) -> None:
        try:
            self.store.put_file(target_uri, self._source(source_uri, "copy"))
        except (StoreError, OSError) as error:
            raise StagingError(f"cannot copy {source_uri}: {error}") from None

    def list(self, prefix_uri: str) -> list[str]:
        return self.store.list(prefix_uri)

    def put_text(self, uri: str, text: str) -> None:
        self.store.put_bytes(uri, text.encode())

    def sha256(self, uri: str) -> tuple[str, str]:
        digest = hashlib.sha256()
        with open(self._source(uri), "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest(), digest.hexdigest()

    def copy_version(self, source_uri: str, target_uri: str, version: str) -> None:
        self.store.root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.store.root, prefix=".copy-", suffix=".tmp") as temporary:
            digest = hashlib.sha256()
            with open(self._source(source_uri, "copy"), "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
                    temporary.write(chunk)
            temporary.flush()
            if digest.hexdigest() != version:
                raise ChangedError(f"{source_uri} changed while it was being frozen; run again")
            try:
                self.store.put_file(target_uri, temporary.name)
            except (StoreError, OSError) as error:
                raise StagingError(f"cannot copy {source_uri}: {error}") from None


def local_functions(
    config: PipelineConfig, *, registry: LocalRegistry, store: LocalObjectStore
) -> dict[str, Callable[[dict], Mapping[str, Any]]]:
    """FunctionArn → implementation, for LocalRunner(functions=...)."""
    storage = LocalStorage(store)
    sagemaker = LocalSageMakerApi(registry)
    return {
        config.champion_function_arn: lambda event: resolve_champion.resolve(event, sagemaker=sagemaker, storage=storage),
        config.freeze_function_arn: lambda event: freeze_model.freeze(event, storage=storage),
        config.monitored_version_function_arn:
            lambda event: resolve_monitored_version.resolve(event, sagemaker=sagemaker, storage=storage),
    }
