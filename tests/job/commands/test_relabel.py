"""`relabel --prompts`: a prompt list applied to every stored embedding with no image read, beside the other
labelers' labels, in the label index and the store's filter, idempotent, split in segments, and submitted as
a Batch job; a prompt list or model that cannot be used exits 78 before anything is written."""

from __future__ import annotations

import json

import pytest

from job import cli
from job.core import clients, errors, label_index, vectors
from job.demo import vector_search
from tests.batch_queue import job_queue
from tests.job.commands.test_similar import MODEL, _search
from tests.job.worker.test_embedding_run import IMAGES, VECTORS, _encoders, _prompts
from tests.job.worker_helpers import BUCKET, TABLE, items

SOLAR = [  # a category added after the images were embedded
    {"name": "Red thing", "prompt": "red", "threshold": 0.9},
    {"name": "Blue thing", "prompt": "a photo of blue", "threshold": 0.9},
]


def _image_reads() -> list[str]:
    """Counts every GetObject on the images bucket made from now on through clients.client's S3."""
    seen: list[str] = []

    def count(params, **_):
        if params.get("Bucket") == BUCKET:
            seen.append(params["Key"])

    clients.client("s3").meta.events.register("provide-client-params.s3.GetObject", count)
    return seen


def _relabel(*args: str, capsys) -> tuple[int, dict, str]:
    code = cli.main(["relabel", "--table", TABLE, *MODEL, *args])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, json.loads(lines[-1]) if lines else {}, captured.err


def test_a_new_prompt_list_labels_every_embedded_image_without_reading_one(embedded, capsys):
    # given images embedded with Rekognition's labels, and a new prompt list in S3
    before = items()
    reads = _image_reads()
    uri = _prompts(SOLAR)
    # when relabel runs
    code, counts, _ = _relabel("--prompts", uri, capsys=capsys)
    # then every vector was scored, every image relabelled, and no image was read
    assert code == errors.EXIT_OK, counts
    assert counts["vectors"] == counts["relabelled"] == len(IMAGES) and reads == []
    clients.client("s3").get_object(Bucket=BUCKET, Key="in/red.jpg")  # (the counter sees a read)
    assert reads == ["in/red.jpg"]
    # and each image has its colour's prompt label beside the Rekognition labels it had
    after = items()
    for key in IMAGES:
        colour = "Red thing" if "red" in key else "Blue thing"
        names = [label["name"] for label in after[key]["labels"]]
        kept = [label["name"] for label in before[key]["labels"]]
        assert names == [*kept, colour] and after[key]["etag"] == before[key]["etag"]
    # and the label index and the store's label filter find them by the new name
    found = label_index.query(clients.client("dynamodb"), f"{TABLE}-label-index", "Red thing")
    assert {row["key"] for row in found} == {"in/red.jpg", "in/red.heic"}
    code, hits, _ = _search("--meaning", "red", "--label", "Blue thing", *MODEL, capsys=capsys)
    assert code == errors.EXIT_OK
    assert {h["uri"] for h in hits} == {f"s3://{BUCKET}/in/blue.png", f"s3://{BUCKET}/in/blue.webp"}


def test_with_opensearch_the_new_labels_reach_both_indexes_and_a_search_by_meaning_filters_on_them(
    embedded, capsys, monkeypatch
):
    # given embedded images and an OpenSearch domain (the stand-in), the deployment's environment naming it
    from job.core import opensearch
    from job.worker import opensearch_sink
    from tests import search_standin
    from tests.job.commands.test_opensearch_search import ADMIN

    domain = search_standin.Domain(master_arn=ADMIN)
    every = frozenset(f"es:ESHttp{m}" for m in ("Delete", "Get", "Head", "Post", "Put"))
    client = search_standin.client(domain, search_standin.Principal(ADMIN, every))
    monkeypatch.setattr(opensearch_sink, "connect", lambda settings: client)
    monkeypatch.setattr(opensearch, "connect", lambda settings: client)
    monkeypatch.setenv("BUCKETLENS_OPENSEARCH_ENDPOINT", "https://search.example")
    # when relabel runs with a new prompt list
    code, counts, _ = _relabel("--prompts", _prompts(SOLAR), capsys=capsys)
    # then every relabelled image's documents carry its new label, its vector in the model's field
    assert code == errors.EXIT_OK and counts["relabelled"] == len(IMAGES) and counts["search_errors"] == 0
    field = opensearch.vector_field(_encoders().digest)
    for name in ("bucketlens", "bucketlens-vectors"):
        docs = {d["key"]: d for d in domain.indices[name].values()}
        assert set(docs) == set(IMAGES)
        assert all(
            ("Red thing" if "red" in k else "Blue thing") in {lb["name"] for lb in d["labels"]}
            for k, d in docs.items()
        )
    assert all(len(d[field]) == 3 for d in domain.indices["bucketlens-vectors"].values())
    # and a search by meaning through OpenSearch filters on the new label
    code, hits, _ = _search("--meaning", "red", "--label", "Blue thing", *MODEL, capsys=capsys)
    assert code == errors.EXIT_OK
    assert {h["uri"] for h in hits} == {f"s3://{BUCKET}/in/blue.png", f"s3://{BUCKET}/in/blue.webp"}


def test_a_rerun_writes_nothing_and_a_changed_list_replaces_only_prompt_labels(embedded, capsys):
    # given a relabelled bucket
    uri = _prompts(SOLAR)
    assert _relabel("--prompts", uri, capsys=capsys)[0] == errors.EXIT_OK
    # when the same list runs again / then nothing changes
    code, counts, _ = _relabel("--prompts", uri, capsys=capsys)
    assert code == errors.EXIT_OK and counts["unchanged"] == len(IMAGES) and counts["relabelled"] == 0
    # when the list loses "Red thing" and gains "Bluish" / then the red images lose it everywhere
    _prompts([SOLAR[1], {"name": "Bluish", "prompt": "blue", "threshold": 0.9}])
    code, counts, _ = _relabel("--prompts", uri, capsys=capsys)
    assert code == errors.EXIT_OK and counts["relabelled"] == len(IMAGES)
    stored = items()
    assert not any(label["name"] == "Red thing" for key in IMAGES for label in stored[key]["labels"])
    assert {label["name"] for label in stored["in/blue.png"]["labels"]} >= {"Blue thing", "Bluish"}
    ddb = clients.client("dynamodb")
    assert list(label_index.query(ddb, f"{TABLE}-label-index", "Red thing")) == []
    # and Rekognition's labels stayed
    assert all(any("+prompts@" not in str(lb.get("source")) for lb in stored[k]["labels"]) for k in IMAGES)


def test_segments_share_the_vectors_between_processes(embedded, capsys):
    # given an embedded bucket / when three processes each relabel their segment
    uri = _prompts(SOLAR)
    seen = []
    for segment in range(3):
        code, counts, _ = _relabel(
            "--prompts", uri, "--segment", str(segment), "--segments", "3", capsys=capsys
        )
        assert code == errors.EXIT_OK
        seen.append(counts["vectors"])
    # then together they saw each vector once
    assert sum(seen) == len(IMAGES)
    assert all(any(lb["name"].endswith("thing") for lb in item["labels"]) for item in items().values())


def test_an_image_changed_since_its_vector_is_left_to_its_event(embedded, capsys):
    # given red.jpg overwritten after it was embedded (its new event not yet processed)
    from job.core import store

    stored = items()["in/red.jpg"]
    ddb = clients.client("dynamodb")
    ddb.update_item(
        TableName=TABLE,
        Key=store.serialize({"bucket": BUCKET, "key": "in/red.jpg"}),
        UpdateExpression="SET #s = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":t": {"S": "deleted"}},
    )
    # when relabel runs / then it does not write labels onto the changed image
    code, counts, _ = _relabel("--prompts", _prompts(SOLAR), capsys=capsys)
    assert code == errors.EXIT_OK and counts["skipped_not_current"] == 1
    assert items()["in/red.jpg"]["labels"] == stored["labels"]


@pytest.mark.parametrize(
    ("prompts", "says"),
    [([], "an empty prompt list"), ("missing", "NoSuchKey")],
    ids=["empty-list", "missing-list"],
)
def test_a_prompt_list_that_cannot_be_used_exits_78_before_any_write(embedded, capsys, prompts, says):
    # given an embedded bucket and a prompt list that is empty or not there
    uri = _prompts(prompts) if prompts != "missing" else "s3://bl-results-bucket/models/none.json"
    before = items()
    # when relabel runs / then it exits 78 with the reason, and no item changed
    code, _, err = _relabel("--prompts", uri, capsys=capsys)
    assert code == errors.EXIT_CONFIG and says in err
    assert items() == before


def test_without_the_model_relabel_exits_78(aws, capsys, tmp_path):
    listed = tmp_path / "prompts.json"
    listed.write_text(json.dumps(SOLAR))
    code = cli.main(["relabel", "--prompts", str(listed), "--table", TABLE, "--vector-bucket", VECTORS])
    assert code == errors.EXIT_CONFIG
    assert "--embed-image-uri" in capsys.readouterr().err


def test_submit_starts_one_batch_child_per_segment_with_the_prompts_from_s3(aws, capsys):
    # given the deployment's queue and job definition
    queue = job_queue("bl-queue")
    definition = clients.client("batch").register_job_definition(
        jobDefinitionName="bl-worker",
        type="container",
        containerProperties={"image": "bucketlens:test", "vcpus": 1, "memory": 2048},
    )["jobDefinitionArn"]
    # when relabel is submitted as four children
    args = ["--prompts", "s3://bl-results-bucket/prompts.json", "--submit", "4"]
    code = cli.main(["relabel", *args, "--job-queue", queue, "--job-definition", definition])
    answer = json.loads(capsys.readouterr().out)
    # then one array job of four children runs `relabel` over four segments
    assert code == errors.EXIT_OK and answer["children"] == 4
    (job,) = clients.client("batch").describe_jobs(jobs=[answer["job_id"]])["jobs"]
    assert job["arrayProperties"]["size"] == 4
    assert job["container"]["command"] == [
        "relabel",
        "--prompts",
        "s3://bl-results-bucket/prompts.json",
        "--segments",
        "4",
    ]
    # and a local prompt file cannot be submitted: the children could not read it
    code = cli.main(
        [
            "relabel",
            "--prompts",
            "p.json",
            "--submit",
            "2",
            "--job-queue",
            queue,
            "--job-definition",
            definition,
        ]
    )
    assert code == errors.EXIT_CONFIG and "give s3://" in capsys.readouterr().err


def test_vector_pages_and_segments_follow_the_list_vectors_limits(aws):
    # given an index of 250 vectors in the emulator
    vector_search.install()
    store = clients.client("s3vectors")
    model = _encoders()
    index = vectors.index_name(model.digest)
    vectors.ensure_index(store, VECTORS, index, 3)
    records = [vectors.VectorRecord(f"k{n:03d}", (1.0, 0.0, 0.0), {}) for n in range(250)]
    vectors.put(store, VECTORS, index, records)
    # when two segments are listed in pages of 100
    keys = []
    for segment in range(2):
        token = None
        while True:
            extra = {"nextToken": token} if token else {}
            page = store.list_vectors(
                vectorBucketName=VECTORS,
                indexName=index,
                maxResults=100,
                segmentCount=2,
                segmentIndex=segment,
                **extra,
            )
            assert len(page["vectors"]) <= 100
            keys += [v["key"] for v in page["vectors"]]
            token = page.get("nextToken")
            if not token:
                break
    # then every vector came once
    assert sorted(keys) == [r.key for r in records]
    # and a segment index without its count, or a page over 1,000 (which botocore checks too), is refused
    # as AWS refuses it
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="segmentCount and segmentIndex are given together"):
        store.list_vectors(vectorBucketName=VECTORS, indexName=index, segmentIndex=1)
    with pytest.raises(vector_search.FilterError, match="maxResults must be 1 to 1000"):
        vector_search.list_page(["k"], 1001, None, None, None)
