"""A folder that behaves like S3 for the local runner: ``s3://bucket/key`` ↔ ``<root>/s3/bucket/key``.

Objects are files; a prefix is a plain string prefix of the key, as in S3 (``s3://b/in`` matches
``in/a.csv`` and ``input/b.csv``). Writes are atomic (``processing_scripts.outputs``: a temporary file
beside the target, fsync, rename), so a reader sees an object whole or not at all. URIs that could leave
the store (``..``, ``.``, empty segments, absolute keys, backslashes, NUL) are refused, and so are paths
that a symlink inside the store would send elsewhere.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.limits import is_bucket_name
from processing_scripts.outputs import is_temporary, open_atomic



class StoreError(ValueError):
    """A URI is malformed or escapes the store."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b")``, refusing what could escape the store.

    >>> split_uri("s3://bucket/a/b.csv")
    ('bucket', 'a/b.csv')
    >>> split_uri("s3://bucket")
    ('bucket', '')
    >>> split_uri("s3://bucket/a/../../etc")
    Traceback (most recent call last):
    ...
    pipeline.local.store.StoreError: key of 's3://bucket/a/../../etc' would escape the store: no '.', '..' or empty path segments
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise StoreError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not is_bucket_name(bucket):
        raise StoreError(f"bad bucket name in {uri!r}: 3-63 lowercase letters, digits, '.' and '-'")
    if "\\" in key or "\0" in key:
        raise StoreError(f"key of {uri!r} has a backslash or NUL character")
    # The last segment may be empty (a prefix ending with '/'); no other may.
    segments = key.split("/")[:-1] if key.endswith("/") else key.split("/")
    if key and any(segment in ("", ".", "..") for segment in segments):
        raise StoreError(f"key of {uri!r} would escape the store: no '.', '..' or empty path segments")
    return bucket, key


class LocalObjectStore:
    """Objects under ``<root>/s3/<bucket>/<key>``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._base = self.root / "s3"

    def path_for(self, uri: str) -> Path:
        """The file that holds (or would hold) the object ``uri``."""
        bucket, key = split_uri(uri)
        path = self._base / bucket / key
        # A symlink planted inside the store must not lead outside it.
        resolved_base = self._base.resolve()
        if not path.resolve().is_relative_to(resolved_base):
            raise StoreError(f"{uri!r} resolves outside the store {self._base}")
        return path

    def exists(self, uri: str) -> bool:
        return self.path_for(uri).is_file()

    def _object_path(self, uri: str) -> Path:
        _, key = split_uri(uri)
        if not key or key.endswith("/"):
            raise StoreError(f"{uri!r} names a prefix, not an object: add the object's name")
        path = self.path_for(uri)
        if path.is_dir():
            raise StoreError(f"{uri!r} is already a prefix of other objects in the local store; pick another key")
        return path

    def put_bytes(self, uri: str, data: bytes) -> str:
        """Store ``data`` at ``uri`` (replacing it atomically); returns ``uri``."""
        path = self._object_path(uri)
        with open_atomic(path) as handle:
            handle.write(data)
        return uri

    def put_file(self, uri: str, local_path: str | Path) -> str:
        """Copy a local file to ``uri`` without reading it into memory; returns ``uri``."""
        path = self._object_path(uri)
        with open(local_path, "rb") as source, open_atomic(path) as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
        return uri

    def get_bytes(self, uri: str) -> bytes:
        path = self.path_for(uri)
        if not path.is_file():
            raise FileNotFoundError(f"no object at {uri} in the local store {self.root}")
        return path.read_bytes()

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of every object whose key starts with the prefix's key (a plain string prefix), sorted."""
        bucket, key = split_uri(prefix_uri)
        bucket_dir = self._base / bucket
        # Only the folder holding the prefix's last segment can hold matches.
        folder = bucket_dir / key.rsplit("/", 1)[0] if "/" in key else bucket_dir
        if not folder.is_dir():
            return []
        found = []
        for path in folder.rglob("*"):
            if path.is_file() and not is_temporary(path):
                relative = path.relative_to(bucket_dir).as_posix()
                if relative.startswith(key):
                    found.append(f"s3://{bucket}/{relative}")
        return sorted(found)

    def download_prefix(self, prefix_uri: str, dest_dir: str | Path) -> list[Path]:
        """Copy the objects under a prefix into ``dest_dir`` as an S3Prefix input does; returns the files.

        An object's key with the prefix taken off (and any leading '/') is its path under ``dest_dir``:
        ``s3://b/in/`` and ``s3://b/in`` both put ``in/x/y.csv`` at ``dest/x/y.csv``. A prefix that names
        one object exactly puts just that object at ``dest/<its name>``. These are the SageMaker Python
        SDK's local-mode rules (``sagemaker.utils.download_folder``).
        """
        bucket, key = split_uri(prefix_uri)
        dest = Path(dest_dir)
        if key and not key.endswith("/") and self.exists(prefix_uri):
            pairs = [(prefix_uri, key.rsplit("/", 1)[-1])]
        else:
            pairs = [(uri, split_uri(uri)[1][len(key):].lstrip("/")) for uri in self.list(prefix_uri)]
        copied = []
        for uri, relative in pairs:
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path_for(uri), target)
            copied.append(target)
        return copied

    def upload_dir(self, local_dir: str | Path, prefix_uri: str) -> list[str]:
        """Upload every file below ``local_dir`` to ``<prefix_uri>/<relative path>``; returns the URIs."""
        local_dir = Path(local_dir)
        base = prefix_uri.rstrip("/")
        split_uri(base + "/")  # refuse a bad prefix before writing anything
        uploaded = []
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            uri = f"{base}/{path.relative_to(local_dir).as_posix()}"
            self.put_file(uri, path)
            uploaded.append(uri)
        return uploaded
