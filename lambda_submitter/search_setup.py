"""The search domain's one-shot setup, run at deploy time as the domain's master user (Terraform invokes this
function once per change of what it maps): bucketlens' roles and their role mappings, and audit logging on.

The master user is this function's own role, which nothing else assumes: the workers, which decode
untrusted images, only write, the submitter only deletes, and readers only read. The Lambda runtime has
botocore but not opensearch-py, so requests go out SigV4-signed over botocore's own HTTP session.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from typing import Any

import boto3
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session

from job.core import logs, opensearch_access
from lambda_submitter import search_delete

log = logging.getLogger(__name__)
logs.configure(os.environ.get("BUCKETLENS_LOG_LEVEL", "INFO"))


class RequestFailed(Exception):
    """An answer other than 2xx; status_code as opensearch-py's errors carry it (404: not there)."""

    def __init__(self, method: str, path: str, status_code: int, body: str) -> None:
        super().__init__(f"OpenSearch {method} {path}: HTTP {status_code} {body[:300]}")
        self.status_code = status_code


class SignedTransport:
    """perform_request(method, path, body) as job.core.opensearch_access calls opensearch-py's transport."""

    def __init__(self, endpoint: str, credentials: Any, region: str, session: Any = None) -> None:
        self.base, self.credentials, self.region = search_delete.base_url(endpoint), credentials, region
        self.session = session or URLLib3Session(timeout=30)

    def perform_request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=self.base + path, data=data, headers=headers)
        search_delete.sign(request, self.credentials, self.region)
        response = self.session.send(request.prepare())
        text = response.content.decode("utf-8", "replace") if response.content else ""
        if not 200 <= response.status_code < 300:
            raise RequestFailed(method, path, response.status_code, text)
        return json.loads(text) if text else {}


class Client:
    """What opensearch_access needs of a client: its transport."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport


def set_up(client: Any, index: str, grants: dict[str, list[str]]) -> dict:
    """Roles and mappings on the index, then audit logging; what changed, for the invocation's answer."""
    changes = opensearch_access.ensure(client, index, grants)
    audit = opensearch_access.enable_audit(client)
    return {"changes": [asdict(c) for c in changes + ([audit] if audit else [])]}


def handler(event: dict, context: Any = None) -> dict:
    """{"index": ..., "grants": {"bucketlens_writer": [role ARN, ...], ...}} -> what was changed.

    A refusal or an unreachable cluster raises: the deploy that invoked it fails and says why."""
    grants = dict(opensearch_access.parse_grants(json.dumps(event.get("grants") or {})))
    endpoint = os.environ["BUCKETLENS_OPENSEARCH_ENDPOINT"]
    session = boto3.session.Session()
    transport = SignedTransport(endpoint, session.get_credentials(), session.region_name or "us-east-1")
    result = set_up(
        Client(transport), event.get("index") or "bucketlens", {k: list(v) for k, v in grants.items()}
    )
    log.info("search set up", extra=result)
    return result
