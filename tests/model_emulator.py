"""A Rekognition Custom Labels model for the emulator: moto lacks the project-version calls.

The model walks STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED. A start or a stop takes effect
after `steps` further DescribeProjectVersions calls (each poll is a step of the clock), so a test decides
how long "up to 30 minutes" lasts. DetectCustomLabels answers ResourceNotReadyException unless RUNNING,
as Rekognition does. Installed on a tests/faults.py FaultLayer with `install(layer)`.
"""

from __future__ import annotations

import threading
from collections import Counter

PROJECT_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/logos/1690556751958"
VERSION_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/logos/version/logos.v1/1690829377219"


class Model:
    def __init__(self, steps: int = 2) -> None:
        self.status = "STOPPED"
        self.steps = steps
        self._left = 0
        self.calls: Counter[str] = Counter()
        self.inference_units: int | None = None
        self._lock = threading.Lock()

    def _tick(self) -> None:
        if self.status in ("STARTING", "STOPPING"):
            self._left -= 1
            if self._left <= 0:
                self.status = "RUNNING" if self.status == "STARTING" else "STOPPED"

    def describe_projects(self, request: dict) -> tuple[int, dict]:
        names = request.get("ProjectNames") or ["logos"]
        found = [{"ProjectArn": PROJECT_ARN, "Status": "CREATED"}] if "logos" in names else []
        return 200, {"ProjectDescriptions": found}

    def describe_versions(self, request: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls["DescribeProjectVersions"] += 1
            if request.get("ProjectArn") != PROJECT_ARN:
                return 400, {"__type": "ResourceNotFoundException", "message": "no such project"}
            self._tick()
            return 200, {
                "ProjectVersionDescriptions": [{"ProjectVersionArn": VERSION_ARN, "Status": self.status}]
            }

    def start(self, request: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls["StartProjectVersion"] += 1
            if self.status not in ("STOPPED", "FAILED"):
                return 400, {"__type": "ResourceInUseException", "message": f"model is {self.status}"}
            self.status, self._left = "STARTING", self.steps
            self.inference_units = request.get("MinInferenceUnits")
            return 200, {"Status": self.status}

    def stop(self, request: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls["StopProjectVersion"] += 1
            if self.status != "RUNNING":
                return 400, {"__type": "ResourceInUseException", "message": f"model is {self.status}"}
            self.status, self._left = "STOPPING", self.steps
            return 200, {"Status": self.status}

    def detect(self, request: dict) -> tuple[int, dict]:
        with self._lock:
            self.calls["DetectCustomLabels"] += 1
            if self.status != "RUNNING" or request.get("ProjectVersionArn") != VERSION_ARN:
                return 400, {"__type": "ResourceNotReadyException", "message": "model not running"}
            return 200, {"CustomLabels": [{"Name": "OurLogo", "Confidence": 97.5}]}

    def install(self, layer) -> Model:
        for operation, fn in (
            ("Rekognition.DescribeProjects", self.describe_projects),
            ("Rekognition.DescribeProjectVersions", self.describe_versions),
            ("Rekognition.StartProjectVersion", self.start),
            ("Rekognition.StopProjectVersion", self.stop),
            ("Rekognition.DetectCustomLabels", self.detect),
        ):
            layer.answer(operation, fn)
        return self
