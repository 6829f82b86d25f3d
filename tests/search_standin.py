"""An Amazon OpenSearch Service domain with fine-grained access control, at the HTTP level, as strict as AWS
documents it: each request is first checked against the caller's identity policy (`es:ESHttp<Method>`,
"Identity-based policies" in the Amazon OpenSearch Service guide), then against fine-grained access control
(the master user may do anything, including the Security plugin's REST API; anyone else needs an OpenSearch
role mapped to its IAM role that holds the permission the request needs). openmock has neither.

It keeps indices of documents with their mappings, roles, role mappings and the audit configuration, and
records every (principal, method) it was sent, so that tests derive the HTTP methods the code sends from the
code itself. Searches are evaluated (tests/search_queries.py), k-NN included, with the k-NN plugin's rules.
A role's permission holds on the indices its patterns name only.
Reached through opensearch-py (`client(...)`: a real OpenSearch client over `StandinConnection`) or through
a botocore session's `send(prepared_request)` (`BotocoreSession`), as the Lambda's code sends requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlparse

from opensearchpy import Connection, OpenSearch

from tests import search_queries

SECURITY = "/_plugins/_security/api/"
# Which permission of an OpenSearch role each request needs (the plugin's action groups: crud covers the
# document writes, read the searches)
IMPLIED = {"crud": {"crud", "indices:data/write/delete", "indices:data/write/bulk"}, "read": {"read"}}
MAPPING_PUT = "indices:admin/mapping/put"


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
        self.properties: dict[str, dict[str, dict]] = {}  # each index's mapped fields
        self.settings: dict[str, dict] = {}
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
        targets = self._bulk_targets(body) if parts[-1:] == ["_bulk"] else [parts[0]]
        if who.arn != self.master_arn and not all(self._granted(who.arn, needed, t) for t in targets):
            return 403, {"error": {"type": "security_exception", "reason": f"no permissions for [{needed}]"}}
        try:
            return self._data(method, parts, body)
        except search_queries.QueryError as exc:
            return 400, exc.answer()

    # --- fine-grained access control ------------------------------------------------------------

    @staticmethod
    def _permission(method: str, parts: list[str]) -> str:
        if parts[-1:] == ["_bulk"]:
            return "indices:data/write/bulk"
        if parts[-1:] == ["_search"]:
            return "read"
        if parts[-1:] == ["_mapping"] and method == "PUT":
            return MAPPING_PUT
        if len(parts) == 1:
            return {"HEAD": "indices:admin/get", "PUT": "create_index"}[method]
        if method == "DELETE":
            return "indices:data/write/delete"
        raise AssertionError(f"the stand-in does not know {method} /{'/'.join(parts)}")

    def _granted(self, arn: str, needed: str, index: str) -> bool:
        for name, mapping in self.mappings.items():
            if arn not in mapping.get("backend_roles", ()):
                continue
            for permission in self.roles.get(name, {}).get("index_permissions", ()):
                if not any(fnmatchcase(index, p) for p in permission.get("index_patterns", ())):
                    continue
                for action in permission.get("allowed_actions", ()):
                    if needed in IMPLIED.get(action, {action}):
                        return True
        return False

    @staticmethod
    def _bulk_targets(body: Any) -> list[str]:
        lines = [json.loads(line) for line in _text(body).splitlines() if line.strip()]
        return sorted({action["index"]["_index"] for action in lines[::2]})

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
            items, errors = [], False
            for action, doc in zip(lines[::2], lines[1::2], strict=True):
                target = action["index"]
                try:
                    search_queries.check_document(doc, self.properties.get(target["_index"], {}))
                except search_queries.QueryError as exc:
                    errors = True
                    items.append(
                        {"index": {"_id": target["_id"], "status": 400, "error": exc.answer()["error"]}}
                    )
                    continue
                self.indices.setdefault(target["_index"], {})[target["_id"]] = doc
                items.append({"index": {"_id": target["_id"], "status": 201}})
            return 200, {"errors": errors, "items": items}
        index = parts[0]
        if parts[-1:] == ["_search"]:
            if index not in self.indices:
                return 404, {"error": {"type": "index_not_found_exception"}, "status": 404}
            found = search_queries.search(
                _json(body) if body else {}, self.indices[index], self.properties[index]
            )
            hits = [{"_id": i, "_score": score, "_source": d} for i, score, d in found]
            return 200, {"hits": {"total": {"value": len(hits)}, "hits": hits}}
        if parts[-1:] == ["_mapping"]:
            if index not in self.indices:
                return 404, {"error": {"type": "index_not_found_exception"}, "status": 404}
            return self._add_fields(index, _json(body).get("properties") or {})
        if len(parts) == 1 and method == "HEAD":
            return (200 if index in self.indices else 404), None
        if len(parts) == 1 and method == "PUT":
            if index in self.indices:
                return 400, {"error": {"type": "resource_already_exists_exception"}}
            wanted = _json(body) if body else {}
            settings = wanted.get("settings") or {}
            properties = (wanted.get("mappings") or {}).get("properties") or {}
            search_queries.check_mapping(settings, properties)
            self.indices[index], self.settings[index], self.properties[index] = {}, settings, dict(properties)
            return 200, {"acknowledged": True, "index": index}
        found = self.indices.get(index, {}).pop(parts[-1], None)
        return (200, {"result": "deleted"}) if found is not None else (404, {"result": "not_found"})

    def _add_fields(self, index: str, properties: dict[str, dict]) -> tuple[int, Any]:
        """PUT _mapping: new fields are added, a field already mapped may not change."""
        search_queries.check_mapping(self.settings[index], properties)
        mapped = self.properties[index]
        for name, prop in properties.items():
            if name in mapped and mapped[name] != prop:
                raise search_queries.QueryError(
                    "illegal_argument_exception", f"mapper [{name}] cannot be changed"
                )
        mapped.update(properties)
        return 200, {"acknowledged": True}


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
