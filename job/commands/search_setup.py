"""`python -m job search-setup`: map the workers', the submitter's and (optionally) the operators' IAM roles
to the OpenSearch roles they need, as the cluster's master user. A domain Terraform creates needs no such
step (its own master user, the setup function's role, does it at deploy time: lambda_submitter/search_setup.py);
run this when the master user is someone else: your own IAM identity (`search_master_user_arn`), or a
basic-auth user of an existing cluster whose secret you give."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from typing import Any, TextIO

from job.core import errors, opensearch, opensearch_access

log = logging.getLogger(__name__)


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser("search-setup", help=help_text)
    opensearch.add_arguments(p)
    for flag, role, who in (
        ("--writer", opensearch_access.WRITER, "the workers' job role"),
        ("--deleter", opensearch_access.DELETER, "the submitter's role"),
        ("--reader", opensearch_access.READER, "people or tools that run `python -m job search`"),
    ):
        p.add_argument(
            flag,
            action="append",
            default=[],
            metavar="ROLE_ARN",
            help=f"{who}: mapped to {role} (repeatable)",
        )
    p.add_argument(
        "--terraform-dir",
        help="read the endpoint, the index and the two roles from this applied deployment's outputs",
    )
    p.set_defaults(func=command)


def _from_terraform(args: argparse.Namespace) -> None:
    from job.commands import deployed

    endpoint = deployed.read(args.terraform_dir, "search_endpoint")
    args.opensearch_endpoint = args.opensearch_endpoint or endpoint
    args.opensearch_index = deployed.read(args.terraform_dir, "search_index")
    args.writer.append(deployed.read(args.terraform_dir, "worker_role_arn"))
    args.deleter.append(deployed.read(args.terraform_dir, "submitter_role_arn"))


def command(args: argparse.Namespace, out: TextIO | None = None, client: Any = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported
    if args.terraform_dir:
        _from_terraform(args)
    settings = opensearch.settings_from(args)
    if settings is None:
        raise errors.ConfigError("no OpenSearch endpoint: give --opensearch-endpoint or --terraform-dir")
    grants = {
        opensearch_access.WRITER: args.writer,
        opensearch_access.DELETER: args.deleter,
        opensearch_access.READER: args.reader,
    }
    if not any(grants.values()):
        raise errors.ConfigError("nothing to map: give --writer, --deleter or --reader (or --terraform-dir)")
    from opensearchpy.exceptions import TransportError

    client = client or opensearch.connect(settings)
    try:
        changes = opensearch_access.ensure(client, settings.index, grants)
    except TransportError as exc:  # ConnectionError's status is "N/A"; the others carry the HTTP status
        raise _failure(exc.status_code, exc) from exc
    for change in changes:
        out.write(json.dumps(asdict(change)) + "\n")
    if not changes:
        out.write(
            json.dumps({"kind": "nothing", "name": "every role and mapping is already in place"}) + "\n"
        )
    return errors.EXIT_OK


def _failure(status: Any, exc: Exception) -> Exception:
    """401/403: not the master user (no retry helps); no answer, a 429 or a 5xx: try again."""
    if status in (401, 403):
        return errors.ConfigError(
            f"OpenSearch refused the security API (HTTP {status}): run this as the domain's master user "
            "(search_master_user_arn), or with --opensearch-auth basic --opensearch-secret-arn"
        )
    if not isinstance(status, int) or status == 429 or status >= 500:
        return errors.TransientError(f"OpenSearch did not answer: {type(exc).__name__}: {exc}")
    return errors.ConfigError(f"OpenSearch refused the request (HTTP {status}): {exc}")
