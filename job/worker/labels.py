"""Rekognition calls (labels, text, custom labels) and their answers reduced to what we store.

Throttled or failed calls are retried here, each attempt through the --max-tps limiter (botocore's own
retries are off for Rekognition), then by the run loop's backoff; a rejected image becomes
`ImageRejected`, which the run records as that image's terminal error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from job.core.model_status import NOT_READY_CODES

# Rekognition's answers about the image itself: retrying the same bytes cannot change them.
REJECTED_CODES = frozenset(
    {
        "InvalidImageFormatException",
        "ImageTooLargeException",
        "InvalidS3ObjectException",
        "InvalidParameterException",
    }
)
THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "Throttling",
        "RequestThrottled",
        "RequestThrottledException",
    }
)
MAX_TEXT = 100  # DetectText returns at most 100 words; we keep lines only
CALL_ATTEMPTS = 8
RETRY_BASE = 0.2
RETRY_CAP = 10.0


class ModelNotRunning(Exception):
    """The Custom Labels model is not deployed (stopped, starting, stopping): the image waits for it."""


class ImageRejected(Exception):
    """Rekognition refused this image (format, size, unreadable S3 object)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float
    parents: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "confidence": self.confidence,
            "parents": list(self.parents),
            "categories": list(self.categories),
        }


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": self.confidence}


@dataclass(frozen=True)
class CustomLabel:
    name: str
    confidence: float

    def to_dict(self) -> dict:
        return {"name": self.name, "confidence": self.confidence}


@dataclass(frozen=True)
class LabelResult:
    labels: tuple[Label, ...]
    model_version: str | None


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_throttle(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLE_CODES


def s3_image(bucket: str, key: str, version_id: str | None) -> dict:
    """The S3Object form: Rekognition reads the bytes itself; the version pins which bytes."""
    obj = {"Bucket": bucket, "Name": key}
    if version_id and version_id != "null":
        obj["Version"] = version_id
    return {"S3Object": obj}


def normalize_labels(response: dict) -> LabelResult:
    labels = tuple(
        Label(
            name=item["Name"],
            confidence=round(float(item.get("Confidence", 0.0)), 3),
            parents=tuple(p["Name"] for p in item.get("Parents", ()) if "Name" in p),
            categories=tuple(c["Name"] for c in item.get("Categories", ()) if "Name" in c),
        )
        for item in response.get("Labels", ())
        if item.get("Name")
    )
    return LabelResult(labels, response.get("LabelModelVersion"))


def normalize_text(response: dict, min_confidence: float) -> tuple[TextLine, ...]:
    """Lines only (words repeat them), above the confidence floor, in reading order."""
    lines = [
        TextLine(item["DetectedText"], round(float(item.get("Confidence", 0.0)), 3))
        for item in response.get("TextDetections", ())
        if item.get("Type") == "LINE" and item.get("DetectedText")
    ]
    return tuple(line for line in lines if line.confidence >= min_confidence)[:MAX_TEXT]


def normalize_custom(response: dict) -> tuple[CustomLabel, ...]:
    return tuple(
        CustomLabel(item["Name"], round(float(item.get("Confidence", 0.0)), 3))
        for item in response.get("CustomLabels", ())
        if item.get("Name")
    )


def labels_match(labels: Iterable[Label], name: str, confidence: float) -> bool:
    """The --text-if test: a label (or a parent of one) named `name` at or above `confidence`."""
    wanted = name.casefold()
    return any(
        label.confidence >= confidence
        and (label.name.casefold() == wanted or wanted in (p.casefold() for p in label.parents))
        for label in labels
    )


def is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx and network trouble: a later attempt can succeed."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return is_throttle(exc) or status >= 500 or error_code(exc) == "RequestTimeout"
    return isinstance(exc, BotoCoreError)


def _call(
    fn: Callable[..., dict],
    acquire: Callable[[], Any],
    attempts: int = CALL_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> dict:
    """One Rekognition call; every attempt, retries included, first takes a rate-limit token.

    The Rekognition client is made with botocore retries off (see image.Backends) so that retries go
    through the limiter too: a child never sends more than --max-tps, throttled retries included.
    """
    for attempt in range(attempts):
        acquire()
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code in NOT_READY_CODES:
                raise ModelNotRunning(f"{code}: {exc}") from exc
            if code in REJECTED_CODES:
                raise ImageRejected(code, exc.response.get("Error", {}).get("Message", "")) from exc
            if not is_transient(exc) or attempt == attempts - 1:
                raise
        except BotoCoreError:
            if attempt == attempts - 1:
                raise
        sleep(random.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**attempt)))  # full jitter
    raise AssertionError("unreachable")


def detect_labels(
    client: Any,
    image: dict,
    min_confidence: float,
    max_labels: int,
    acquire: Callable[[], Any],
    attempts: int = CALL_ATTEMPTS,
) -> LabelResult:
    response = _call(
        client.detect_labels,
        acquire,
        attempts,
        Image=image,
        MinConfidence=min_confidence,
        MaxLabels=max_labels,
    )
    return normalize_labels(response)


def detect_text(
    client: Any, image: dict, min_confidence: float, acquire: Callable[[], Any], attempts: int = CALL_ATTEMPTS
) -> tuple[TextLine, ...]:
    response = _call(client.detect_text, acquire, attempts, Image=image)
    return normalize_text(response, min_confidence)


def detect_custom_labels(
    client: Any,
    arn: str,
    image: dict,
    min_confidence: float,
    max_results: int,
    acquire: Callable[[], Any],
    attempts: int = CALL_ATTEMPTS,
) -> tuple[CustomLabel, ...]:
    response = _call(
        client.detect_custom_labels,
        acquire,
        attempts,
        ProjectVersionArn=arn,
        Image=image,
        MinConfidence=min_confidence,
        MaxResults=max_results,
    )
    return normalize_custom(response)
