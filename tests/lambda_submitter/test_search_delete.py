"""The Lambda's OpenSearch delete: a SigV4-signed HTTPS DELETE of the image's document, retried, 404 fine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.credentials import Credentials

from job.core import opensearch
from lambda_submitter import search_delete

CREDS = Credentials("AKIDEXAMPLE", "secret")
ENDPOINT = "https://search-bl-abc.us-east-1.es.amazonaws.com"


def test_the_lambda_and_the_worker_name_a_document_alike():
    assert search_delete.doc_id("b", "a b/ü.jpg") == opensearch.doc_id("b", "a b/ü.jpg")


def test_the_request_is_a_signed_https_delete_of_the_document():
    # given an image's document / when the request is built and signed
    req = search_delete.sign(search_delete.request(ENDPOINT, "bucketlens", "abc123"), CREDS, "us-east-1")
    # then it is a DELETE of /<index>/_doc/<id>, signed for the "es" service
    assert req.method == "DELETE" and req.url == ENDPOINT + "/bucketlens/_doc/abc123"
    auth = req.headers["Authorization"]
    assert (
        auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/us-east-1/es/aws4_request" in auth
    )
    # and plain HTTP is refused
    with pytest.raises(ValueError):
        search_delete.request("http://localhost:9200", "bucketlens", "x")


def test_throttling_is_retried_and_404_means_gone():
    # given a cluster answering 503, then 404
    answers = [503, 404]
    sent, slept = [], []

    def send(prepared):
        sent.append(prepared.method)
        return SimpleNamespace(status_code=answers.pop(0))

    # when deleted / then it retried once and reports the document gone
    assert (
        search_delete.delete(ENDPOINT, "bl", "id", CREDS, "us-east-1", send=send, sleep=slept.append) is True
    )
    assert sent == ["DELETE", "DELETE"] and len(slept) == 1
    # and a refusal is raised, not hidden, saying what maps the role
    with pytest.raises(RuntimeError, match="HTTP 403 .*not mapped to bucketlens_deleter.*search-setup"):
        search_delete.delete(
            ENDPOINT, "bl", "id", CREDS, "us-east-1", send=lambda p: SimpleNamespace(status_code=403)
        )
