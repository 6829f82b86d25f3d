"""One Rekognition quota shared by every child of every job (and anything else that labels images).

Each user of an operation keeps a row in the limiter table: who it is, the rate it used over its last
period, and when the row expires. Every `period` seconds a user writes its row and reads the others'
(one PutItem and one Query), then paces its calls at its share of the quota: the quota divided among the
live users, plus what the lighter users leave unused (work-conserving), times an AIMD factor that drops
on each throttle and recovers step by step, so that a quota shared with software outside bucketlens still
works. Pure arithmetic is apart from the two DynamoDB calls, and a table that cannot be reached leaves the
user at its last rate (logged), never stops the work.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

SUFFIX = "-limiter"
# what `python -m job setup` creates and modules/results declares: a row per (operation, user)
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "operation", "AttributeType": "S"},
        {"AttributeName": "user", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "operation", "KeyType": "HASH"},
        {"AttributeName": "user", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
TTL_ATTRIBUTE = "expires"
PERIOD_S = 2.0  # how often a user re-reads its share: 2 DynamoDB calls per user per period
YOUNG_S = 5.0  # a user's first seconds, when the children of a job start together...
YOUNG_PERIOD_S = 0.5  # ...it refreshes this often, so they find each other in half a second
JOIN_FACTOR = 0.5  # a user joining users of other jobs starts at half its share, until they have seen it
ROW_TTL_S = 3 * PERIOD_S  # a user that stops refreshing drops out of the division after this
TARGET = (
    0.95  # of the quota: headroom for the bursts of many independent users (Rekognition's bucket is small)
)
DECREASE = 0.9  # AIMD: the factor after a throttle (most throttles come from a user joining: mild)...
INCREASE = 0.1  # ...and its step back up per quiet period
MIN_FACTOR = 0.05
HUNGRY = 0.8  # a user that used this much of its last rate wants more


@dataclass(frozen=True)
class Peer:
    """One live user of an operation, as its row says."""

    user: str
    used: float  # calls per second over its last period; negative: just joined, not known yet
    rate: float  # the rate it was allowed


def _light(peer: Peer, equal: float) -> bool:
    """Had its whole equal part and used well under it. A newcomer (its use not known yet) is not light,
    nor is a user still working its way up to its part (joining, or after a throttle): its use lags its
    rising rate, and handing that gap to the others would take the fleet over the quota as it grows."""
    return peer.rate >= equal * 0.999 and 0 <= peer.used < HUNGRY * equal


def share(quota: float, me: str, peers: Iterable[Peer], factor: float = 1.0, at_least: int = 1) -> float:
    """My calls per second: an equal part of the quota, and, when I want more, my part of what the light
    users leave unused (a light user keeps its equal part, so it can grow back without a throttle)."""
    rows = list(peers)
    others = [p for p in rows if p.user != me]
    mine = next((p for p in rows if p.user == me), None)
    equal = TARGET * quota / max(len(others) + 1, at_least)
    if mine is not None and _light(mine, equal):
        return max(MIN_FACTOR * equal, factor * equal)
    light = [p for p in others if _light(p, equal)]
    spare = sum(equal - min(p.used, equal) for p in light)
    hungry = len(others) - len(light) + 1
    return max(MIN_FACTOR * equal, factor * (equal + spare / hungry))


class SharedRate:
    """A token bucket (job.worker.ratelimit-style) whose rate is this user's share of the shared quota.

    Thread-safe: acquire() from any worker thread; the thread that finds the period over refreshes the
    share while the others keep the old rate. `throttled()` is called when Rekognition said slow down.
    """

    def __init__(
        self,
        ddb: Any,
        table: str,
        operation: str,
        user: str,
        quota: float,
        cap: float | None = None,
        expected: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ddb, self.table, self.operation, self.user = ddb, table, operation, user
        self.quota, self.cap = quota, cap
        # the children of one job start together: until they have found each other in the table, count
        # as many users as the job has children, so that the first ones do not take the whole quota
        self.expected = max(1, expected)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self.factor = 1.0
        self.rate = self._capped(TARGET * quota / self.expected)  # until the first refresh
        # the lowest rate this user was allowed since its last refresh: what its row says it had, so that a
        # user whose rate has just risen (its use over the window lags behind) is not taken for light
        self._floor = self.rate
        self._tat: float | None = None
        self._window_start = self._born = clock()
        self._window_calls = 0
        self._next_refresh = 0.0
        self._throttled_at = 0.0
        self.limiter_calls = 0  # DynamoDB calls made for the limiter (the cost table counts them)
        self.peers = 1
        self._warned = False
        self._joined = False

    def _capped(self, rate: float) -> float:
        return min(rate, self.cap) if self.cap else rate

    # --- pacing -------------------------------------------------------------------------------------

    def acquire(self) -> float:
        """Block until this call may proceed; returns the seconds waited."""
        if self._clock() >= self._next_refresh and self._refreshing.acquire(blocking=False):
            try:
                self.refresh()
            finally:
                self._refreshing.release()
        with self._lock:
            now = self._clock()
            interval = 1.0 / self.rate
            tat = now if self._tat is None else max(self._tat, now)
            wait = max(0.0, tat - now)
            self._tat = tat + interval
            self._window_calls += 1
        if wait > 0:
            self._sleep(wait)
        return wait

    def throttled(self) -> None:
        """Rekognition throttled a call: lower the factor (at most once a second) and re-read the share
        at the next call, since a user who joined since the last refresh is the usual cause."""
        with self._lock:
            now = self._clock()
            if now - self._throttled_at < 1.0:
                return
            self._throttled_at = now
            self.factor = max(MIN_FACTOR, self.factor * DECREASE)
            self.rate = self._capped(self.rate * DECREASE)
            self._floor = min(self._floor, self.rate)
            self._next_refresh = now

    # --- the shared part ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Write my row, read the live rows, take my share (2 DynamoDB calls)."""
        now = self._clock()
        with self._lock:
            elapsed = max(1e-6, now - self._window_start)
            used = self._window_calls / elapsed if self._joined else -1.0  # unknown until a whole period
            self._joined = True
            self._window_start, self._window_calls = now, 0
            if now - self._throttled_at > PERIOD_S:  # a quiet period: additive increase
                self.factor = min(1.0, self.factor + INCREASE)
            current = min(self._floor, self.rate)
        try:
            peers = self._exchange(now, used, current)
        except Exception as exc:  # noqa: BLE001 - pacing goes on at the last rate; the table is advisory
            if not self._warned:
                log.warning(
                    "shared quota unavailable; pacing at the last rate",
                    extra={
                        "table": self.table,
                        "rate": round(current, 3),
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
                self._warned = True
            self._next_refresh = now + PERIOD_S
            return
        with self._lock:
            if used < 0 and len(peers) > self.expected:  # joining others than its own job: start gently
                self.factor = min(self.factor, JOIN_FACTOR)
            self.peers = max(1, len(peers))
            young = now - self._born < YOUNG_S
            at_least = self.expected if young else 1
            self.rate = self._capped(share(self.quota, self.user, peers, self.factor, at_least))
            self._floor = self.rate
        self._next_refresh = now + (YOUNG_PERIOD_S if now - self._born < YOUNG_S else PERIOD_S)

    def _exchange(self, now: float, used: float, rate: float) -> list[Peer]:
        self.limiter_calls += 2
        self.ddb.put_item(
            TableName=self.table,
            Item={
                "operation": {"S": self.operation},
                "user": {"S": self.user},
                "used": {"N": f"{used:.3f}"},
                "rate": {"N": f"{rate:.3f}"},
                "expires": {"N": str(int(now + ROW_TTL_S))},
            },
        )
        answer = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="#o = :o",
            FilterExpression="#e > :now",
            ExpressionAttributeNames={"#o": "operation", "#e": "expires"},
            ExpressionAttributeValues={":o": {"S": self.operation}, ":now": {"N": str(int(now))}},
            ConsistentRead=True,
        )
        return [
            Peer(row["user"]["S"], float(row["used"]["N"]), float(row["rate"]["N"]))
            for row in answer.get("Items", ())
        ]

    def leave(self) -> None:
        """Drop my row, so the others take my share at their next refresh instead of after the TTL."""
        try:
            self.limiter_calls += 1
            self.ddb.delete_item(
                TableName=self.table, Key={"operation": {"S": self.operation}, "user": {"S": self.user}}
            )
        except Exception as exc:  # noqa: BLE001 - the row expires by itself
            log.info("limiter row left to expire", extra={"error": f"{type(exc).__name__}: {exc}"})


# --- the account's quota, as Service Quotas knows it --------------------------------------------------

SERVICE_CODE = "rekognition"
# The TPS quota of each operation by its Service Quotas code, as ListAWSDefaultServiceQuotas answers for
# ServiceCode rekognition (recorded in gruntwork-io/terraform-aws-utilities, docs/quotas.md, generated from
# that call; the fixture tests/events/servicequotas_rekognition_defaults.json holds those rows). A code
# missing from an answer (a region that numbers it otherwise) falls back to matching the quota's name.
QUOTA_CODES = {"DetectLabels": "L-E29B542B", "DetectText": "L-87CF5BA6", "DetectCustomLabels": "L-EA71C84A"}


@dataclass(frozen=True)
class Found:
    """One operation's quota as Service Quotas gave it, and how it was recognised."""

    value: float
    code: str
    matched_by: str  # "code" or "name"


def _per_operation(paginator: Any, operations: Iterable[str]) -> dict[str, Found]:
    """operation -> its TPS quota in one listing: by its pinned code, else by name (Service Quotas names
    each TPS quota "Transactions per second ... operation <Operation>")."""
    by_code: dict[str, Found] = {}
    by_name: dict[str, Found] = {}
    for page in paginator.paginate(ServiceCode=SERVICE_CODE):
        for entry in page.get("Quotas", []):
            if not entry.get("Value"):
                continue
            code, name = entry.get("QuotaCode", "?"), entry.get("QuotaName", "")
            for operation in operations:
                if code == QUOTA_CODES.get(operation):
                    by_code[operation] = Found(float(entry["Value"]), code, "code")
                elif "per second" in name.lower() and re.search(rf"\b{operation}\b", name):
                    by_name[operation] = Found(float(entry["Value"]), code, "name")
    return {**by_name, **by_code}


def service_quota(client: Any, operations: Iterable[str]) -> tuple[float, str] | None:
    """(the smallest TPS quota of `operations` in this account and region, where it came from), reading
    the applied value and else AWS's default; None when Service Quotas cannot say (no permission, an
    unknown quota), and the caller keeps its configured value."""
    wanted = tuple(operations)
    try:
        values = _per_operation(client.get_paginator("list_aws_default_service_quotas"), wanted)
        # the applied value wins over the default
        values.update(_per_operation(client.get_paginator("list_service_quotas"), wanted))
    except (ClientError, BotoCoreError) as exc:
        log.info("Service Quotas not readable: using the configured quota", extra={"error": str(exc)})
        return None
    for operation, found in values.items():
        log.info(
            "rekognition quota found",
            extra={
                "operation": operation,
                "code": found.code,
                "matched_by": found.matched_by,
                "tps": found.value,
            },
        )
    if not wanted or set(values) != set(wanted):
        return None
    operation = min(wanted, key=lambda op: values[op].value)
    return values[operation].value, f"Service Quotas {values[operation].code} ({operation})"
