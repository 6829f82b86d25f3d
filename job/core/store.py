"""The results table: one item per object, built here as pure data, written only if not older.

Item building and the skip rule are pure functions (tested without AWS); `get_state` and `put_result`
are the only DynamoDB calls. Every write carries `ordering.newer_condition`, plus "not the very same
result again", so a slow old writer never overwrites a newer version and a duplicate writer changes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from job.core.manifest import ObjectRef
from job.core.ordering import conditional, is_newer, newer_condition, pad_sequencer

MAX_ITEM_BYTES = 350 * 1024  # DynamoDB's limit is 400 KB; keep a margin for name/encoding overhead
MAX_STRING = 2048
MAX_ERROR = 1000
TERMINAL = ("done", "error")
# Refusals that a fix outside the image (IAM, a KMS key policy) cures: recorded, but a rerun tries again.
RETRY_ON_RERUN = ("AccessDenied", "AccessDeniedException")
_STATE_FIELDS = (
    "bucket",
    "key",
    "etag",
    "version_id",
    "features",
    "status",
    "error_class",
    "sequencer",
    "order_time",
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Outcome:
    """How one image ended; `counter` names the summary counter it adds to."""

    counter: str
    detail: str = ""


def now_iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def to_dynamo(value: Any) -> Any:
    """Floats become Decimal (DynamoDB rejects float), None values are dropped, tuples become lists."""
    return json.loads(json.dumps(value, default=_default), parse_float=Decimal, object_hook=_drop_none)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def _drop_none(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if v is not None}


def serialize(item: Mapping[str, Any]) -> dict:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _clip(text: str | None, limit: int = MAX_STRING) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def item_size(item: Mapping[str, Any]) -> int:
    """A safe over-estimate of DynamoDB's item size (names + values, JSON is never smaller)."""
    return len(json.dumps(item, default=_default, ensure_ascii=False).encode())


def cap_item(item: dict, limit: int = MAX_ITEM_BYTES) -> dict:
    """Halve the longest capped list until the item fits, and name what was cut in `truncated`."""
    lists = ("text", "labels", "custom_labels")
    truncated: list[str] = []
    while item_size(item) > limit:
        longest = max(lists, key=lambda n: len(item.get(n) or ()))
        values = item.get(longest) or []
        if not values:
            # nothing left to cut: drop the EXIF map as the last resort
            if "exif" in item:
                item["exif"] = {"error": "exif omitted: item over the DynamoDB size limit"}
                truncated.append("exif")
                continue
            break
        item[longest] = values[: len(values) // 2]
        if longest not in truncated:
            truncated.append(longest)
    if truncated:
        item["truncated"] = sorted(set(truncated))
    return item


def _common(ref: ObjectRef, features: str, order_time: str | None) -> dict[str, Any]:
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "etag": ref.etag,
        "size": ref.size,
        "last_modified": ref.last_modified,
        "features": features,
        "processed_at": now_iso(),
        "sequencer": pad_sequencer(ref.sequencer),
        "order_time": order_time,
    }


def _exif_map(exif: Mapping[str, Any] | None) -> dict | None:
    if not exif:
        return None
    out = {}
    for name, value in exif.items():
        if name == "bytes_read":
            continue
        out[name] = _clip(value) if isinstance(value, str) else value
    return out


def build_result(
    ref: ObjectRef,
    features: str,
    order_time: str,
    exif: Mapping[str, Any] | None,
    labels: Iterable[Mapping[str, Any]] = (),
    text: Iterable[Mapping[str, Any]] | None = None,
    custom_labels: Iterable[Mapping[str, Any]] | None = None,
    label_model_version: str | None = None,
    route: str | None = None,
) -> dict:
    """The `done` item for one object, floats as Decimal, under the size limit."""
    item = _common(ref, features, order_time)
    item.update(
        status="done",
        exif=_exif_map(exif),
        labels=list(labels),
        text=list(text) if text is not None else None,
        custom_labels=list(custom_labels) if custom_labels is not None else None,
        label_model_version=label_model_version,
        rekognition_input=route,
    )
    return to_dynamo(cap_item(_drop_none(item)))


def build_error(
    ref: ObjectRef,
    features: str,
    order_time: str,
    error_class: str,
    message: str,
    exif: Mapping[str, Any] | None = None,
) -> dict:
    """The terminal `error` item: a bad image is recorded once, never retried, never a crashed shard."""
    item = _common(ref, features, order_time)
    item.update(
        status="error", error_class=error_class, error_message=_clip(message, MAX_ERROR), exif=_exif_map(exif)
    )
    return to_dynamo(cap_item(_drop_none(item)))


def _bare(etag: str | None) -> str | None:
    return etag.strip().strip('"') if etag else None


def skip_reason(stored: Mapping[str, Any] | None, ref: ObjectRef, features: str) -> str | None:
    """Why this ref needs no work, from the stored item alone; None means process it.

    `already-done`: same ETag (and version when both know it) with the same features, done or a
    recorded error. `stale`: the stored state (often a tombstone) is newer than this ref.
    """
    if not stored:
        return None
    same_version = (
        not ref.version_id or not stored.get("version_id") or stored.get("version_id") == ref.version_id
    )
    if (
        stored.get("status") in TERMINAL
        and stored.get("error_class") not in RETRY_ON_RERUN
        and ref.etag
        and _bare(stored.get("etag")) == _bare(ref.etag)
        and same_version
        and stored.get("features") == features
    ):
        return "already-done"
    if ref.sequencer and stored.get("sequencer"):
        return None if is_newer(stored, ref.sequencer, "") else "stale"
    if ref.last_modified and not is_newer(stored, None, ref.last_modified):
        return "stale"
    return None


def write_condition(item: Mapping[str, Any]) -> tuple[str, dict, dict]:
    """newer_condition AND NOT "this exact result is already there"."""
    expr, names, values = newer_condition(item.get("sequencer"), item["order_time"])
    if not (item.get("etag") or item.get("version_id")):
        return expr, names, values
    names = {**names, "#st": "status", "#feat": "features", "#ec": "error_class"}
    values = {**values, ":done": "done", ":error": "error", ":feat": item["features"]}
    values |= {f":rr{i}": code for i, code in enumerate(RETRY_ON_RERUN)}
    retry = ", ".join(f":rr{i}" for i in range(len(RETRY_ON_RERUN)))
    same = f"(#st = :done OR (#st = :error AND NOT #ec IN ({retry}))) AND #feat = :feat"
    for attr, name in (("etag", "#etag"), ("version_id", "#vid")):
        if item.get(attr):
            names[name], values[":" + name[1:]] = attr, item[attr]
            same += f" AND {name} = :{name[1:]}"
    return f"({expr}) AND NOT ({same})", names, values


def get_state(ddb: Any, table: str, bucket: str, key: str) -> dict | None:
    """The stored ordering/idempotency fields of one object (strongly consistent)."""
    names = {f"#a{i}": name for i, name in enumerate(_STATE_FIELDS)}
    response = ddb.get_item(
        TableName=table,
        Key={"bucket": {"S": bucket}, "key": {"S": key}},
        ConsistentRead=True,
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
    )
    item = response.get("Item")
    return deserialize(item) if item else None


def get_states(
    ddb: Any, table: str, keys: Iterable[tuple[str, str]], rounds: int = 3
) -> dict[tuple[str, str], dict | None]:
    """Stored states of up to 100 objects in one BatchGetItem (strongly consistent), so the skip check
    costs a hundredth of a request per image. Keys DynamoDB left unprocessed are absent from the
    answer; the caller reads those one by one."""
    wanted = list(dict.fromkeys(keys))[:100]
    names = {f"#a{i}": name for i, name in enumerate(_STATE_FIELDS)}
    found: dict[tuple[str, str], dict | None] = {}
    request = {
        table: {
            "Keys": [{"bucket": {"S": b}, "key": {"S": k}} for b, k in wanted],
            "ConsistentRead": True,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
    }
    unprocessed: set[tuple[str, str]] = set(wanted)
    for _ in range(rounds):
        response = ddb.batch_get_item(RequestItems=request)
        for raw in response.get("Responses", {}).get(table, ()):
            item = deserialize(raw)
            found[(item["bucket"], item["key"])] = item
        left = response.get("UnprocessedKeys", {}).get(table)
        if not left:
            unprocessed.clear()
            break
        request = {table: left}
        unprocessed = {(k["bucket"]["S"], k["key"]["S"]) for k in left["Keys"]}
    for pair in wanted:
        if pair not in found and pair not in unprocessed:
            found[pair] = None
    return found


def order_moved(stored: Mapping[str, Any] | None, ref: ObjectRef) -> bool:
    """True when an already-done object arrives with a strictly newer sequencer than the stored one."""
    if not (stored and ref.sequencer and ref.last_modified):
        return False
    return stored.get("sequencer") != pad_sequencer(ref.sequencer) and is_newer(
        stored, ref.sequencer, ref.last_modified
    )


def advance_order(ddb: Any, table: str, ref: ObjectRef, order_time: str) -> bool:
    """The same bytes came back in a newer event (re-uploaded after a delete): move the stored sequencer
    forward, so that the delete, arriving late, cannot tombstone an image that exists."""
    expr, names, values = newer_condition(ref.sequencer, order_time)
    return conditional(
        ddb.update_item,
        TableName=table,
        Key=serialize({"bucket": ref.bucket, "key": ref.key}),
        UpdateExpression="SET #seq = :seq, #ot = :ot",
        ConditionExpression=f"attribute_exists(#pk) AND ({expr})",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )


def put_result(ddb: Any, table: str, item: Mapping[str, Any]) -> bool:
    """Write unless something newer or identical is stored; False when the condition refused it."""
    expr, names, values = write_condition(item)
    return conditional(
        ddb.put_item,
        TableName=table,
        Item=serialize(item),
        ConditionExpression=expr,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )


def replace_labels(ddb: Any, table: str, item: Mapping[str, Any]) -> bool:
    """Another labeler's answer for an image already done (`relabel`): the item's labels written, and its
    label model's name where it has one, only while the stored item is still this done object version with
    these features; False when the image changed or went meanwhile (its own event labels it)."""
    names = {"#labels": "labels", "#st": "status", "#etag": "etag", "#feat": "features"}
    values = {
        ":labels": to_dynamo(list(item["labels"])),
        ":done": "done",
        ":etag": item["etag"],
        ":feat": item["features"],
    }
    update = "SET #labels = :labels"
    if item.get("label_model_version"):
        names["#lmv"], values[":lmv"] = "label_model_version", item["label_model_version"]
        update += ", #lmv = :lmv"
    return conditional(
        ddb.update_item,
        TableName=table,
        Key=serialize({"bucket": item["bucket"], "key": item["key"]}),
        UpdateExpression=update,
        ConditionExpression="#st = :done AND #etag = :etag AND #feat = :feat",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )
