"""A prefix listed page by page into ObjectRefs, so a backfill of millions of keys streams; its folders are
listed side by side, since one ListObjectsV2 pager lists about 10,000 keys a second and 100 M keys would take
hours from one."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from job.core.inventory import is_image_key, normalize_extensions
from job.core.manifest import ObjectRef
from job.core.ordering import iso_time

LISTING_THREADS = 8  # pagers at once, within the S3 client's pool of 10 connections
DESCEND_LEVELS = 4  # a prefix holding a single folder is split one level further down, this many times
_DONE = object()


def _ref(bucket: str, obj: dict) -> ObjectRef:
    etag = obj.get("ETag")
    return ObjectRef(
        bucket=bucket,
        key=obj["Key"],
        etag=etag.strip('"') if etag else None,
        size=obj.get("Size"),
        last_modified=iso_time(obj["LastModified"]) if obj.get("LastModified") else None,
    )


def _pages(s3: Any, bucket: str, prefix: str, page_size: int, delimiter: str | None = None) -> Iterator[dict]:
    extra = {"Delimiter": delimiter} if delimiter else {}
    return s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}, **extra
    )


def split_prefix(s3: Any, bucket: str, prefix: str, page_size: int) -> tuple[list[dict], list[str]]:
    """(the objects right under `prefix`, the folders to list each on its own): one level down at "/",
    further while a level holds a single folder and nothing else."""
    objects: list[dict] = []
    folders = [prefix]
    for _ in range(DESCEND_LEVELS):
        if len(folders) != 1:
            break
        found: list[str] = []
        for page in _pages(s3, bucket, folders[0], page_size, delimiter="/"):
            objects += page.get("Contents", ())
            found += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        folders = found
    return objects, folders


def iter_listing(
    s3: Any,
    bucket: str,
    prefix: str,
    extensions: Iterable[str],
    page_size: int = 1000,
    threads: int = LISTING_THREADS,
) -> Iterator[ObjectRef]:
    """Images under the prefix, a zero-byte one too (its result is a recorded EmptyFile error), each once;
    ListObjectsV2 returns only current versions. Folders are listed `threads` at a time, their keys
    streamed through a bounded queue (memory stays flat), in no particular order between folders."""
    suffixes = normalize_extensions(extensions)
    objects, folders = split_prefix(s3, bucket, prefix, page_size)
    for obj in objects:
        if is_image_key(obj["Key"], suffixes):
            yield _ref(bucket, obj)
    if not folders:
        return
    out: queue.Queue = queue.Queue(maxsize=10 * page_size)
    todo: queue.Queue = queue.Queue()
    for folder in folders:
        todo.put(folder)
    stop = threading.Event()

    def lister() -> None:
        try:
            while not stop.is_set():
                try:
                    folder = todo.get_nowait()
                except queue.Empty:
                    return
                for page in _pages(s3, bucket, folder, page_size):
                    for obj in page.get("Contents", ()):
                        if is_image_key(obj["Key"], suffixes):
                            out.put(_ref(bucket, obj))
                    if stop.is_set():
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            out.put(exc)
        finally:
            out.put(_DONE)

    workers = [threading.Thread(target=lister, daemon=True) for _ in range(min(threads, len(folders)))]
    for worker in workers:
        worker.start()
    running = len(workers)
    try:
        while running:
            item = out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        while any(w.is_alive() for w in workers):  # let a blocked put go, so every lister ends
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.1)
