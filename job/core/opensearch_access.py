"""OpenSearch fine-grained access: the roles bucketlens needs inside the cluster, and the IAM roles mapped to
them, made through the Security plugin's REST API (`_plugins/_security/api`) by a caller allowed to (the
master user).

Idempotent and additive: a role whose permissions are already right and a mapping that already holds the
ARNs are not written again (64 children starting together send reads only), and a mapping keeps the users,
hosts and backend roles someone else added to it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

API = "/_plugins/_security/api"
WRITER, DELETER, READER = "bucketlens_writer", "bucketlens_deleter", "bucketlens_reader"


def roles(index: str) -> dict[str, dict[str, Any]]:
    """Exactly what each caller sends (job/worker/opensearch_sink.py, lambda_submitter/search_delete.py,
    job/commands/opensearch_search.py), on bucketlens' index and its k-NN index only."""
    from job.core.opensearch import vectors_index

    def on_index(*actions: str) -> list[dict[str, Any]]:
        return [{"index_patterns": [index, vectors_index(index)], "allowed_actions": list(actions)}]

    return {
        # bulk is a cluster-level action; HEAD /index (does it exist?) is indices:admin/get; a new
        # embedding model's field is added with PUT _mapping
        WRITER: {
            "cluster_permissions": ["cluster_composite_ops"],
            "index_permissions": on_index(
                "crud", "create_index", "indices:admin/get", "indices:admin/mapping/put"
            ),
        },
        DELETER: {"cluster_permissions": [], "index_permissions": on_index("indices:data/write/delete")},
        READER: {"cluster_permissions": ["cluster_composite_ops_ro"], "index_permissions": on_index("read")},
    }


Grants = tuple[tuple[str, tuple[str, ...]], ...]  # (bucketlens role, IAM role ARNs) pairs


def parse_grants(text: str) -> Grants:
    """The setup function's grants, JSON such as {"bucketlens_writer": ["arn:…:role/…"]}; ValueError if not."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    known = roles("-")
    if not isinstance(raw, dict) or not all(
        name in known and isinstance(arns, list) and all(isinstance(a, str) for a in arns)
        for name, arns in raw.items()
    ):
        raise ValueError(f"expected {{role: [IAM role ARN, ...]}} with roles among {sorted(known)}")
    return tuple((name, tuple(arns)) for name, arns in raw.items())


@dataclass(frozen=True)
class Change:
    """One thing written to the cluster's security configuration (what an operator is told)."""

    kind: str  # role | mapping
    name: str
    added: tuple[str, ...] = ()


def _get(client: Any, path: str) -> dict[str, Any] | None:
    """The named entry, or None when the cluster has none by that name."""
    try:
        answer = client.transport.perform_request("GET", path)
    except Exception as exc:  # noqa: BLE001 - opensearch-py's NotFoundError; anything else is the caller's
        if getattr(exc, "status_code", None) == 404:
            return None
        raise
    return next(iter(answer.values()), None) if answer else None


def _same_role(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    def shape(role: Mapping[str, Any]) -> tuple:
        return (
            sorted(role.get("cluster_permissions") or ()),
            sorted(
                (tuple(sorted(p.get("index_patterns") or ())), tuple(sorted(p.get("allowed_actions") or ())))
                for p in role.get("index_permissions") or ()
            ),
        )

    return shape(found) == shape(wanted)


def ensure(client: Any, index: str, mapping: Mapping[str, Iterable[str]]) -> list[Change]:
    """Each role in `mapping` exists with its permissions and maps (at least) the IAM role ARNs given."""
    wanted_roles = roles(index)
    changes: list[Change] = []
    for name, arns in mapping.items():
        arns = [a for a in arns if a]
        if not arns:
            continue
        found = _get(client, f"{API}/roles/{name}")
        if found is None or not _same_role(found, wanted_roles[name]):
            client.transport.perform_request("PUT", f"{API}/roles/{name}", body=wanted_roles[name])
            changes.append(Change("role", name))
        current = _get(client, f"{API}/rolesmapping/{name}") or {}
        backend = list(current.get("backend_roles") or ())
        missing = tuple(a for a in dict.fromkeys(arns) if a not in backend)
        if missing:
            body = {
                "backend_roles": backend + list(missing),
                "hosts": list(current.get("hosts") or ()),
                "users": list(current.get("users") or ()),
            }
            client.transport.perform_request("PUT", f"{API}/rolesmapping/{name}", body=body)
            changes.append(Change("mapping", name, missing))
    for change in changes:
        log.info("search access", extra={"kind": change.kind, "role": change.name, "added": change.added})
    return changes


AUDIT = f"{API}/audit"
# The audit configuration Amazon OpenSearch Service's guide sends to switch audit logging on ("Monitoring
# audit logs", enabling them with the REST API), used when the cluster returns none to keep.
DEFAULT_AUDIT: dict[str, Any] = {
    "enabled": True,
    "audit": {
        "enable_rest": True,
        "disabled_rest_categories": ["GRANTED_PRIVILEGES", "AUTHENTICATED"],
        "enable_transport": True,
        "disabled_transport_categories": ["GRANTED_PRIVILEGES", "AUTHENTICATED"],
        "resolve_bulk_requests": False,
        "log_request_body": True,
        "resolve_indices": True,
        "exclude_sensitive_headers": True,
        "ignore_users": ["kibanaserver"],
        "ignore_requests": [],
    },
    "compliance": {
        "enabled": True,
        "internal_config": True,
        "external_config": False,
        "read_metadata_only": True,
        "read_watched_fields": {},
        "read_ignore_users": ["kibanaserver"],
        "write_metadata_only": True,
        "write_log_diffs": False,
        "write_watched_indices": [],
        "write_ignore_users": ["kibanaserver"],
    },
}


def enable_audit(client: Any) -> Change | None:
    """Switch the Security plugin's audit logging on, keeping the rest of its configuration: a domain
    publishes audit logs to CloudWatch only once both the domain and the plugin have them on."""
    current = _get_audit(client)
    if current.get("enabled"):
        return None
    config = {**(current or DEFAULT_AUDIT), "enabled": True}
    client.transport.perform_request("PUT", f"{AUDIT}/config", body=config)
    log.info("search access", extra={"kind": "audit", "role": "-", "added": ()})
    return Change("audit", "enabled")


def _get_audit(client: Any) -> dict[str, Any]:
    """The plugin's audit configuration ({} when it has none yet)."""
    try:
        answer = client.transport.perform_request("GET", AUDIT)
    except Exception as exc:  # noqa: BLE001 - a 404 is "none yet"; anything else is the caller's
        if getattr(exc, "status_code", None) == 404:
            return {}
        raise
    return dict((answer or {}).get("config") or {})
