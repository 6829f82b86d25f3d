"""Every field of every corpus image agrees with exiftool, except the differences listed here."""

from __future__ import annotations

import json

import pytest

from job import exif
from tests.job.exif.exif_truth import KNOWN_DIFFERENCES, OFFSETS, differences


@pytest.fixture(scope="module")
def truth(corpus):
    return json.loads((corpus / "exiftool-truth-compact.json").read_text())


def test_corpus_agrees_with_exiftool(corpus, truth):
    # given every image exiftool read
    assert len(truth) > 100
    unexpected, stale = {}, []
    for entry in truth:
        # when we extract it
        record = exif.extract_file(corpus / entry["path"])
        found = differences(entry, record, OFFSETS.get(entry["path"]))
        allowed = KNOWN_DIFFERENCES.get(entry["path"], {})
        extra = {field: diff for field, diff in found.items() if field not in allowed}
        if extra:
            unexpected[entry["path"]] = extra
        stale += [f"{entry['path']}:{field}" for field in allowed if field not in found]
    # then only the listed differences remain, and every listed one still exists
    assert unexpected == {}
    assert stale == []


def test_corpus_jpegs_need_one_read_of_64_kib(corpus, truth):
    # given every JPEG of the corpus
    jpegs = [entry["path"] for entry in truth if entry["FileType"] in ("JPEG", "MPO")]
    single = 0
    for path in jpegs:
        data = (corpus / path).read_bytes()
        calls: list = []

        def read(start: int, end: int, data=data, calls=calls) -> bytes:
            calls.append((start, end))
            return data[start:end]

        # when extracted through a counting reader
        record = exif.extract(read, len(data))
        single += len(calls) == 1 and record.bytes_read <= exif.FIRST_READ
    # then at least 99% are answered by one read of at most 64 KiB
    assert single / len(jpegs) >= 0.99, f"{single}/{len(jpegs)}"


def test_errors_only_where_exiftool_found_no_exif_either(corpus, truth):
    # given every corpus image
    # when extracted
    errors = {e["path"]: exif.extract_file(corpus / e["path"]).error for e in truth}
    erred = {path for path, error in errors.items() if error}
    # then an error appears only for formats we do not read, or where exiftool found no EXIF block either
    no_exif = {e["path"] for e in truth if not e["has_exif"]}
    assert erred - no_exif == {"ianare-exif-py/tests/resources/jxl/test_0001.jxl"}
    assert len(erred) < 5
