"""The fault layer itself: operation names, quotas, injected errors as each service sends them."""

import pytest
from botocore.exceptions import ClientError

from job.core import clients
from tests.faults import Rule, operation_of

SCOPE = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"


def _environ(service: str, method: str = "GET", path: str = "/", query: str = "", **headers: str) -> dict:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    environ["HTTP_AUTHORIZATION"] = SCOPE.format(service)
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return environ


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (_environ("s3", "GET", "/bkt/a/b c.jpg"), "S3.GetObject"),
        (_environ("s3", "HEAD", "/bkt/k"), "S3.HeadObject"),
        (_environ("s3", "PUT", "/bkt/k"), "S3.PutObject"),
        (_environ("s3", "GET", "/bkt", "list-type=2&prefix=x"), "S3.ListObjectsV2"),
        (_environ("s3", "PUT", "/bkt"), "S3.CreateBucket"),
        (_environ("dynamodb", "POST", "/", X_AMZ_TARGET="DynamoDB_20120810.PutItem"), "DynamoDB.PutItem"),
        (
            _environ("rekognition", "POST", "/", X_AMZ_TARGET="RekognitionService.DetectLabels"),
            "Rekognition.DetectLabels",
        ),
        (_environ("sqs", "POST", "/", "Action=SendMessage"), "SQS.SendMessage"),
    ],
)
def test_requests_are_named_service_dot_operation(environ, expected):
    # given a signed request / when named / then Service.Operation
    assert operation_of(environ) == expected


def test_quota_bucket_refills_at_its_rate():
    # given a 10/s quota with a burst of 2
    rule = Rule(quota=10, burst=2)
    # when 3 calls arrive at once, then 1 more after 100 ms
    got = [rule.take(0.0), rule.take(0.0), rule.take(0.0), rule.take(0.1)]
    # then the burst passes, the third is over the quota, and the bucket refilled one token
    assert got == [True, True, False, True]


def test_injected_faults_look_like_the_real_service(fault_server, monkeypatch):
    # given S3 GetObject and DynamoDB always throttled, and clients that do not retry (0 retries)
    s3, ddb = clients.client("s3", max_attempts=0), clients.client("dynamodb", max_attempts=0)
    s3.create_bucket(Bucket="faults-b")
    s3.put_object(Bucket="faults-b", Key="k", Body=b"x")
    fault_server.layer.set("S3.GetObject", fail_every=1, error="throttle")
    fault_server.layer.set("DynamoDB.*", fail_every=1, error="throttle")
    # when both are called
    with pytest.raises(ClientError) as s3_error:
        s3.get_object(Bucket="faults-b", Key="k")
    with pytest.raises(ClientError) as ddb_error:
        ddb.get_item(TableName="t", Key={"bucket": {"S": "b"}, "key": {"S": "k"}})
    # then each error is that service's own throttling error, and the calls were counted
    assert s3_error.value.response["Error"]["Code"] == "SlowDown"
    assert s3_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert ddb_error.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert fault_server.layer.count("S3.GetObject", "throttled") == 1
    assert fault_server.layer.count("S3.PutObject") == 1
    assert fault_server.layer.count("DynamoDB.GetItem", "calls") == 1


def _call(layer, operation: str) -> str:
    """One call through the layer to an app that answers 200: the HTTP status it got."""
    service, op = operation.split(".")
    target = {"DynamoDB": "DynamoDB_20120810", "Rekognition": "RekognitionService"}[service]
    environ = _environ(service.lower(), "POST", "/", X_AMZ_TARGET=f"{target}.{op}")
    got = []
    layer(environ, lambda status, headers: got.append(status))
    return got[0]


def test_a_window_opens_at_a_point_of_the_run_and_a_storm_lasts_a_number_of_calls():
    from tests.faults import FaultLayer

    # given an app that always answers, a GetItem outage opening once 2 PutItems passed, and a
    # DetectLabels storm of 3 calls
    layer = FaultLayer(lambda environ, start: start("200 OK", []) or [b"{}"])
    layer.set(
        "DynamoDB.GetItem", for_seconds=60.0, after=("DynamoDB.PutItem", 2), error_rate=1.0, error="503"
    )
    layer.set("Rekognition.DetectLabels", for_calls=3, error_rate=1.0, error="throttle")
    # when calls arrive / then GetItem passes until the second PutItem, then fails
    assert _call(layer, "DynamoDB.GetItem").startswith("200")
    _call(layer, "DynamoDB.PutItem")
    assert _call(layer, "DynamoDB.GetItem").startswith("200")
    _call(layer, "DynamoDB.PutItem")
    assert _call(layer, "DynamoDB.GetItem").startswith("503")
    # and the storm throttles exactly its 3 calls, then lets every call through
    assert [_call(layer, "Rekognition.DetectLabels")[:3] for _ in range(5)] == ["400"] * 3 + ["200"] * 2
