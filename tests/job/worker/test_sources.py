import csv
import gzip
import hashlib
import io
import json
from urllib.parse import quote_plus

import pytest

from job.core import clients, manifest
from job.core.errors import ConfigError
from job.core.manifest import ObjectRef
from job.worker import sources
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
    # then they get shards 2 and 1 exactly, and the plan says how big the shard is
    assert plan.kind == "manifest" and plan.detail["shard"] == 1
    assert plan.detail["shard_size"] == 10 and plan.detail["manifest_total"] == 25
    assert list(last) == refs[20:]
    assert list(second) == refs[10:20]
    _, none = sources.open_source(s3, uri, 3, 1, 0)
    assert list(none) == []


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("s3://no-such-bucket-x/p/", "listing s3://no-such-bucket-x/p/: NoSuchBucket"),
        ("s3://{b}/missing/manifest.json", "source manifest s3://.*/missing/manifest.json: NoSuchKey"),
        ("s3://{b}/notes.json", "neither a bucketlens manifest nor an S3 Inventory manifest"),
        ("file:///x", "not an s3:// URI"),
    ],
)
def test_bad_sources_are_config_errors(aws, uri, says):
    # given a bucket with a JSON file that is no manifest
    world({"notes.json": b'{"hello": 1}'})
    # when the source is opened and read / then ConfigError (retrying cannot fix it), saying what is wrong
    with pytest.raises(ConfigError, match=says):
        _, refs = sources.open_source(clients.client("s3"), uri.format(b=BUCKET), 0, 1, 0)
        list(refs)


def _inventory(s3, files: list[list[list[str]]], schema: str) -> str:
    """Write gzip CSV data files and an inventory manifest.json; returns its URI."""
    entries = []
    for number, rows in enumerate(files):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL).writerows(rows)
        key = f"inv/{BUCKET}/cfg/data/file-{number}.csv.gz"
        body = gzip.compress(text.getvalue().encode())
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        entries.append({"key": key, "size": len(body), "MD5checksum": "x"})
    doc = {
        "sourceBucket": BUCKET,
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": schema,
        "files": entries,
    }
    s3.put_object(Bucket=BUCKET, Key="inv/manifest.json", Body=json.dumps(doc).encode())
    return f"s3://{BUCKET}/inv/manifest.json"


SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag"


def _row(key: str, latest: str = "true", marker: str = "false") -> list[str]:
    return [
        BUCKET,
        quote_plus(key, safe="/"),
        "v1",
        latest,
        marker,
        "10",
        "2026-01-02T03:04:05.000Z",
        "etag1",
    ]


def test_inventory_data_files_are_split_between_children_and_keys_decoded(aws):
    # given an inventory of 3 data files with URL-encoded odd keys, a delete marker and an old version
    world({})
    s3 = clients.client("s3")
    uri = _inventory(
        s3,
        [
            [_row("a/with space.jpg"), _row("a/old.jpg", latest="false")],
            [_row("b/plus+and%.jpg"), _row("b/gone.jpg", marker="true")],
            [_row("c/ünï/日本.jpg")],
        ],
        SCHEMA,
    )
    # when two children read it
    got = {}
    for index in range(2):
        plan, refs = sources.open_source(s3, uri, index, 2, 0)
        assert plan.kind == "inventory"
        got[index] = list(refs)
    # then child 0 has files 0 and 2, child 1 file 1, keys decoded, only current versions
    assert [r.key for r in got[0]] == ["a/with space.jpg", "c/ünï/日本.jpg"]
    assert [r.key for r in got[1]] == ["b/plus+and%.jpg"]
    ref = got[0][0]
    assert (ref.bucket, ref.version_id, ref.etag, ref.size) == (BUCKET, "v1", "etag1", 10)
    assert ref.last_modified == "2026-01-02T03:04:05.000Z"


def test_inventory_rows_are_split_by_hash_when_files_are_few(aws):
    # given one data file of 30 keys
    world({})
    s3 = clients.client("s3")
    uri = _inventory(s3, [[_row(k) for k in KEYS]], SCHEMA)
    # when three children read it
    seen = []
    for index in range(3):
        _, refs = sources.open_source(s3, uri, index, 3, 0)
        mine = list(refs)
        assert all(sources.stable_shard(r.key, 3) == index for r in mine)
        seen.extend(r.key for r in mine)
    # then every key was taken exactly once
    assert sorted(seen) == sorted(KEYS)


def test_an_unreadable_inventory_is_a_config_error(aws):
    # given an ORC inventory manifest whose data file is no ORC / when read / then ConfigError naming the file
    world({})
    s3 = clients.client("s3")
    uri = _inventory(s3, [[_row("a.jpg")]], SCHEMA)
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key="inv/manifest.json")["Body"].read())
    doc["fileFormat"] = "ORC"  # a valid ORC manifest (its schema as S3 writes ORC's), over a CSV data file
    doc["fileSchema"] = (
        "struct<bucket:string,key:string,size:bigint,last_modified_date:timestamp,e_tag:string>"
    )
    s3.put_object(Bucket=BUCKET, Key="inv/manifest.json", Body=json.dumps(doc).encode())
    with pytest.raises(ConfigError, match="inventory data file s3://"):
        _, refs = sources.open_source(s3, uri, 0, 1, 0)
        list(refs)


@pytest.mark.parametrize("fmt", ["ORC", "Parquet"])
def test_children_read_orc_and_parquet_reports_like_csv(aws, fmt):
    # given the same report as CSV and as ORC or Parquet (AWS's sample manifests, two data files)
    from tests.inventory_files import IMAGES, ROWS, write_report

    world({})
    s3 = clients.client("s3")
    s3.create_bucket(Bucket="bl-inventory")
    uris = {f: write_report(s3, f, BUCKET, "bl-inventory", ROWS * 2, files=2) for f in ("CSV", fmt)}
    # when three children read each, hash-split since there are fewer files than children
    got = {}
    for f, uri in uris.items():
        keys = []
        for index in range(3):
            plan, refs = sources.open_source(s3, uri, index, 3, 0)
            assert plan.kind == "inventory"
            keys += [(r.key, r.version_id, r.size) for r in refs]
        got[f] = sorted(keys)
    # then both give every current, non-empty object once per row, keys as they are in the bucket (the
    # child's own extension check then skips notes.txt)
    current = sorted([*IMAGES, "photos/notes.txt"])
    assert got[fmt] == got["CSV"]
    assert sorted({k for k, _, _ in got[fmt]}) == current and len(got[fmt]) == 2 * len(current)


def test_a_job_of_more_than_10000_children_reads_its_own_share_of_a_report(aws):
    # given a report and a child of the second job (offset 10,000) of a 10,003-shard submission
    world({})
    s3 = clients.client("s3")
    uri = _inventory(s3, [[_row(k) for k in KEYS]], SCHEMA)
    # when children 0..2 of that job read it / then together they take the shares 10,000..10,002
    taken = [r.key for index in range(3) for r in sources.open_source(s3, uri, index, 10_003, 10_000)[1]]
    assert sorted(taken) == sorted(k for k in KEYS if sources.stable_shard(k, 10_003) >= 10_000)
