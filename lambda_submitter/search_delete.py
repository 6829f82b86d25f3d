"""Remove a deleted image's OpenSearch document from the Lambda, which has botocore but not opensearch-py:
one SigV4-signed HTTPS DELETE, a short timeout, a few retries; 404 means already gone."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 3
UNMAPPED = (
    "this role is not mapped to bucketlens_deleter: the deployment's search setup function maps it "
    "(terraform apply), or run python -m job search-setup as the domain's master user"
)


def doc_id(bucket: str, key: str) -> str:
    """The same id job.core.opensearch.doc_id gives (a test keeps the two equal)."""
    return hashlib.sha256(f"{bucket}\0{key}".encode()).hexdigest()


def base_url(endpoint: str) -> str:
    """https://host[:port] of a domain's endpoint (with or without a scheme); only HTTPS is accepted."""
    url = urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
    if url.scheme != "https":
        raise ValueError(f"OpenSearch endpoint must be https: {endpoint}")
    return f"https://{url.netloc}"


def request(endpoint: str, index: str, doc_id: str) -> AWSRequest:
    """The unsigned DELETE of one document."""
    return AWSRequest(method="DELETE", url=f"{base_url(endpoint)}/{quote(index)}/_doc/{quote(doc_id)}")


def sign(req: AWSRequest, credentials: Any, region: str) -> AWSRequest:
    SigV4Auth(credentials, "es", region).add_auth(req)
    return req


def delete(
    endpoint: str,
    index: str,
    doc_id: str,
    credentials: Any,
    region: str,
    send: Callable[[Any], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """True when the document is gone (deleted now or never there); raises after the retries."""
    session = URLLib3Session(timeout=10) if send is None else None
    for attempt in range(ATTEMPTS):
        prepared = sign(request(endpoint, index, doc_id), credentials, region).prepare()
        response = send(prepared) if send else session.send(prepared)
        if response.status_code in (200, 202, 404):
            return True
        if response.status_code == 403:
            raise RuntimeError(f"OpenSearch DELETE {doc_id}: HTTP 403 ({UNMAPPED})")
        if response.status_code not in RETRY_STATUSES or attempt == ATTEMPTS - 1:
            raise RuntimeError(f"OpenSearch DELETE {doc_id}: HTTP {response.status_code}")
        sleep(0.2 * 2**attempt)
    return False
