"""Lambda entry point of the Custom Labels schedule (EventBridge Scheduler invokes it): thin by design."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from job.core import clients, logs
from lambda_submitter import model_schedule

logs.configure(os.environ.get("BUCKETLENS_LOG_LEVEL", "INFO"))


@dataclass(frozen=True)
class Clients:
    rekognition: Any
    aws_lambda: Any
    scheduler: Any
    batch: Any


def make_clients() -> Clients:
    return Clients(
        rekognition=clients.client("rekognition"),
        aws_lambda=clients.client("lambda"),
        scheduler=clients.client("scheduler"),
        batch=clients.client("batch"),
    )


def handler(event: dict, context: Any = None) -> dict:
    """{"action": "start" | "stop" | "poll"} -> what was seen and done (errors raise: Scheduler retries)."""
    settings = model_schedule.Settings.from_env(dict(os.environ))
    return model_schedule.step(event, make_clients(), settings)
