"""Where a Rekognition Custom Labels model is in its life cycle; shared by worker, submitter and scheduler.

A version ARN reads `arn:aws:rekognition:<region>:<account>:project/<name>/version/<version>/<ms>`; the
project's own ARN ends in the project's creation time, which the version ARN does not carry, so it is
looked up by name. Boto3 only: the Lambda zip carries this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RUNNING = "RUNNING"
STOPPED = "STOPPED"
# Statuses in which StartProjectVersion is accepted (a failed deployment can be started again).
STARTABLE = frozenset({"STOPPED", "FAILED", "TRAINING_COMPLETED", "COPYING_COMPLETED"})
# DetectCustomLabels' answer while the model is not deployed: wait for it, the image is not at fault.
NOT_READY_CODES = frozenset({"ResourceNotReadyException"})


@dataclass(frozen=True)
class ModelRef:
    """The parts of a project version ARN the describe calls need."""

    version_arn: str
    project_name: str
    version_name: str

    @property
    def project_arn_prefix(self) -> str:
        return self.version_arn.split("/version/", 1)[0]


def parse_version_arn(arn: str) -> ModelRef:
    prefix, sep, rest = arn.partition("/version/")
    parts = prefix.split(":", 5)
    if not sep or len(parts) != 6 or not parts[5].startswith("project/") or "/" not in rest:
        raise ValueError(f"not a Rekognition project version ARN: {arn!r}")
    return ModelRef(arn, parts[5].split("/", 1)[1], rest.split("/", 1)[0])


def project_arn(rekognition: Any, ref: ModelRef) -> str:
    answer = rekognition.describe_projects(ProjectNames=[ref.project_name])
    for project in answer.get("ProjectDescriptions", ()):
        if project["ProjectArn"].startswith(ref.project_arn_prefix + "/"):
            return project["ProjectArn"]
    raise LookupError(f"Custom Labels project {ref.project_name!r} not found")


def status(rekognition: Any, version_arn: str) -> str:
    """The model's Status (RUNNING, STARTING, STOPPED, STOPPING, FAILED, ...)."""
    ref = parse_version_arn(version_arn)
    answer = rekognition.describe_project_versions(
        ProjectArn=project_arn(rekognition, ref), VersionNames=[ref.version_name]
    )
    versions = answer.get("ProjectVersionDescriptions") or []
    if not versions:
        raise LookupError(f"model version {ref.version_name!r} not found in {ref.project_name!r}")
    return versions[0]["Status"]
