"""The ordering rule: S3 sequencers compared after right-padding, time otherwise, in Python and DynamoDB alike."""

from __future__ import annotations

import itertools

import pytest
from botocore.exceptions import ClientError

from job.core import clients, ordering


def test_sequencers_compare_after_right_padding():
    # given two sequencers of different lengths for the same key (S3 User Guide example shape)
    shorter, longer = "0055AED6DCD90281E5", "0055AED6DCD90281E500"
    # when padded, then the longer one with trailing zeros is equal, not greater
    assert ordering.pad_sequencer(shorter) == ordering.pad_sequencer(longer)
    assert ordering.pad_sequencer("0055AED6DCD90281E6") > ordering.pad_sequencer(longer)
    assert ordering.pad_sequencer("0a") == ordering.pad_sequencer("0A")


@pytest.mark.parametrize("bad", ["xyz", "12 34", "F" * 65])
def test_a_value_that_is_not_a_sequencer_is_refused(bad):
    with pytest.raises(ValueError):
        ordering.pad_sequencer(bad)


def test_iso_time_has_one_sortable_form():
    from datetime import UTC, datetime, timedelta, timezone

    assert ordering.iso_time("1970-01-01T00:00:00.000Z") == "1970-01-01T00:00:00.000Z"
    assert ordering.iso_time("2024-03-01T10:00:00+02:00") == "2024-03-01T08:00:00.000Z"
    assert ordering.iso_time(datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)) == "2024-03-01T08:00:00.123Z"
    east = datetime(2024, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert ordering.iso_time(east) == ordering.iso_time(datetime(2024, 3, 1, 8, 0))


STATES = [
    None,  # nothing stored
    {"sequencer": "0000000000000100", "order_time": "2026-01-01T00:00:01.000Z"},
    {"order_time": "2026-01-01T00:00:01.000Z"},  # a backfill result, no sequencer
]
WRITES = [
    ("0000000000000050", "2026-01-01T00:00:02.000Z"),
    ("00000000000002", "2026-01-01T00:00:00.000Z"),
    (None, "2026-01-01T00:00:00.500Z"),
    (None, "2026-01-01T00:00:05.000Z"),
]


def test_dynamodb_condition_and_python_rule_agree(aws):
    # given a table, and each kind of stored state against each kind of write
    ddb = clients.client("dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[
            {"AttributeName": "bucket", "KeyType": "HASH"},
            {"AttributeName": "key", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("bucket", "key")],
        BillingMode="PAY_PER_REQUEST",
    )
    for n, (stored, (sequencer, when)) in enumerate(itertools.product(STATES, WRITES)):
        key = f"k{n}"
        if stored:
            item = {"bucket": {"S": "b"}, "key": {"S": key}, "order_time": {"S": stored["order_time"]}}
            if "sequencer" in stored:
                item["sequencer"] = {"S": ordering.pad_sequencer(stored["sequencer"])}
            ddb.put_item(TableName="t", Item=item)
        padded = (
            {**stored, "sequencer": ordering.pad_sequencer(stored["sequencer"])}
            if stored and "sequencer" in stored
            else stored
        )
        # when the write is tried with the condition
        expr, names, values = ordering.newer_condition(sequencer, when)
        try:
            ddb.put_item(
                TableName="t",
                Item={"bucket": {"S": "b"}, "key": {"S": key}, "order_time": {"S": when}},
                ConditionExpression=expr,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={k: {"S": v} for k, v in values.items()},
            )
            accepted = True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            accepted = False
        # then DynamoDB decides as the Python rule does
        assert accepted == ordering.is_newer(padded, sequencer, when), (stored, sequencer, when)
    # and the sequencer wins over time when both sides have one
    assert (
        ordering.is_newer(
            STATES[1] | {"sequencer": ordering.pad_sequencer("0100")},
            "0000000000000050",
            "2030-01-01T00:00:00.000Z",
        )
        is False
    )
