import hashlib

import pytest

from job import clients, manifest, sources
from job.errors import ConfigError
from job.manifest import ObjectRef
from tests.job.worker_helpers import BUCKET, world

KEYS = [f"photos/{d}/img-{i}.jpg" for d in ("a", "b/c") for i in range(15)]


def test_stable_shard_is_sha1_based_and_partitions_the_keys():
    # given keys split 3 ways
    owners = {key: sources.stable_shard(key, 3) for key in KEYS}
    # then the owner is the SHA-1 rule (stable across processes) and every key has exactly one owner
    expected = int.from_bytes(hashlib.sha1(KEYS[0].encode()).digest()[:8], "big") % 3
    assert owners[KEYS[0]] == expected
    assert set(owners.values()) == {0, 1, 2}


def test_prefix_children_split_the_listing_exactly(aws):
    # given 30 objects, a folder marker and an object outside the prefix
    world({**{k: b"x" for k in KEYS}, "photos/": b"", "other/x.jpg": b"x"})
    s3 = clients.client("s3")
    # when three children list the prefix
    seen = []
    for index in range(3):
        plan, refs = sources.open_source(s3, f"s3://{BUCKET}/photos/", index, 3, 0)
        seen.extend(refs)
        assert plan.kind == "prefix"
    # then each key is listed once, with ETag, size and time
    assert sorted(r.key for r in seen) == sorted(KEYS)
    assert all(r.etag and r.size == 1 and r.last_modified.endswith("Z") for r in seen)


def test_index_past_shards_has_no_work(aws):
    # given one shard / when child 1 asks / then nothing
    world({k: b"x" for k in KEYS[:2]})
    _, refs = sources.open_source(clients.client("s3"), f"s3://{BUCKET}/photos/", 1, 1, 0)
    assert list(refs) == []


def test_manifest_child_reads_shard_offset_plus_index(aws):
    # given a bucketlens manifest of 25 refs in shards of 10
    world({})
    s3 = clients.client("s3")
    refs = [ObjectRef(BUCKET, f"k{i}.jpg", etag=f"e{i}", size=i) for i in range(25)]

    def put(key: str, body: bytes) -> None:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    manifest.write_manifest(put, "manifests/m1", "m1", refs, shard_size=10)
    uri = f"s3://{BUCKET}/manifests/m1/manifest.json"
    # when child 0 with offset 2 and child 1 with offset 0 read
    _, last = sources.open_source(s3, uri, 0, 1, 2)
    plan, second = sources.open_source(s3, uri, 1, 1, 0)
    # then they get shards 2 and 1 exactly
    assert plan.kind == "manifest" and plan.detail["shard"] == 1
    assert list(last) == refs[20:]
    assert list(second) == refs[10:20]
    _, none = sources.open_source(s3, uri, 3, 1, 0)
    assert list(none) == []


@pytest.mark.parametrize(
    "uri", ["s3://no-such-bucket-x/p/", "s3://{b}/missing/manifest.json", "s3://{b}/notes.json", "file:///x"]
)
def test_bad_sources_are_config_errors(aws, uri):
    # given a bucket with a JSON file that is no manifest
    world({"notes.json": b'{"hello": 1}'})
    # when the source is opened and read / then ConfigError (retrying cannot fix it)
    with pytest.raises(ConfigError):
        _, refs = sources.open_source(clients.client("s3"), uri.format(b=BUCKET), 0, 1, 0)
        list(refs)
