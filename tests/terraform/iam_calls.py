"""Which AWS API actions our code calls, read from its source: boto3 client methods mapped to IAM actions."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

import botocore.session

# boto3 method -> IAM action where the IAM name is not the API operation's name.
S3_ACTIONS = {
    "list_objects": ("s3:ListBucket",),
    "list_objects_v2": ("s3:ListBucket",),
    "head_bucket": ("s3:ListBucket",),
    "head_object": ("s3:GetObject",),
    "list_object_versions": ("s3:ListBucketVersions",),
    "upload_file": ("s3:PutObject",),
    "upload_fileobj": ("s3:PutObject",),
    "download_file": ("s3:GetObject",),
    "download_fileobj": ("s3:GetObject",),
    "copy_object": ("s3:GetObject", "s3:PutObject"),
    "create_multipart_upload": ("s3:PutObject",),
    "upload_part": ("s3:PutObject",),
    "complete_multipart_upload": ("s3:PutObject",),
    "abort_multipart_upload": ("s3:AbortMultipartUpload",),
    "get_object_attributes": ("s3:GetObject",),
}
NOT_OPERATIONS = {"get_paginator", "get_waiter", "can_paginate", "close", "generate_presigned_url"}


@functools.cache
def _model(service: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(IAM prefix, boto3 method -> API operation, waiter name -> operation) for one service."""
    session = botocore.session.get_session()
    client = session.create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    prefix = client.meta.service_model.signing_name
    waiters: dict[str, str] = {}
    try:
        model = session.get_waiter_model(service)
        for name in model.waiter_names:
            snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
            waiters[snake] = model.get_waiter(name).operation
    except Exception:  # services without waiters
        pass
    return prefix, dict(client.meta.method_to_api_mapping), waiters


def action_for(service: str, method: str) -> tuple[str, ...]:
    """IAM actions one boto3 client method call needs."""
    prefix, methods, _ = _model(service)
    if service == "s3" and method in S3_ACTIONS:
        return S3_ACTIONS[method]
    return (f"{prefix}:{methods[method]}",)


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _services(tree: ast.AST) -> set[str]:
    """Services named in clients.client("<service>") calls."""
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "clients"
            and node.args
            and (name := _literal(node.args[0]))
        ):
            found.add(name)
    return found


def actions_in(files: Iterable[Path], services: set[str] | None = None) -> dict[str, set[str]]:
    """IAM action -> the files calling it, for every client method call on a service these files use.

    Clients travel between functions as arguments, so a call is attributed by its method name to each
    service (of those created with clients.client) that has such an operation.
    """
    trees = {path: ast.parse(path.read_text(), filename=str(path)) for path in files}
    used = set(services or ())
    for tree in trees.values():
        used |= _services(tree)
    found: dict[str, set[str]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            # a client method handed to a helper (`conditional(dynamodb.put_item, ...)`) is called there
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Attribute):
                    for service in sorted(used):
                        if arg.attr in _model(service)[1] and arg.attr not in NOT_OPERATIONS:
                            for action in action_for(service, arg.attr):
                                found.setdefault(action, set()).add(path.name)
            if not isinstance(node.func, ast.Attribute):
                continue
            method = node.func.attr
            for service in sorted(used):
                _, methods, waiters = _model(service)
                actions: tuple[str, ...] = ()
                if method == "get_paginator" and node.args and (op := _literal(node.args[0])) in methods:
                    actions = action_for(service, op)
                elif method == "get_waiter" and node.args and (w := _literal(node.args[0])) in waiters:
                    actions = (f"{_model(service)[0]}:{waiters[w]}",)
                elif (
                    method in methods
                    and method not in NOT_OPERATIONS
                    or service == "s3"
                    and method in S3_ACTIONS
                ):
                    actions = action_for(service, method)
                for action in actions:
                    found.setdefault(action, set()).add(path.name)
    return found


def import_closure(root: Path, start: Iterable[Path], package: str | tuple[str, ...]) -> list[Path]:
    """The modules of `package` (or packages, under root) that the start files import, transitively."""
    packages = (package,) if isinstance(package, str) else package
    seen: dict[Path, None] = {}
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen[path] = None
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] not in packages:
                    continue
                candidate = root.joinpath(*parts)
                for target in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                    if target.is_file():
                        todo.append(target)
    return sorted(seen)
