"""The registry in an SQLite file: what the local runner registers into and the CLI reviews."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from pipeline.registry.base import (
    DEFAULT_REGION, PACKAGE_ARN_RE, ModelRegistry, PackageRequest, check_approval_description, check_group,
    check_status, iso, parse_arn, parse_group_version,
)
from pipeline.registry.errors import RegistryError
from processing_scripts import customer_metadata

LOCAL_ACCOUNT = "000000000000"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, created REAL NOT NULL, description TEXT)",
    """CREATE TABLE IF NOT EXISTS packages (
        group_name TEXT NOT NULL REFERENCES groups(name),
        version INTEGER NOT NULL CHECK (version >= 1),
        approval_status TEXT NOT NULL CHECK (approval_status IN ('Approved', 'Rejected', 'PendingManualApproval')),
        approval_description TEXT,
        description TEXT,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        model_data_url TEXT NOT NULL,
        image TEXT NOT NULL,
        environment TEXT NOT NULL,
        content_types TEXT NOT NULL,
        response_types TEXT NOT NULL,
        model_metrics TEXT NOT NULL,
        drift_check_baselines TEXT,
        customer_metadata TEXT NOT NULL,
        generated_by TEXT,
        PRIMARY KEY (group_name, version))""",
)
# Columns added after the first release: (table, column, declaration), added to older registries.
_ADDED_COLUMNS = (("groups", "description", "TEXT"), ("packages", "generated_by", "TEXT"))
# One package per group and pipeline execution: a retried registration finds the first.
_INDEXES = ("CREATE UNIQUE INDEX IF NOT EXISTS packages_generated_by ON packages (group_name, generated_by) "
            "WHERE generated_by IS NOT NULL",)


def database_problem(path: Path, error: Exception) -> str:
    """What is wrong with the registry file at ``path`` (an sqlite3 or OS error), and the fix."""
    text = str(error)
    if "readonly" in text or "read-only" in text:
        return f"{path} is read-only ({text}); make it and its folder writable, or pass another --work-dir"
    if path.is_dir():
        return f"{path} is a folder, not a registry database; move it aside or pass another --work-dir"
    if "locked" in text:  # busy past the timeout: healthy, in use (moving it aside would lose it)
        return f"{path} is locked by another process ({text}); wait for that run or command to end, then retry"
    if "unable to open" in text or isinstance(error, OSError):
        return f"cannot open {path} ({text}); check its folder's permissions, or pass another --work-dir"
    return (f"{path} is not a usable registry database ({text}); move it aside (the next local run makes a "
            "new one), or pass another --work-dir")


class LocalRegistry(ModelRegistry):
    """SQLite registry at ``path``. A version number is taken inside the write transaction that stores
    it (BEGIN IMMEDIATE), and (group, version) is the primary key, so parallel registrations from any
    number of processes never share, skip or lose a number."""

    def __init__(self, path: str | Path, *, region: str | None = None, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if self.path.is_dir():
            raise RegistryError(database_problem(self.path, IsADirectoryError(str(self.path))))
        if self.path.is_file() and self.path.stat().st_size == 0:
            # SQLite would take an empty file for a new registry: every champion lost, the next model
            # registered as the first. A registry made here is never empty (see _create_file).
            raise RegistryError(f"{self.path} is empty (0 bytes), so its versions and approvals are lost; restore "
                                "it from a backup, or move it aside to start a new registry")
        if readonly and not self.path.is_file():
            raise RegistryError(f"no local registry at {self.path}: run python -m pipeline.local first or pass --work-dir")
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    self._create_file(region)
            except OSError as error:
                raise RegistryError(database_problem(self.path, error)) from None
        stored = self._stored_region()
        if stored is None or (not readonly and self._needs_schema()):
            if readonly:
                raise RegistryError(database_problem(self.path, sqlite3.DatabaseError("no registry tables")))
            stored = self._create_schema(region)
        if region and region != stored:
            raise RegistryError(f"{self.path} holds packages of region {stored}, not {region}; use another work dir")
        self.region = stored

    def _create_file(self, region: str | None) -> None:
        """Make the database with its tables in a file of its own, then link it into place: the file
        appears whole, never empty (a process that finds it a moment later must not take an empty file
        for a fresh registry). When another process links first, its file is kept."""
        made = self.path.with_name(f".{self.path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            LocalRegistry._create_schema(self, region, path=made)
            try:
                os.link(made, self.path)
            except FileExistsError:
                pass
        finally:
            made.unlink(missing_ok=True)

    def _stored_region(self) -> str | None:
        """The region the registry was made for, or None when it has no tables yet (a read, no lock)."""
        with self._connect() as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
                return None
            found = db.execute("SELECT value FROM meta WHERE key = 'region'").fetchone()
        return found[0] if found else None

    def _needs_schema(self) -> bool:
        with self._connect() as db:
            tables = {r["name"] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "groups", "packages"} <= tables:
                return True
            return any(column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                       for table, column, _ in _ADDED_COLUMNS)

    def _create_schema(self, region: str | None, *, path: Path | None = None) -> str:
        """Create (or bring up to date) the tables, in one write transaction; returns the stored region.
        ``path``: another database file (default: the registry's)."""
        with self._connect(path) as db:
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                db.execute(statement)
            for table, column, declaration in _ADDED_COLUMNS:  # registries made by older versions
                if column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            for statement in _INDEXES:
                db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('region', ?)", (region or DEFAULT_REGION,))
            (stored,) = db.execute("SELECT value FROM meta WHERE key = 'region'").fetchone()
            db.execute("COMMIT")
        return stored

    def check_writable(self) -> None:
        """RegistryError unless a registration could be written now (takes and releases the write lock)."""
        if self.readonly:
            raise RegistryError(f"{self.path} was opened read-only")
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:  # a write, undone: only writing a page finds a read-only file or folder
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write_check', '')")
            finally:
                db.execute("ROLLBACK")

    @contextlib.contextmanager
    def _connect(self, path: Path | None = None) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: each statement commits, except inside an explicit BEGIN.
        try:
            target = self.path.resolve().as_uri() + "?mode=ro" if self.readonly else str(path or self.path)
            db = sqlite3.connect(target, timeout=60, isolation_level=None, uri=self.readonly)
        except sqlite3.DatabaseError as error:
            raise RegistryError(database_problem(self.path, error)) from None
        try:
            db.execute("PRAGMA busy_timeout = 60000")
            db.row_factory = sqlite3.Row
            yield db
        except sqlite3.DatabaseError as error:
            raise RegistryError(database_problem(self.path, error)) from None
        finally:
            db.close()

    def sagemaker_client(self):
        from pipeline.local.sagemaker_api import LocalSageMakerApi  # it imports this module

        return LocalSageMakerApi(self)

    def package_arn(self, group: str, version: int) -> str:
        return f"arn:aws:sagemaker:{self.region}:{LOCAL_ACCOUNT}:model-package/{group}/{version}"

    def group_arn(self, group: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{LOCAL_ACCOUNT}:model-package-group/{group}"

    def _key(self, ref: str) -> tuple[str, int]:
        """(group, version) of an ARN of this registry or of ``"<group>/<version>"``."""
        found = parse_group_version(ref)
        if found:
            return found
        group, version = parse_arn(ref)
        region, account = PACKAGE_ARN_RE.match(ref).group(1, 2)
        if (region, account) != (self.region, LOCAL_ACCOUNT):
            raise RegistryError(f"no model package {ref} (the local registry is {self.region}/{LOCAL_ACCOUNT})")
        return group, version

    def _missing(self, group: str, version: int) -> RegistryError:
        return RegistryError(f"no model package {self.package_arn(group, version)} "
                             f"(group {group!r} has no version {version})")

    def add_package(self, request: PackageRequest) -> dict[str, Any]:
        now = time.time()
        row = {
            "approval_status": request.approval_status, "description": request.description, "created": now,
            "modified": now, "model_data_url": request.model_data_url, "image": request.image_uri,
            "environment": json.dumps(request.environment), "content_types": json.dumps(list(request.content_types)),
            "response_types": json.dumps(list(request.response_types)),
            "model_metrics": json.dumps(request.model_metrics),
            "drift_check_baselines": json.dumps(request.drift_check_baselines) if request.drift_check_baselines else None,
            "customer_metadata": json.dumps(request.customer_metadata),
            "generated_by": request.generated_by,
        }
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: nobody else can read the same last version
            try:
                db.execute("INSERT OR IGNORE INTO groups (name, created) VALUES (?, ?)", (request.group, now))
                earlier = db.execute(
                    "SELECT version FROM packages WHERE group_name = ? AND generated_by = ?",
                    (request.group, request.generated_by),
                ).fetchone() if request.generated_by else None
                if earlier:  # this execution registered already (then was interrupted): that package
                    db.execute("COMMIT")
                    return self.describe(self.package_arn(request.group, earlier[0]))
                (version,) = db.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM packages WHERE group_name = ?", (request.group,)
                ).fetchone()
                db.execute(
                    f"INSERT INTO packages (group_name, version, {', '.join(row)}) "
                    f"VALUES (?, ?, {', '.join('?' for _ in row)})",
                    (request.group, version, *row.values()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return self.describe(self.package_arn(request.group, version))

    def create_group(self, group: str, description: str | None = None) -> dict[str, Any]:
        check_group(group)
        with self._connect() as db:
            try:
                db.execute("INSERT INTO groups (name, created, description) VALUES (?, ?, ?)",
                           (group, time.time(), description))
            except sqlite3.IntegrityError:
                raise RegistryError(f"model package group {group!r} already exists") from None
        return self.describe_group(group)

    def describe_group(self, group: str) -> dict[str, Any]:
        """DescribeModelPackageGroup-shaped record of ``group``."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM groups WHERE name = ?", (group,)).fetchone()
        if row is None:
            raise RegistryError(f"no model package group {group!r}")
        record = {
            "ModelPackageGroupName": row["name"],
            "ModelPackageGroupArn": self.group_arn(row["name"]),
            "ModelPackageGroupDescription": row["description"],
            "CreationTime": iso(row["created"]),
            "ModelPackageGroupStatus": "Completed",
        }
        return {k: v for k, v in record.items() if v is not None}

    def _describe_row(self, row: sqlite3.Row) -> dict[str, Any]:
        record = {
            "ModelPackageGroupName": row["group_name"],
            "ModelPackageVersion": row["version"],
            "ModelPackageArn": self.package_arn(row["group_name"], row["version"]),
            "ModelPackageName": row["group_name"],
            "ModelPackageDescription": row["description"],
            "CreationTime": iso(row["created"]),
            "LastModifiedTime": iso(row["modified"]),
            "InferenceSpecification": {
                "Containers": [{
                    "Image": row["image"],
                    "ModelDataUrl": row["model_data_url"],
                    "Environment": json.loads(row["environment"]),
                }],
                "SupportedContentTypes": json.loads(row["content_types"]),
                "SupportedResponseMIMETypes": json.loads(row["response_types"]),
            },
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False,
            "ModelApprovalStatus": row["approval_status"],
            "ApprovalDescription": row["approval_description"],
            "ModelMetrics": json.loads(row["model_metrics"]),
            "CustomerMetadataProperties": json.loads(row["customer_metadata"]),
            "DriftCheckBaselines": json.loads(row["drift_check_baselines"]) if row["drift_check_baselines"] else None,
            # A registry of an older version, read without being brought up to date, has no generated_by.
            "MetadataProperties": {"GeneratedBy": row["generated_by"]}
            if "generated_by" in row.keys() and row["generated_by"] else None,
        }
        return {k: v for k, v in record.items() if v is not None}

    def describe(self, ref: str) -> dict[str, Any]:
        group, version = self._key(ref)
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM packages WHERE group_name = ? AND version = ?", (group, version)
            ).fetchone()
        if row is None:
            raise self._missing(group, version)
        return self._describe_row(row)

    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM packages WHERE (? IS NULL OR group_name = ?) ORDER BY group_name, version",
                (group, group),
            ).fetchall()
        return [self._describe_row(r) for r in rows]

    def list_groups(self) -> list[str]:
        with self._connect() as db:
            return [r["name"] for r in db.execute("SELECT name FROM groups ORDER BY name")]

    def update_approval(self, ref: str, status: str, description: str | None = None,
                        metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        check_status(status)
        check_approval_description(description)
        group, version = self._key(ref)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # read-modify-write of the metadata under the write lock
            try:
                row = db.execute("SELECT customer_metadata FROM packages WHERE group_name = ? AND version = ?",
                                 (group, version)).fetchone()
                merged = {**json.loads(row["customer_metadata"]), **dict(metadata or {})} if row else {}
                problem = customer_metadata.problem(merged)
                if problem:
                    raise RegistryError(problem)
                changed = db.execute(
                    "UPDATE packages SET approval_status = ?, approval_description = ?, customer_metadata = ?, "
                    "modified = ? WHERE group_name = ? AND version = ?",
                    (status, description, json.dumps(merged), time.time(), group, version),
                ).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if not changed:
            raise self._missing(group, version)
        return self.describe(self.package_arn(group, version))
