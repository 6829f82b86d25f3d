"""A fault-injecting WSGI layer in front of moto's server app: latency, quotas, injected errors, counts.

Each request is named `Service.Operation` (`Rekognition.DetectLabels`, `S3.GetObject`,
`DynamoDB.PutItem`); rules match names exactly, by `Service.*`, or `*`. A rule can add latency,
throttle above a token-bucket quota the way that service does (S3 503 SlowDown, JSON services 400
ThrottlingException / ProvisionedThroughputExceededException), fail a share of calls with a 5xx or a
dropped connection, and apply only for a window (`for_seconds`: an outage). Every call is counted per
operation; `record` keeps the path and body of chosen calls (which object version a DetectLabels call
named). `FaultServer` serves the layer with werkzeug on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import random
import re
import socket
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

SERVICE_NAMES = {
    "s3": "S3",
    "dynamodb": "DynamoDB",
    "rekognition": "Rekognition",
    "sqs": "SQS",
    "batch": "Batch",
    "lambda": "Lambda",
    "sts": "STS",
    "iam": "IAM",
    "events": "EventBridge",
    "logs": "CloudWatchLogs",
    "es": "OpenSearch",
    "s3vectors": "S3Vectors",
}
THROTTLE_CODE = {"DynamoDB": "ProvisionedThroughputExceededException"}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass
class Rule:
    """What to do to matching calls. `quota` is requests/s with a bucket of `burst` (throttle above)."""

    latency: float = 0.0
    quota: float | None = None
    burst: float = 1.0
    error_rate: float = 0.0
    fail_every: int = 0  # also fail calls 1, 1+n, 1+2n, ... (deterministic faults for tests)
    error: str = "throttle"  # throttle | 500 | 503 | drop (close the connection, no response)
    until: float | None = None  # time.monotonic() after which the rule no longer applies
    for_calls: int | None = None  # the rule applies to this many matching calls, then no longer
    after: tuple[str, int] | None = None  # (operation, n): applies once n calls of it passed
    duration: float | None = None  # with `after`: the window's length from the moment it starts
    _applied: int = field(default=0, init=False, repr=False)
    _seen: int = field(default=0, init=False, repr=False)
    _tokens: float = field(default=0.0, init=False, repr=False)
    _stamp: float | None = field(default=None, init=False, repr=False)

    def due_to_fail(self) -> bool:
        """True for calls 1, 1+n, 1+2n, ... when fail_every is n."""
        return bool(self.fail_every) and (self._seen - 1) % self.fail_every == 0

    def take(self, now: float) -> bool:
        """One token from the quota bucket; False means this call is over the quota."""
        if self.quota is None:
            return True
        if self._stamp is None:
            self._tokens, self._stamp = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.quota)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class OpStats:
    calls: int = 0
    passed: int = 0
    throttled: int = 0
    failed: int = 0
    first_pass: float | None = None
    last_pass: float | None = None
    pass_times: list[float] = field(default_factory=list)  # wall-clock (time.time) of each passed call


def _s3_operation(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> str:
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if not parts[0]:
        return "ListBuckets"
    if has_key:
        if "uploadId" in query or "uploads" in query:
            return {"POST": "MultipartUpload", "PUT": "UploadPart"}.get(method, "Multipart" + method.title())
        for sub in ("tagging", "acl", "retention", "legal-hold", "attributes"):
            if sub in query:
                return f"{method.title()}Object{sub.title().replace('-', '')}"
        if method == "PUT" and "x-amz-copy-source" in headers:
            return "CopyObject"
        return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(
            method, method.title() + "Object"
        )
    if method == "GET":
        if query.get("list-type") == ["2"]:
            return "ListObjectsV2"
        if "versions" in query:
            return "ListObjectVersions"
        if "location" in query:
            return "GetBucketLocation"
        if "notification" in query:
            return "GetBucketNotificationConfiguration"
        if "versioning" in query:
            return "GetBucketVersioning"
        return "ListObjects" if not query else "GetBucket" + next(iter(query)).title()
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "PUT" and query:
        return "PutBucket" + next(iter(query)).title()
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(
        method, method.title() + "Bucket"
    )


def operation_of(environ: dict[str, Any]) -> str:
    """`Service.Operation` for a WSGI request (restores wsgi.input when it had to read a query body)."""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    match = _SCOPE.search(headers.get("authorization", ""))
    scope = match.group(1) if match else ""
    service = SERVICE_NAMES.get(scope, scope.title() or "Unknown")
    target = headers.get("x-amz-target")
    if target:
        return f"{service}.{target.rsplit('.', 1)[-1]}"
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if scope == "s3":
        return f"S3.{_s3_operation(method, environ.get('PATH_INFO', '/'), query, headers)}"
    if scope == "s3vectors":  # REST JSON: the operation is the path, POST /PutVectors
        return f"S3Vectors.{environ.get('PATH_INFO', '/').strip('/')}"
    if "Action" in query:
        return f"{service}.{query['Action'][0]}"
    if method == "POST" and "form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return f"{service}.{action[0]}"
    return f"{service}.{method}{environ.get('PATH_INFO', '/')}"


def _error_response(operation: str, kind: str) -> tuple[str, list[tuple[str, str]], bytes]:
    service = operation.split(".", 1)[0]
    if service == "S3":
        code, status = (
            ("SlowDown", "503 Slow Down")
            if kind == "throttle"
            else (
                ("ServiceUnavailable", "503 Service Unavailable")
                if kind == "503"
                else ("InternalError", "500 Internal Server Error")
            )
        )
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected by tests/faults.py</Message><RequestId>fault</RequestId></Error>"
        ).encode()
        return status, [("Content-Type", "application/xml")], body
    if kind == "throttle":
        code, status = THROTTLE_CODE.get(service, "ThrottlingException"), "400 Bad Request"
    elif kind == "503":
        code, status = "ServiceUnavailable", "503 Service Unavailable"
    else:
        code, status = "InternalServerError", "500 Internal Server Error"
    body = json.dumps({"__type": code, "message": "injected by tests/faults.py"}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1")], body


class FaultLayer:
    """WSGI middleware: applies the first matching rule per call and counts every call."""

    def __init__(self, app: Callable, rules: dict[str, Rule] | None = None, seed: int = 0) -> None:
        self.app = app
        self.rules: dict[str, Rule] = dict(rules or {})
        self.stats: dict[str, OpStats] = defaultdict(OpStats)
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._record: tuple[str, ...] = ()
        # operation -> fn(request JSON) -> (HTTP status, answer JSON): calls moto lacks (see model_emulator.py)
        self.answers: dict[str, Callable[[dict], tuple[int, dict]]] = {}
        self.requests: list[tuple[str, str, bytes]] = []

    def set(self, pattern: str, for_seconds: float | None = None, **settings: Any) -> Rule:
        """Install (replace) the rule for an operation pattern, e.g. set('Rekognition.*', quota=50);
        with `for_seconds` it applies for that long (an outage window), then calls pass: from now, or from
        the moment `after=(operation, n)` is met, so a window opens at a point of the run, not of the clock.
        With `for_calls=n` it applies to the next n matching calls, whatever the time they take."""
        with self._lock:
            if for_seconds is not None and settings.get("after") is not None:
                settings["duration"] = for_seconds
            elif for_seconds is not None:
                settings["until"] = time.monotonic() + for_seconds
            rule = Rule(**settings)
            self.rules[pattern] = rule
            return rule

    def record(self, *patterns: str) -> None:
        """Keep (operation, path, body) of every call matching these patterns, in `self.requests`."""
        with self._lock:
            self._record = tuple(patterns)

    def recorded(self, operation: str) -> list[tuple[str, bytes]]:
        with self._lock:
            return [(path, body) for op, path, body in self.requests if op == operation]

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.stats.clear()
            self.requests.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.stats.clear()
            self.requests.clear()

    def _active(self, rule: Rule, now: float) -> bool:
        """Whether the rule applies now (called under the lock); opens an `after` window when it is met."""
        if rule.after is not None and rule.until is None:
            operation, n = rule.after
            stats = self.stats.get(operation)
            if stats is None or stats.passed < n:
                return False
            if rule.duration is not None:
                rule.until = now + rule.duration
        if rule.for_calls is not None and rule._applied >= rule.for_calls:
            return False
        return rule.until is None or now < rule.until

    def _rule_for(self, operation: str) -> Rule | None:
        now = time.monotonic()
        for pattern, rule in self.rules.items():
            if pattern == operation and self._active(rule, now):
                return rule
        for pattern, rule in self.rules.items():
            if fnmatch.fnmatchcase(operation, pattern) and self._active(rule, now):
                return rule
        return None

    def count(self, operation: str, field_name: str = "passed") -> int:
        with self._lock:
            return getattr(self.stats[operation], field_name) if operation in self.stats else 0

    def counts(self, field_name: str = "calls") -> Counter[str]:
        with self._lock:
            return Counter({op: getattr(s, field_name) for op, s in self.stats.items()})

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        operation = operation_of(environ)
        if any(fnmatch.fnmatchcase(operation, p) for p in self._record):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            with self._lock:
                self.requests.append((operation, environ.get("PATH_INFO", "/"), body))
        now = time.monotonic()
        with self._lock:
            stats = self.stats[operation]
            stats.calls += 1
            rule = self._rule_for(operation)
            verdict = None
            if rule is not None:
                rule._seen += 1
                rule._applied += 1
                if not rule.take(now):
                    verdict = "throttle"
                elif rule.due_to_fail() or (rule.error_rate and self._random.random() < rule.error_rate):
                    verdict = rule.error
            if verdict == "throttle":
                stats.throttled += 1
            elif verdict:
                stats.failed += 1
        if verdict == "drop":
            _drop(environ)
            return []
        if verdict:
            status, headers, body = _error_response(operation, verdict)
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        if rule is not None and rule.latency:
            time.sleep(rule.latency)
        if operation in self.answers:
            return self._answer(operation, environ, start_response)
        with self._lock:
            stamp = time.monotonic()
            stats.passed += 1
            stats.first_pass = stats.first_pass if stats.first_pass is not None else stamp
            stats.last_pass = stamp
            stats.pass_times.append(time.time())
        return self.app(environ, start_response)

    def answer(self, operation: str, fn: Callable[[dict], tuple[int, dict]]) -> None:
        """Answer an operation ourselves (JSON services), e.g. Rekognition's project-version calls."""
        self.answers[operation] = fn

    def _answer(self, operation: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        status, document = self.answers[operation](request)
        body = json.dumps(document).encode()
        with self._lock:
            self.stats[operation].passed += 1
        reason = {200: "OK", 400: "Bad Request"}.get(status, "Error")
        start_response(
            f"{status} {reason}",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _drop(environ: dict) -> None:
    """Close the client's connection without an answer, as a failing load balancer or network does."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionAbortedError("injected by tests/faults.py")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by tests/faults.py")


def moto_app() -> Callable:
    """moto's whole multi-service server as a WSGI app (state shared with moto in this process)."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


class FaultServer:
    """The fault layer over moto, served on 127.0.0.1 by a threaded werkzeug server in a daemon thread."""

    def __init__(self, rules: dict[str, Rule] | None = None, port: int = 0, seed: int = 0) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: object, **kwargs: object) -> None:
                """Counts are in the layer; a line per request would drown the test output."""

        self.layer = FaultLayer(moto_app(), rules, seed)
        self._server = make_server("127.0.0.1", port, self.layer, threaded=True, request_handler=QuietHandler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-server", daemon=True)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def reset_moto(self) -> None:
        """Empty every emulated AWS service (through moto's own API, so nothing is counted as a fault)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).read()
        self.layer.clear()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
