"""A folder that behaves like S3 for the local runner: ``s3://bucket/key`` ↔ ``<root>/s3/bucket/key``."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from pipeline.atomic import write_bytes_atomic

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class StoreError(ValueError):
    """A URI is malformed or escapes the store."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b")``, refusing what could escape the store.

    >>> split_uri("s3://bucket/a/b.csv")
    ('bucket', 'a/b.csv')
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise StoreError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not _BUCKET.match(bucket):
        raise StoreError(f"bad bucket name in {uri!r}")
    parts = [p for p in key.split("/") if p]
    if any(p in (".", "..") for p in parts) or "\\" in key or "\0" in key:
        raise StoreError(f"key of {uri!r} would escape the store")
    return bucket, key


class LocalObjectStore:
    """Objects are files; a key prefix selects every file whose key starts with it, as in S3."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._base = self.root / "s3"

    def path_for(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        return self._base / bucket / key

    def exists(self, uri: str) -> bool:
        return self.path_for(uri).is_file()

    def put_bytes(self, uri: str, data: bytes) -> str:
        bucket, key = split_uri(uri)
        if not key or key.endswith("/"):
            raise StoreError(f"{uri!r} names a prefix, not an object")
        write_bytes_atomic(self._base / bucket / key, data)
        return uri

    def put_file(self, uri: str, path: str | Path) -> str:
        return self.put_bytes(uri, Path(path).read_bytes())

    def get_bytes(self, uri: str) -> bytes:
        path = self.path_for(uri)
        if not path.is_file():
            raise FileNotFoundError(f"no object at {uri}")
        return path.read_bytes()

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of every object whose key starts with the prefix's key, sorted."""
        bucket, key = split_uri(prefix_uri)
        bucket_dir = self._base / bucket
        # Only the folder holding the prefix's last segment needs scanning.
        folder = bucket_dir / key.rsplit("/", 1)[0] if "/" in key else bucket_dir
        if not folder.is_dir():
            return []
        found = []
        for path in folder.rglob("*"):
            if path.is_file() and not _is_temporary(path):
                relative = path.relative_to(bucket_dir).as_posix()
                if relative.startswith(key):
                    found.append(f"s3://{bucket}/{relative}")
        return sorted(found)

    def download_prefix(self, prefix_uri: str, dest_dir: str | Path) -> list[Path]:
        """Copy the objects under a prefix into ``dest_dir``, as a Processing/Transform S3Prefix input does.

        A key's path below the prefix's folder is kept (``s3://b/in/`` → ``in/x/y.csv`` lands at
        ``dest/x/y.csv``); a prefix naming one object exactly lands at ``dest/<name>``.
        """
        _, key = split_uri(prefix_uri)
        folder_key = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        dest = Path(dest_dir)
        copied = []
        for uri in self.list(prefix_uri):
            _, object_key = split_uri(uri)
            target = dest / object_key[len(folder_key):]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path_for(uri), target)
            copied.append(target)
        return copied

    def upload_dir(self, local_dir: str | Path, prefix_uri: str) -> list[str]:
        """Upload every file below ``local_dir`` to ``prefix_uri/<relative path>``."""
        local_dir = Path(local_dir)
        base = prefix_uri.rstrip("/")
        uploaded = []
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            uri = f"{base}/{path.relative_to(local_dir).as_posix()}"
            self.put_file(uri, path)
            uploaded.append(uri)
        return uploaded


def _is_temporary(path: Path) -> bool:
    # Files being written atomically (see pipeline.atomic) are not objects yet.
    return path.name.startswith(".") and path.name.endswith(".tmp")
