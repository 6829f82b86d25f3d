"""An Amazon OpenSearch Service domain with fine-grained access control, at the HTTP level, as strict as AWS
documents it: each request is first checked against the caller's identity policy (`es:ESHttp<Method>`,
"Identity-based policies" in the Amazon OpenSearch Service guide), then against fine-grained access control
(the master user may do anything, including the Security plugin's REST API; anyone else needs an OpenSearch
role mapped to its IAM role that holds the permission the request needs). openmock has neither.

It keeps indices of documents, roles, role mappings and the audit configuration, and records every
(principal, method) it was sent, so that tests derive the HTTP methods the code sends from the code itself.
Reached through opensearch-py (`client(...)`: a real OpenSearch client over `StandinConnection`) or through
a botocore session's `send(prepared_request)` (`BotocoreSession`), as the Lambda's code sends requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from opensearchpy import Connection, OpenSearch

SECURITY = "/_plugins/_security/api/"
# Which permission of an OpenSearch role each request needs (the plugin's action groups: crud covers the
# document writes, read the searches)
IMPLIED = {"crud": {"crud", "indices:data/write/delete", "indices:data/write/bulk"}, "read": {"read"}}


@dataclass(frozen=True)
class Principal:
    """An IAM role calling the domain: its ARN and the es:ESHttp* actions its identity policy allows."""

    arn: str
    actions: frozenset[str]


class Domain:
    """The domain's state and its two checks; `sent` lists (principal ARN, method) in order."""

    def __init__(self, master_arn: str) -> None:
        self.master_arn = master_arn
        self.indices: dict[str, dict[str, dict]] = {}
        self.roles: dict[str, dict] = {}
        self.mappings: dict[str, dict] = {}
        self.audit: dict[str, Any] = {}
        self.sent: list[tuple[str, str]] = []

    def methods(self, arn: str) -> set[str]:
        return {m for a, m in self.sent if a == arn}

    def answer(self, who: Principal, method: str, url: str, body: Any) -> tuple[int, Any]:
        self.sent.append((who.arn, method))
        path = urlparse(url).path
        if f"es:ESHttp{method.title()}" not in who.actions:
            return 403, {
                "Message": f"User: {who.arn} is not authorized to perform: es:ESHttp{method.title()}"
            }
        if path.startswith(SECURITY):
            if who.arn != self.master_arn:
                return 403, {"error": {"type": "security_exception"}, "status": 403}
            return self._security(method, path.removeprefix(SECURITY), body)
        parts = [p for p in path.split("/") if p]
        needed = self._permission(method, parts)
        if who.arn != self.master_arn and not self._granted(who.arn, needed):
            return 403, {"error": {"type": "security_exception", "reason": f"no permissions for [{needed}]"}}
        return self._data(method, parts, body)

    # --- fine-grained access control ------------------------------------------------------------

    @staticmethod
    def _permission(method: str, parts: list[str]) -> str:
        if parts[-1:] == ["_bulk"]:
            return "indices:data/write/bulk"
        if parts[-1:] == ["_search"]:
            return "read"
        if len(parts) == 1:
            return {"HEAD": "indices:admin/get", "PUT": "create_index"}[method]
        if method == "DELETE":
            return "indices:data/write/delete"
        raise AssertionError(f"the stand-in does not know {method} /{'/'.join(parts)}")

    def _granted(self, arn: str, needed: str) -> bool:
        for name, mapping in self.mappings.items():
            if arn not in mapping.get("backend_roles", ()):
                continue
            for permission in self.roles.get(name, {}).get("index_permissions", ()):
                for action in permission.get("allowed_actions", ()):
                    if needed in IMPLIED.get(action, {action}):
                        return True
        return False

    # --- the Security plugin's REST API ----------------------------------------------------------

    def _security(self, method: str, rest: str, body: Any) -> tuple[int, Any]:
        if rest == "audit" and method == "GET":
            return 200, {"_readonly": [], "config": self.audit}
        if rest == "audit/config" and method == "PUT":
            self.audit = _json(body)
            return 200, {"status": "OK", "message": "'config' updated."}
        kind, name = rest.split("/")
        store = self.roles if kind == "roles" else self.mappings
        if method == "GET":
            if name not in store:
                return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."}
            return 200, {name: store[name]}
        assert method == "PUT", method
        status = 200 if name in store else 201
        store[name] = _json(body)
        return status, {"status": "OK" if status == 200 else "CREATED"}

    # --- indices and documents -------------------------------------------------------------------

    def _data(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        if parts[-1:] == ["_bulk"]:
            lines = [json.loads(line) for line in _text(body).splitlines() if line.strip()]
            items = []
            for action, doc in zip(lines[::2], lines[1::2], strict=True):
                target = action["index"]
                self.indices.setdefault(target["_index"], {})[target["_id"]] = doc
                items.append({"index": {"_id": target["_id"], "status": 201}})
            return 200, {"errors": False, "items": items}
        if parts[-1:] == ["_search"]:
            hits = [{"_id": i, "_source": d} for i, d in self.indices.get(parts[0], {}).items()]
            return 200, {"hits": {"total": {"value": len(hits)}, "hits": hits}}
        index = parts[0]
        if len(parts) == 1 and method == "HEAD":
            return (200 if index in self.indices else 404), None
        if len(parts) == 1 and method == "PUT":
            if index in self.indices:
                return 400, {"error": {"type": "resource_already_exists_exception"}}
            self.indices[index] = {}
            return 200, {"acknowledged": True, "index": index}
        found = self.indices.get(index, {}).pop(parts[-1], None)
        return (200, {"result": "deleted"}) if found is not None else (404, {"result": "not_found"})


def _text(body: Any) -> str:
    return body.decode() if isinstance(body, bytes | bytearray) else str(body or "")


def _json(body: Any) -> Any:
    return body if isinstance(body, dict) else json.loads(_text(body))


class StandinConnection(Connection):
    """opensearch-py's connection, answered by a Domain as the given principal."""

    def __init__(self, domain: Domain, principal: Principal, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.domain, self.principal = domain, principal

    def perform_request(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):
        status, data = self.domain.answer(self.principal, method, url, body)
        raw = "" if data is None else json.dumps(data)
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, raw)
        return status, {}, raw


def client(domain: Domain, principal: Principal) -> OpenSearch:
    """A real opensearch-py client whose requests the domain answers as `principal`."""
    host = {"host": "search.example", "port": 443, "domain": domain, "principal": principal}
    return OpenSearch(hosts=[host], connection_class=StandinConnection, max_retries=0)


class _Response:
    def __init__(self, status: int, data: Any) -> None:
        self.status_code = status
        self.content = b"" if data is None else json.dumps(data).encode()


class BotocoreSession:
    """What botocore's URLLib3Session offers the Lambda's code (`send`), answered by the domain."""

    def __init__(self, domain: Domain, principal: Principal) -> None:
        self.domain, self.principal = domain, principal

    def send(self, prepared: Any) -> _Response:
        assert prepared.headers.get("Authorization", b""), "every request to the domain is SigV4-signed"
        return _Response(*self.domain.answer(self.principal, prepared.method, prepared.url, prepared.body))
