import json
import re
from pathlib import Path

from job import cli, clients, errors, provision

TERRAFORM_TABLE = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "results" / "main.tf"


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
    assert first["created"] == {"tables": ["t-results", "t-results-labels"], "buckets": ["bl-one", "bl-two"]}
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


def test_setup_table_matches_the_terraform_table():
    # given Terraform's results table definition
    hcl = TERRAFORM_TABLE.read_text()
    block = hcl[hcl.index('resource "aws_dynamodb_table"') :]
    # when its keys, attributes and billing are read
    hash_key = re.search(r'hash_key\s*=\s*"([^"]+)"', block).group(1)
    range_key = re.search(r'range_key\s*=\s*"([^"]+)"', block).group(1)
    billing = re.search(r'billing_mode\s*=\s*"([^"]+)"', block).group(1)
    attributes = re.findall(r'attribute\s*{\s*name\s*=\s*"([^"]+)"\s*type\s*=\s*"([^"]+)"', block)
    # then `job setup` creates exactly the same table
    definition = provision.TABLE_DEFINITION
    assert {"AttributeName": hash_key, "KeyType": "HASH"} in definition["KeySchema"]
    assert {"AttributeName": range_key, "KeyType": "RANGE"} in definition["KeySchema"]
    assert billing == definition["BillingMode"]
    assert sorted(attributes) == sorted(
        (a["AttributeName"], a["AttributeType"]) for a in definition["AttributeDefinitions"]
    )
    assert "global_secondary_index" not in block and "local_secondary_index" not in block
