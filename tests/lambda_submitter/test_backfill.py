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


def test_a_prefix_of_many_folders_is_listed_folder_by_folder_side_by_side_each_key_once(stack: dict) -> None:
    # given a prefix holding one folder (a year), which holds 12 month folders of images, a few images right
    # under it, a text file, and a key outside the prefix
    s3 = stack["s3"]
    expected = set()
    for month in range(1, 13):
        for day in range(5):
            key = f"archive/2024/{month:02d}/IMG_{day}.jpg"
            s3.put_object(Bucket=IMAGES, Key=key, Body=b"x")
            expected.add(key)
    for key in ("archive/2024/cover.jpg", "archive/2024/notes.txt", "archive-old/a.jpg"):
        s3.put_object(Bucket=IMAGES, Key=key, Body=b"x")
    expected.add("archive/2024/cover.jpg")
    prefixes: list[tuple[str, str | None]] = []
    s3.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2",
        lambda params, **_: prefixes.append((params["Prefix"], params.get("Delimiter"))),
    )
    # when it is listed, pages of 2 keys
    refs = list(backfill.iter_listing(s3, IMAGES, "archive/", ["jpg"], page_size=2))
    # then every image comes back exactly once
    assert sorted(r.key for r in refs) == sorted(expected)
    # and the listing went down through the single folder, then listed each month on its own pager
    assert ("archive/", "/") in prefixes and ("archive/2024/", "/") in prefixes
    assert {p for p, d in prefixes if d is None} == {f"archive/2024/{m:02d}/" for m in range(1, 13)}


def test_a_listing_that_fails_in_a_folder_raises_and_stops_the_others(stack: dict) -> None:
    # given two folders, and S3 refusing the listing of one of them
    from botocore.exceptions import ClientError

    s3 = stack["s3"]
    for folder in ("a", "b"):
        for n in range(3):
            s3.put_object(Bucket=IMAGES, Key=f"p/{folder}/{n}.jpg", Body=b"x")

    def refuse(params, **_):
        if params["Prefix"] == "p/b/" and "Delimiter" not in params:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectsV2")

    s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", refuse)
    # when listed / then the refusal reaches the caller, not a shorter listing
    import pytest

    with pytest.raises(ClientError, match="AccessDenied"):
        list(backfill.iter_listing(s3, IMAGES, "p/", ["jpg"], page_size=2))
