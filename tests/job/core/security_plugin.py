"""The OpenSearch Security plugin's REST API for roles and role mappings, as a transport openmock's client
can use: openmock has no security API. It answers as the plugin does (GET returns {name: entry}, a missing
name is a 404, PUT replaces the entry) and refuses everything with 403 for a caller that is not the master
user. Shapes from the plugin's documentation (docs.opensearch.org, security/access-control/api)."""

from __future__ import annotations

from typing import Any

from opensearchpy.exceptions import AuthorizationException, NotFoundError

API = "/_plugins/_security/api/"


class SecurityPlugin:
    """Roles and role mappings kept in dicts; `calls` records (method, path) in order."""

    def __init__(self, master: bool = True) -> None:
        self.master = master
        self.roles: dict[str, dict[str, Any]] = {}
        self.mappings: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []

    def perform_request(self, method: str, path: str, params: Any = None, body: Any = None, **_: Any) -> Any:
        self.calls.append((method, path))
        if not self.master:
            raise AuthorizationException(403, "security_exception", {"status": 403})
        kind, name = path.removeprefix(API).split("/")
        store = self.roles if kind == "roles" else self.mappings
        if method == "GET":
            if name not in store:
                raise NotFoundError(404, "NOT_FOUND", {"status": "NOT_FOUND"})
            extra = {"reserved": False, "hidden": False, "static": False} if kind == "roles" else {}
            return {name: {**extra, **store[name]}}
        assert method == "PUT", method
        status = "OK" if name in store else "CREATED"
        store[name] = body
        return {"status": status, "message": f"'{name}' {status.lower()}."}
