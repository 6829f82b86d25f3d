"""A moto Batch job queue (unmanaged compute environment) for tests that submit or describe jobs."""

from __future__ import annotations

from job.core import clients


def job_queue(queue: str, name: str = "test") -> str:
    """The queue `queue` on an unmanaged compute environment named after `name`; returns the queue's ARN."""
    role = clients.client("iam").create_role(RoleName=f"{name}-batch", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    batch = clients.client("batch")
    environment = batch.create_compute_environment(
        computeEnvironmentName=f"{name}-ce", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    return batch.create_job_queue(
        jobQueueName=queue,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
