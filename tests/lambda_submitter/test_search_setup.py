"""Search with least privilege: the setup function, as the domain's master user, maps the roles; then the
worker writes, the submitter deletes and a reader searches, each with exactly the es:ESHttp* actions its
Terraform policy grants, against a stand-in that enforces identity policies per HTTP method and
fine-grained access control as Amazon OpenSearch Service does. The methods are derived by running the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from job import cli
from job.commands import opensearch_search
from job.commands.filters import Filters
from job.core import errors, opensearch, opensearch_access
from job.demo import vector_search
from job.worker import opensearch_sink, run
from job.worker.config import from_args
from lambda_submitter import search_delete, search_setup
from tests import search_standin
from tests.job.commands.test_similar import MODEL
from tests.job.worker import test_embedding_run as embedding
from tests.job.worker_helpers import BUCKET, TABLE, image_bytes, world
from tests.search_standin import BotocoreSession, Domain, Principal

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
ENDPOINT = "https://vpc-bucketlens-search-abc.us-east-1.es.amazonaws.com"
ACCOUNT = "arn:aws:iam::123456789012:role"
ADMIN, WORKER, SUBMITTER, READER = (f"{ACCOUNT}/{n}" for n in ("search-admin", "job", "submitter", "analyst"))
EVERY_METHOD = frozenset(f"es:ESHttp{m}" for m in ("Delete", "Get", "Head", "Post", "Put"))
CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


def policy_actions(module: str, sid: str) -> frozenset[str]:
    """The es:ESHttp* actions of the statement `sid` in a module's policy document (the .tf source)."""
    text = (TERRAFORM / "modules" / module / "main.tf").read_text()
    statement = re.search(rf'sid\s*=\s*"{sid}"\s*\n\s*actions\s*=\s*\[([^\]]*)\]', text)
    assert statement, f"no statement {sid} in modules/{module}"
    return frozenset(re.findall(r'"(es:[A-Za-z]+)"', statement.group(1)))


@pytest.fixture
def principals() -> dict[str, Principal]:
    """Each caller with its identity policy as Terraform writes it; a reader is the user's own role."""
    return {
        "admin": Principal(ADMIN, policy_actions("search", "ManageTheSecurityPlugin")),
        "worker": Principal(WORKER, policy_actions("batch", "IndexForSearch")),
        "submitter": Principal(SUBMITTER, policy_actions("submitter", "UnindexDeletedImagesFromSearch")),
        "reader": Principal(READER, EVERY_METHOD),
    }


def _worker_run(domain: Domain, worker: Principal, monkeypatch: pytest.MonkeyPatch) -> int:
    """One worker child over the bucket, its OpenSearch client answered by the domain as the job role."""
    monkeypatch.setattr(opensearch_sink, "connect", lambda settings: search_standin.client(domain, worker))
    cfg = from_args(
        {"source": f"s3://{BUCKET}/", "table": TABLE, "opensearch_endpoint": ENDPOINT, "features": "labels"},
        env={},
    )
    return run.run(cfg)


GRANTS = {
    opensearch_access.WRITER: [WORKER],
    opensearch_access.DELETER: [SUBMITTER],
    opensearch_access.READER: [READER],
}


def _set_up(domain: Domain, admin: Principal, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The setup function run as Terraform invokes it, as the master user; its answer."""
    monkeypatch.setenv("BUCKETLENS_OPENSEARCH_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(search_setup, "URLLib3Session", lambda timeout: BotocoreSession(domain, admin))
    return search_setup.handler({"index": "bucketlens", "grants": GRANTS})


def test_the_setup_maps_every_caller_and_each_works_with_exactly_its_policy(aws, principals, monkeypatch):
    # given a domain whose master user is the setup function's role, and two images in the bucket
    domain = Domain(master_arn=ADMIN)
    world({"a.jpg": image_bytes("JPEG"), "b.png": image_bytes("PNG")})
    # when a worker runs before the roles are mapped: fine-grained access refuses it; the images are done
    assert _worker_run(domain, principals["worker"], monkeypatch) == errors.EXIT_OK
    assert "bucketlens" not in domain.indices and domain.methods(WORKER) == {"HEAD"}
    # and the submitter's delete is refused too, saying what maps it
    with pytest.raises(RuntimeError, match="HTTP 403"):
        search_delete.delete(
            ENDPOINT,
            "bucketlens",
            "x",
            CREDENTIALS,
            "us-east-1",
            send=BotocoreSession(domain, principals["submitter"]).send,
        )
    # when the setup function runs as Terraform invokes it, as the master user
    answer = _set_up(domain, principals["admin"], monkeypatch)
    grants = GRANTS
    # then the three roles exist on the index, each mapped to its caller, and audit logging is on
    assert {(c["kind"], c["name"]) for c in answer["changes"]} >= {
        ("role", opensearch_access.WRITER),
        ("mapping", opensearch_access.DELETER),
        ("mapping", opensearch_access.READER),
        ("audit", "enabled"),
    }
    assert {n: m["backend_roles"] for n, m in domain.mappings.items()} == {k: v for k, v in grants.items()}
    assert domain.audit["enabled"] is True and domain.audit["audit"]["enable_rest"] is True
    # and running it again changes nothing
    assert search_setup.handler({"index": "bucketlens", "grants": grants}) == {"changes": []}
    # when the worker runs again (a new image): it creates the index and writes the documents
    world({"c.jpg": image_bytes("JPEG", color=(10, 200, 10))})
    assert _worker_run(domain, principals["worker"], monkeypatch) == errors.EXIT_OK
    assert {d["key"] for d in domain.indices["bucketlens"].values()} == {"c.jpg"}
    # and a reader finds it, and the submitter deletes it
    reader = search_standin.client(domain, principals["reader"])
    assert [r["key"] for r in opensearch_search.search(reader, "bucketlens", Filters(), 10)] == ["c.jpg"]
    (doc_id,) = domain.indices["bucketlens"]
    submitter = BotocoreSession(domain, principals["submitter"])
    assert search_delete.delete(ENDPOINT, "bucketlens", doc_id, CREDENTIALS, "us-east-1", send=submitter.send)
    assert domain.indices["bucketlens"] == {}
    # and each Terraform policy allows exactly the HTTP methods its code sent (least privilege)
    for name in ("admin", "worker", "submitter"):
        sent = {f"es:ESHttp{m.title()}" for m in domain.methods(principals[name].arn)}
        assert sent == principals[name].actions, name
    # and only the master user reaches the Security plugin: the worker is not it
    with pytest.raises(Exception, match="403"):
        opensearch_access.ensure(search_standin.client(domain, principals["worker"]), "bucketlens", grants)
    # and a reader needs es:ESHttpPost alone, as search_reader_arns' description and the docs say
    assert domain.methods(READER) == {"POST"}
    described = (TERRAFORM / "variables.tf").read_text().split('variable "search_reader_arns"')[1][:600]
    assert "es:ESHttpPost" in described


def test_with_an_embedding_model_each_vector_reaches_the_knn_index_and_each_caller_keeps_its_policy(
    aws, principals, monkeypatch, capsys
):
    # given a domain the setup function mapped, red and blue photos, and an embedding model in S3
    domain = Domain(master_arn=ADMIN)
    _set_up(domain, principals["admin"], monkeypatch)
    vector_search.install()
    world(embedding.IMAGES)
    embedding._upload_model()
    # when a worker child runs with the model and OpenSearch
    monkeypatch.setattr(
        opensearch_sink, "connect", lambda settings: search_standin.client(domain, principals["worker"])
    )
    assert run.run(embedding._config(opensearch_endpoint=ENDPOINT)) == errors.EXIT_OK
    capsys.readouterr()  # the run's metrics
    # then the k-NN index (made with index.knn) holds each image's vector in the model's field
    field = opensearch.vector_field(embedding._encoders().digest)
    assert domain.settings["bucketlens-vectors"]["index"]["knn"] is True
    assert domain.properties["bucketlens-vectors"][field] == opensearch.vector_mapping(3)
    knn = domain.indices["bucketlens-vectors"]
    assert sorted(d["key"] for d in knn.values()) == sorted(embedding.IMAGES)
    assert all(len(d[field]) == 3 and "result" not in d for d in knn.values())

    def search(*args: str) -> list[dict]:
        code = cli.main(["search", "--table", TABLE, "--opensearch-endpoint", ENDPOINT, *MODEL, *args])
        assert code == errors.EXIT_OK
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    # when a reader searches by meaning through OpenSearch
    reader = search_standin.client(domain, principals["reader"])
    monkeypatch.setattr(opensearch, "connect", lambda settings: reader)
    red = search("--meaning", "a red photo", "--limit", "2")
    # then the red photos come first, scored as cosine similarities, each with its link
    assert {r["uri"] for r in red} == {f"s3://{BUCKET}/in/red.jpg", f"s3://{BUCKET}/in/red.heic"}
    assert red[0]["score"] >= red[1]["score"] > 0.9 and all("X-Amz-Expires" in r["preview"] for r in red)
    # and --like finds the image first, its near copy next
    like = search("--like", f"s3://{BUCKET}/in/blue.png", "--limit", "2")
    assert [r["uri"] for r in like] == [f"s3://{BUCKET}/in/blue.png", f"s3://{BUCKET}/in/blue.webp"]
    assert like[0]["score"] == pytest.approx(1.0, abs=1e-4)
    # and the filters apply in the k-NN search itself: a label no image has finds nothing
    assert search("--meaning", "red", "--label", "Unicorn") == []
    # when the submitter deletes red.jpg's documents (its delete event) / then it leaves the k-NN index too
    submitter = BotocoreSession(domain, principals["submitter"])
    for index in ("bucketlens", "bucketlens-vectors"):
        doc = search_delete.doc_id(BUCKET, "in/red.jpg")
        assert search_delete.delete(ENDPOINT, index, doc, CREDENTIALS, "us-east-1", send=submitter.send)
    assert [r["uri"] for r in search("--meaning", "red", "--limit", "1")] == [f"s3://{BUCKET}/in/red.heic"]
    # and each caller used only the HTTP methods its Terraform policy allows
    for name in ("worker", "submitter"):
        sent = {f"es:ESHttp{m.title()}" for m in domain.methods(principals[name].arn)}
        assert sent == principals[name].actions, name
    assert domain.methods(READER) == {"POST"}
