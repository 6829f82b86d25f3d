"""label_now: the worker inside the caller (the Lambda's fast path), on in-process moto."""

from __future__ import annotations

from job.core.manifest import ObjectRef
from job.worker.config import from_args
from job.worker.image import Backends
from job.worker.immediate import label_now
from tests.job.worker_helpers import BUCKET, TABLE, image_bytes, items, png_bomb, world


def _refs() -> list[ObjectRef]:
    world({"in/a.jpg": image_bytes("JPEG"), "in/b.heic": image_bytes("HEIF"), "in/bomb.png": png_bomb()})
    return [ObjectRef(BUCKET, key) for key in ("in/a.jpg", "in/b.heic", "in/bomb.png")]


def _config():
    return from_args({"source": f"s3://{BUCKET}/", "table": TABLE}, env={})


def test_each_image_gets_its_outcome_and_a_bad_one_is_a_recorded_error(aws) -> None:
    # given two good images and a decompression bomb
    refs = _refs()
    # when labelled in place with a minute to spare
    labelled = label_now(_config(), refs, Backends.default(pool=4), seconds=60)
    # then the good ones are done, the bomb is its own recorded error, and the counts say so
    assert [labelled.outcomes[r] for r in refs[:2]] == ["done", "done"]
    assert labelled.outcomes[refs[2]].startswith("error:")
    assert {k: v["status"] for k, v in items().items()} == {
        "in/a.jpg": "done",
        "in/b.heic": "done",
        "in/bomb.png": "error",
    }
    assert labelled.stats["outcomes"]["done"] == 2 and labelled.stats["rekognition_calls"] == 2


def test_nothing_starts_after_the_deadline(aws) -> None:
    # given images and no time left
    refs = _refs()
    # when labelled
    labelled = label_now(_config(), refs, Backends.default(pool=4), seconds=0)
    # then every image is handed back undone and nothing was paid for or written
    assert set(labelled.outcomes.values()) == {"transient"}
    assert labelled.stats["rekognition_calls"] == 0 and items() == {}
