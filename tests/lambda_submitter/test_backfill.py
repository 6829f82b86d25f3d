"""Backfill listing: every page, images only (an empty one too: its result is a recorded error)."""

from __future__ import annotations

from lambda_submitter import backfill
from tests.lambda_submitter.conftest import IMAGES


def test_listing_pages_and_filters(stack: dict, monkeypatch) -> None:
    # given 25 images (four ListObjectsV2 pages of 7), an empty image, a folder marker and a text file
    s3 = stack["s3"]
    for i in range(25):
        s3.put_object(Bucket=IMAGES, Key=f"bulk/IMG_{i:04d}.JPG", Body=b"x")
    s3.put_object(Bucket=IMAGES, Key="bulk/empty.jpg", Body=b"")
    s3.put_object(Bucket=IMAGES, Key="bulk/folder.jpg/", Body=b"")
    s3.put_object(Bucket=IMAGES, Key="bulk/readme.txt", Body=b"x")
    s3.put_object(Bucket=IMAGES, Key="elsewhere/a.jpg", Body=b"x")
    # when listed for jpg
    refs = list(backfill.iter_listing(s3, IMAGES, "bulk/", ["jpg"], page_size=7))
    # then every image of the prefix comes back once, with etag and size, the empty one too
    assert len(refs) == 26 and len({r.key for r in refs}) == 26
    (empty,) = [r for r in refs if r.size == 0]
    assert empty.key == "bulk/empty.jpg"
    assert all(
        r.key.startswith("bulk/IMG_") and r.size == 1 and r.etag and '"' not in r.etag for r in refs if r.size
    )
    assert refs[0].last_modified.endswith("Z")
