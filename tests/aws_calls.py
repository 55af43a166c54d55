"""Every AWS call the code under pipeline/ and steps/ can make, read from its source, and the IAM actions
each one needs: what tests/test_permissions.py checks pipeline.aws.permissions against.

A call is found where the code names a boto3 client operation:

* ``x.<operation>(Name=...)`` -- the snake-case name of an operation of a service the code makes
  clients for (``.client("s3")`` etc.), called with keyword arguments only (boto3 operations take no
  positional argument), whose input shape accepts those keywords;
* ``x.get_paginator("<operation>")`` and ``x.get_waiter("<waiter>")`` (the waiter's operation);
* boto3's S3 transfer methods (``copy``, ``download_file``, ...), called with their signature: the
  operations s3transfer makes for them;
* a string constant naming an operation (``getattr(client, "update_model_package")`` style dispatch).

Which role makes a call follows from the code too: the functions reachable, by name, from a role's entry
points (``ROLE_ENTRY_POINTS``) within the modules those entry points import.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import botocore.session
from botocore import xform_name

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("pipeline", "steps")
MODULE_CODE = "<module>"

# boto3's S3 transfer methods are not API operations; these are the operations s3transfer makes for them
# (read from s3transfer: a HEAD for the size, then one request or a multipart transfer, aborted on failure).
TRANSFER_METHODS: dict[str, tuple[str, ...]] = {
    "copy": ("HeadObject", "CopyObject", "CreateMultipartUpload", "UploadPartCopy", "CompleteMultipartUpload",
             "AbortMultipartUpload"),
    "download_file": ("HeadObject", "GetObject"),
    "download_fileobj": ("HeadObject", "GetObject"),
    "upload_file": ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                    "AbortMultipartUpload"),
    "upload_fileobj": ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                       "AbortMultipartUpload"),
}

# Operations whose IAM action is not "<signing name>:<operation>" (AWS Service Authorization Reference).
IAM_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    # Reads the source, writes the target; S3 copies the source's tags unless told otherwise.
    ("s3", "CopyObject"): ("s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"),
    ("s3", "UploadPartCopy"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("sts", "GetCallerIdentity"): (),  # allowed to every principal
}
# Actions an operation needs besides its own ("Dependent actions"): passing a role to the service; and
# GetFunction returns the function's Tags only to a caller also allowed lambda:ListTags (its API reference).
DEPENDENT_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("lambda", "GetFunction"): ("lambda:ListTags",),
    ("lambda", "CreateFunction"): ("iam:PassRole",),
    ("lambda", "UpdateFunctionConfiguration"): ("iam:PassRole",),
    ("sagemaker", "CreatePipeline"): ("iam:PassRole",),
    ("sagemaker", "UpdatePipeline"): ("iam:PassRole",),
    ("scheduler", "CreateSchedule"): ("iam:PassRole",),
    ("scheduler", "UpdateSchedule"): ("iam:PassRole",),
}
# Creating a resource with Tags also needs the service's tagging action.
TAGGING_ACTIONS = {"lambda": "lambda:TagResource", "sagemaker": "sagemaker:AddTags"}
# With SSE-KMS, S3 uses the key as the caller: reading decrypts, writing generates a data key, a multipart
# upload does both (S3 decrypts the parts' keys to complete it).
KMS_FOR_S3: dict[str, tuple[str, ...]] = {
    "GetObject": ("kms:Decrypt",),
    "PutObject": ("kms:GenerateDataKey",),
    "CopyObject": ("kms:Decrypt", "kms:GenerateDataKey"),
    "UploadPartCopy": ("kms:Decrypt", "kms:GenerateDataKey"),
    "CreateMultipartUpload": ("kms:GenerateDataKey",),
    "UploadPart": ("kms:GenerateDataKey",),
    "CompleteMultipartUpload": ("kms:Decrypt",),
}


@dataclass(frozen=True)
class Call:
    """One AWS operation the code can request."""

    module: str
    function: str  # qualified name in the module, MODULE_CODE for import-time code
    line: int
    service: str  # botocore service name
    operation: str  # botocore operation name
    text: str  # the source expression, for messages
    tagged: bool = False  # the request may carry Tags

    @property
    def where(self) -> str:
        return f"{self.module.replace('.', '/')}.py:{self.line} ({self.function}: {self.text[:80]})"

    @property
    def actions(self) -> frozenset[str]:
        """The IAM actions this call needs (KMS aside: see ``kms_actions``)."""
        model = service_model(self.service)
        actions = set(IAM_ACTIONS.get((self.service, self.operation), (f"{model.signing_name}:{self.operation}",)))
        actions |= set(DEPENDENT_ACTIONS.get((self.service, self.operation), ()))
        if self.tagged and self.service in TAGGING_ACTIONS:
            actions.add(TAGGING_ACTIONS[self.service])
        return frozenset(actions)

    @property
    def kms_actions(self) -> frozenset[str]:
        """The KMS actions it needs when objects are encrypted with the configured key."""
        return frozenset(KMS_FOR_S3.get(self.operation, ())) if self.service == "s3" else frozenset()


@dataclass
class Function:
    module: str
    qualname: str
    names: set[str] = field(default_factory=set)  # every identifier and attribute it mentions
    calls: list[Call] = field(default_factory=list)

    @property
    def simple_name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass
class Module:
    name: str
    imports: set[str]
    functions: dict[str, Function]
    classes: dict[str, list[str]]  # class name -> its methods' qualnames


@lru_cache(maxsize=None)
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=1)
def _botocore_session():
    return botocore.session.get_session()


def module_paths() -> dict[str, Path]:
    """Module name -> file, for every module under ROOTS."""
    found = {}
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def client_services(trees: Mapping[str, ast.Module]) -> frozenset[str]:
    """Services the code makes boto3 clients for: ``<anything>.client("<service>", ...)``."""
    services = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                services.add(node.args[0].value)
    return frozenset(services)


@lru_cache(maxsize=None)
def _operations(services: frozenset[str]) -> dict[str, list[tuple[str, str]]]:
    """snake_case name -> [(service, Operation)] over ``services``."""
    table: dict[str, list[tuple[str, str]]] = {}
    for service in sorted(services):
        for operation in service_model(service).operation_names:
            table.setdefault(xform_name(operation), []).append((service, operation))
    return table


def _accepts(service: str, operation: str, call: ast.Call) -> bool:
    """Whether a keyword-only call fits the operation's input shape (unknown with ``**kwargs``)."""
    shape = service_model(service).operation_model(operation).input_shape
    members = set(shape.members) if shape else set()
    given = {k.arg for k in call.keywords if k.arg is not None}
    if not given <= members:
        return False
    spread = any(k.arg is None for k in call.keywords)
    # botocore fills idempotency tokens (e.g. StartPipelineExecution's ClientRequestToken) itself.
    required = {m for m in (shape.required_members if shape else ())
                if not shape.members[m].metadata.get("idempotencyToken")}
    return spread or required <= given


def _fits_signature(method: str, call: ast.Call) -> bool:
    import boto3.s3.inject

    signature = inspect.signature(getattr(boto3.s3.inject, method))
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return True
    try:
        signature.bind(None, *call.args, **{k.arg: None for k in call.keywords})
    except TypeError:
        return False
    return True


def _calls_in(node: ast.AST, module: str, function: str, services: frozenset[str], source: str) -> list[Call]:
    operations = _operations(services)
    found: list[Call] = []

    def add(service: str, operation: str, at: ast.AST, tagged: bool = False) -> None:
        text = ast.get_source_segment(source, at) or ast.unparse(at)
        found.append(Call(module, function, at.lineno, service, operation, " ".join(text.split()), tagged))

    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            method = sub.func.attr
            literal = (sub.args[0].value if sub.args and isinstance(sub.args[0], ast.Constant)
                       and isinstance(sub.args[0].value, str) else None)
            if method == "get_paginator" and literal in operations:
                for service, operation in operations[literal]:
                    if _paginates(service, operation):
                        add(service, operation, sub)
            elif method == "get_waiter" and literal:
                for service in sorted(services):
                    waiters = _botocore_session().get_waiter_model(service) if _has_waiters(service) else None
                    for name in (waiters.waiter_names if waiters else ()):
                        if xform_name(name) == literal:
                            add(service, waiters.get_waiter(name).operation, sub)
            elif method in operations and not sub.args:
                # The keywords tell same-named operations of two services apart; when none fits, all are
                # kept: a call AWS would refuse is still a call.
                candidates = [(s, o) for s, o in operations[method] if _accepts(s, o, sub)] or operations[method]
                text = ast.unparse(sub)
                for service, operation in candidates:
                    add(service, operation, sub, tagged="Tags" in text)
            elif method in TRANSFER_METHODS and "s3" in services and _fits_signature(method, sub):
                for operation in TRANSFER_METHODS[method]:
                    add("s3", operation, sub)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "_" in sub.value:
            for service, operation in operations.get(sub.value, ()):
                if not _is_paginator_or_waiter_argument(node, sub):
                    add(service, operation, sub)
    return found


@lru_cache(maxsize=None)
def _paginates(service: str, operation: str) -> bool:
    try:
        _botocore_session().get_paginator_model(service).get_paginator(operation)
    except Exception:  # botocore: DataNotFoundError (no paginators), ValueError (not this operation)
        return False
    return True


@lru_cache(maxsize=None)
def _has_waiters(service: str) -> bool:
    try:
        _botocore_session().get_waiter_model(service)
    except Exception:  # botocore raises DataNotFoundError for services without waiters
        return False
    return True


def _is_paginator_or_waiter_argument(scope: ast.AST, constant: ast.Constant) -> bool:
    for sub in ast.walk(scope):
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                and sub.func.attr in ("get_paginator", "get_waiter") and sub.args and sub.args[0] is constant):
            return True
    return False


def _names(node: ast.AST) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            names.add(sub.attr)
    return names


def _imports(tree: ast.Module, known: Iterable[str]) -> set[str]:
    known = set(known)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in candidates:
            parts = name.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known
    return found


@lru_cache(maxsize=1)
def index() -> dict[str, Module]:
    """Every module under ROOTS: its imports, functions (with their calls and names) and classes."""
    paths = module_paths()
    sources = {name: path.read_text() for name, path in paths.items()}
    trees = {name: ast.parse(text, filename=str(paths[name])) for name, text in sources.items()}
    services = client_services(trees)
    modules = {}
    for name, tree in trees.items():
        functions: dict[str, Function] = {}
        classes: dict[str, list[str]] = {}
        top = Function(name, MODULE_CODE)

        def define(qualname: str, node: ast.AST) -> None:
            functions[qualname] = Function(name, qualname, _names(node),
                                           _calls_in(node, name, qualname, services, sources[name]))

        for statement in tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                define(statement.name, statement)
            elif isinstance(statement, ast.ClassDef):
                classes[statement.name] = []
                for member in statement.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        define(f"{statement.name}.{member.name}", member)
                        classes[statement.name].append(f"{statement.name}.{member.name}")
                    else:
                        top.names |= _names(member)
                        top.calls += _calls_in(member, name, MODULE_CODE, services, sources[name])
            else:
                top.names |= _names(statement)
                top.calls += _calls_in(statement, name, MODULE_CODE, services, sources[name])
        functions[MODULE_CODE] = top
        modules[name] = Module(name, _imports(tree, paths) - {name}, functions, classes)
    return modules


def all_calls() -> list[Call]:
    return [call for module in index().values() for function in module.functions.values() for call in function.calls]


def import_closure(roots: Iterable[str]) -> set[str]:
    modules = index()
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += sorted(modules[name].imports - seen)
    return seen


def reachable(entry_points: Iterable[str]) -> list[Function]:
    """Functions that may run from ``module:function`` entry points: by name, within what they import
    (a name reaches every function or method so called; a class name its dunder methods)."""
    modules = index()
    entries = [tuple(entry.split(":", 1)) for entry in entry_points]
    scope = import_closure(module for module, _ in entries)
    by_name: dict[str, list[Function]] = {}
    for module in sorted(scope):
        for function in modules[module].functions.values():
            by_name.setdefault(function.simple_name, []).append(function)
        for cls, methods in modules[module].classes.items():
            by_name.setdefault(cls, []).extend(modules[module].functions[m] for m in methods
                                               if m.rsplit(".", 1)[-1].startswith("__"))
    todo = [modules[m].functions[MODULE_CODE] for m in sorted(scope)]
    for module, function in entries:
        if function not in modules[module].functions:
            raise KeyError(f"entry point {module}:{function} does not exist")
        todo.append(modules[module].functions[function])
    seen: dict[tuple[str, str], Function] = {}
    while todo:
        function = todo.pop()
        key = (function.module, function.qualname)
        if key in seen:
            continue
        seen[key] = function
        for name in sorted(function.names):
            todo += [f for f in by_name.get(name, ()) if (f.module, f.qualname) not in seen]
    return sorted(seen.values(), key=lambda f: (f.module, f.qualname))


def reachable_calls(entry_points: Iterable[str]) -> list[Call]:
    return [call for function in reachable(entry_points) for call in function.calls]
