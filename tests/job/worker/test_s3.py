import json

import pytest

from job import exif
from job.core import clients
from job.core.manifest import ObjectRef
from job.worker import s3
from tests.job.worker_helpers import BUCKET, image_bytes, world


def test_range_reader_returns_exact_ranges_and_learns_the_object(aws):
    # given an object of 200 known bytes
    body = bytes(range(200))
    world({"k.bin": body})
    reader = s3.RangeReader(clients.client("s3"), ObjectRef(BUCKET, "k.bin"))
    # when ranges inside, across and past the end are read
    assert reader(10, 20) == body[10:20]
    assert reader(190, 300) == body[190:]
    assert reader(500, 600) == b""
    # then calls and bytes are counted and the ETag/size/time were learned
    assert reader.calls == 2 and reader.bytes_read == 20
    assert reader.facts.size == 200 and reader.facts.etag and reader.facts.last_modified.endswith("Z")


def test_exif_extract_runs_over_ranged_gets(aws):
    # given a PNG in S3
    world({"p.png": image_bytes("PNG", (64, 48))})
    reader = s3.RangeReader(clients.client("s3"), ObjectRef(BUCKET, "p.png"))
    # when the extractor reads through the range reader
    record = exif.extract(reader)
    # then it sees the format and pixel size
    assert (record.format, record.width, record.height) == ("PNG", 64, 48)


def test_a_replaced_object_is_reported_changed_not_read(aws):
    # given a listed ETag that no longer matches the object
    world({"k.jpg": b"new bytes"})
    reader = s3.RangeReader(clients.client("s3"), ObjectRef(BUCKET, "k.jpg", etag="0" * 32))
    # when read / then ObjectChanged
    with pytest.raises(s3.ObjectChanged):
        reader(0, 4)


def test_a_deleted_object_is_reported_gone(aws):
    # given no such key / when read / then ObjectGone
    world({})
    with pytest.raises(s3.ObjectGone):
        s3.RangeReader(clients.client("s3"), ObjectRef(BUCKET, "missing.jpg"))(0, 4)


def test_versioned_reads_pin_the_version(aws):
    # given two versions of one key
    world({})
    client = clients.client("s3")
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    v1 = client.put_object(Bucket=BUCKET, Key="k", Body=b"first")["VersionId"]
    client.put_object(Bucket=BUCKET, Key="k", Body=b"second")
    # when the first version is read / then its bytes come back
    assert s3.get_bytes(client, ObjectRef(BUCKET, "k", version_id=v1), 100) == b"first"
    assert s3.head(client, ObjectRef(BUCKET, "k", version_id=v1)).version_id == v1


def test_downloads_over_the_limit_are_refused(aws):
    # given a 1000-byte object / when downloaded with a 100-byte limit / then TooLarge
    world({"big": b"x" * 1000})
    with pytest.raises(s3.TooLarge):
        s3.get_bytes(clients.client("s3"), ObjectRef(BUCKET, "big"), 100)
    with pytest.raises(s3.TooLarge):
        s3.get_bytes(clients.client("s3"), ObjectRef(BUCKET, "big", size=1000), 100)


def test_put_json_writes_a_document(aws):
    # given a bucket / when a summary is put / then it reads back as JSON
    world({})
    uri = s3.put_json(clients.client("s3"), f"s3://{BUCKET}/runs/j/0.json", {"done": 3})
    body = clients.client("s3").get_object(Bucket=BUCKET, Key="runs/j/0.json")["Body"].read()
    assert uri.endswith("/runs/j/0.json") and json.loads(body) == {"done": 3}
    assert s3.strip_etag('"abc"') == "abc"
