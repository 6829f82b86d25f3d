import json
import re
from pathlib import Path

import pytest

from job import cli
from job.commands import provision
from job.core import clients, errors, label_index

TERRAFORM_TABLE = Path(__file__).resolve().parents[3] / "terraform" / "modules" / "results" / "main.tf"


def test_setup_creates_the_table_and_buckets_once(aws, capsys):
    # given an empty account
    # when setup runs twice
    assert (
        cli.main(["setup", "--table", "t-results", "--bucket", "bl-one", "--bucket", "bl-two"])
        == errors.EXIT_OK
    )
    first = json.loads(capsys.readouterr().out)
    assert cli.main(["setup", "--table", "t-results", "--bucket", "bl-one"]) == errors.EXIT_OK
    second = json.loads(capsys.readouterr().out)
    # then the first created everything, the second nothing
    assert first["created"] == {
        "tables": ["t-results", "t-results-label-index", "t-results-limiter"],
        "buckets": ["bl-one", "bl-two"],
    }
    ttl = clients.client("dynamodb").describe_time_to_live(TableName="t-results-limiter")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires"  # the shared quota's rows expire
    assert second["created"] == {"tables": [], "buckets": []}
    # and the table has the contract's schema and billing
    table = clients.client("dynamodb").describe_table(TableName="t-results")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "bucket", "KeyType": "HASH"},
        {"AttributeName": "key", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TableStatus"] == "ACTIVE"


def test_buckets_outside_us_east_1_get_a_location(aws, monkeypatch):
    # given another region
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    clients.reset()
    # when a bucket is ensured / then it is created in that region
    assert provision.ensure_bucket(clients.client("s3"), "bl-eu", "eu-west-1") is True
    location = clients.client("s3").get_bucket_location(Bucket="bl-eu")["LocationConstraint"]
    assert location == "eu-west-1"


def _block(hcl: str, name: str) -> str:
    start = hcl.index(f'resource "aws_dynamodb_table" "{name}"')
    following = hcl.find('resource "', start + 1)
    return hcl[start : following if following > 0 else len(hcl)]


def _indexes(block: str, kind: str) -> list[tuple]:
    found = []
    for body in re.findall(kind + r"\s*{(.*?)}", block, re.S):
        fields = dict(re.findall(r'(\w+)\s*=\s*"([^"]+)"', body))
        found.append(
            (fields["name"], fields.get("hash_key"), fields.get("range_key"), fields["projection_type"])
        )
    return sorted(found)


def _defined_indexes(definition: dict, kind: str) -> list[tuple]:
    found = []
    for index in definition.get(kind, ()):
        keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        hash_key = keys["HASH"] if kind == "GlobalSecondaryIndexes" else None  # an LSI shares the table's
        found.append((index["IndexName"], hash_key, keys.get("RANGE"), index["Projection"]["ProjectionType"]))
    return sorted(found)


@pytest.mark.parametrize(
    ("resource", "definition"),
    [("this", provision.TABLE_DEFINITION), ("label_index", label_index.TABLE_DEFINITION)],
)
def test_setup_tables_match_the_terraform_tables(resource, definition):
    # given one of Terraform's table definitions
    block = _block(TERRAFORM_TABLE.read_text(), resource)
    # when its keys, attributes, billing and indexes are read
    hash_key = re.search(r'\n  hash_key\s*=\s*"([^"]+)"', block).group(1)
    range_key = re.search(r'\n  range_key\s*=\s*"([^"]+)"', block).group(1)
    billing = re.search(r'billing_mode\s*=\s*"([^"]+)"', block).group(1)
    attributes = re.findall(r'attribute\s*{\s*name\s*=\s*"([^"]+)"\s*type\s*=\s*"([^"]+)"', block)
    # then `job setup` creates exactly the same table
    assert {"AttributeName": hash_key, "KeyType": "HASH"} in definition["KeySchema"]
    assert {"AttributeName": range_key, "KeyType": "RANGE"} in definition["KeySchema"]
    assert billing == definition["BillingMode"]
    assert sorted(attributes) == sorted(
        (a["AttributeName"], a["AttributeType"]) for a in definition["AttributeDefinitions"]
    )
    assert _indexes(block, "global_secondary_index") == _defined_indexes(definition, "GlobalSecondaryIndexes")
    assert _indexes(block, "local_secondary_index") == _defined_indexes(definition, "LocalSecondaryIndexes")
