"""The submitter zip package.py builds (what Terraform deploys): AWS's size limits, the wheels' machine,
reproducibility, and the handler's fast path run from the unpacked zip alone against moto."""

from __future__ import annotations

import json
import platform
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from job.commands import provision
from job.core import clients
from tests.job.worker_helpers import image_bytes
from tests.terraform.tf_helpers import REPO, TERRAFORM_DIR

SCRIPT = TERRAFORM_DIR / "modules" / "submitter" / "package.py"
REQUIREMENTS = REPO / "lambda_submitter" / "requirements.txt"
# the zip with the user's models on the fast path (labeler onnx or clip, or embedding_model)
MODELS_REQUIREMENTS = REPO / "lambda_submitter" / "requirements-models.txt"
# AWS Lambda quotas: a zip uploaded directly is at most 50 MB, and unzipped code at most 250 MB
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64
HOST = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _files() -> str:
    """The files the submitter module zips (terraform/modules/submitter/main.tf, local.package_files)."""
    paths = [*REPO.glob("lambda_submitter/*.py"), REPO / "job" / "__init__.py"]
    for folder in ("core", "exif", "worker"):
        paths += (REPO / "job" / folder).glob("*.py")
    return ",".join(sorted(str(p.relative_to(REPO)) for p in paths))


def _build(out: Path, architecture: str, requirements: Path = REQUIREMENTS) -> Path:
    command = [sys.executable, str(SCRIPT), "--root", str(REPO), "--out", str(out)]
    command += ["--requirements", str(requirements), "--python-version", PYTHON]
    command += ["--architecture", architecture, _files()]
    subprocess.run(command, check=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def arm64_zips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("arm64")
    return _build(where / "a.zip", "arm64"), _build(where / "b.zip", "arm64")


def _elf_machine(data: bytes) -> int | None:
    return struct.unpack_from("<H", data, 18)[0] if data[:4] == b"\x7fELF" else None


def test_the_default_zip_is_reproducible_within_lambdas_limits_and_built_for_arm64(arm64_zips) -> None:
    # given the zip built twice for arm64 (the default architecture) with the locked wheels
    first, second = arm64_zips
    # then both builds are byte-identical
    assert first.read_bytes() == second.read_bytes()
    archive = zipfile.ZipFile(first)
    # and the zip is within AWS Lambda's size quotas, zipped and unzipped
    assert first.stat().st_size <= MAX_ZIPPED
    assert sum(i.file_size for i in archive.infolist()) <= MAX_UNZIPPED
    # and every native library in it is an aarch64 ELF: Pillow and pillow-heif's, not this machine's
    native = [n for n in archive.namelist() if ".so" in n.rsplit("/", 1)[-1]]
    assert any(n.startswith("PIL/") for n in native) and any(n.startswith("pillow_heif") for n in native)
    assert {
        n: _elf_machine(archive.read(n))
        for n in native
        if _elf_machine(archive.read(n)) != ELF_MACHINE["arm64"]
    } == {}


def test_a_wheel_that_does_not_match_its_locked_hash_is_refused(tmp_path: Path) -> None:
    # given a lock whose hash for backoff is not the hash of any file PyPI has for it
    (tmp_path / "requirements.txt").write_text(f"backoff==2.2.1 --hash=sha256:{'0' * 64}\n")
    # when the zip is built from it
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(REPO), "--out", str(tmp_path / "z.zip")]
        + ["--requirements", str(tmp_path / "requirements.txt"), "--python-version", PYTHON]
        + ["--architecture", HOST, "job/__init__.py"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # then pip refuses the download, the build fails saying so, and no zip is written
    assert done.returncode != 0 and "hash" in done.stderr.lower()
    assert not (tmp_path / "z.zip").exists()


class _Event:
    """tests/events/sqs_object_created.json with its first record's object as really uploaded."""

    @staticmethod
    def build(s3, bucket: str) -> dict:
        event = json.loads((REPO / "tests" / "events" / "sqs_object_created.json").read_text())
        record = event["Records"][0]
        body = json.loads(record["body"])
        notification = body["Records"][0]
        notification["s3"]["bucket"]["name"] = bucket
        key = unquote_plus(notification["s3"]["object"]["key"])
        data = image_bytes("JPEG")
        etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
        notification["s3"]["object"].update(eTag=etag, size=len(data))
        record["body"] = json.dumps(body)
        return {"Records": [record]}


def test_the_models_zip_is_within_lambdas_unzipped_limit_and_deployed_from_s3(tmp_path: Path) -> None:
    # given the zip with onnxruntime built for arm64 (the default architecture)
    built = _build(tmp_path / "models.zip", "arm64", MODELS_REQUIREMENTS)
    archive = zipfile.ZipFile(built)
    # then unzipped it is within Lambda's 250 MB, and onnxruntime's native library is an aarch64 ELF
    assert sum(i.file_size for i in archive.infolist()) <= MAX_UNZIPPED
    runtime = [
        n for n in archive.namelist() if n.startswith("onnxruntime/") and ".so" in n.rsplit("/", 1)[-1]
    ]
    assert runtime and all(_elf_machine(archive.read(n)) == ELF_MACHINE["arm64"] for n in runtime)
    # and above the 50 MB of a direct upload, it reaches the function through S3, where that limit does not
    # apply (the function's s3_bucket and s3_key, not its filename)
    module = (TERRAFORM_DIR / "modules" / "submitter" / "main.tf").read_text()
    assert "s3_key            = aws_s3_object.package.key" in module and "filename" not in module


def test_the_handler_runs_your_model_from_the_unpacked_models_zip(moto_server: str, tmp_path: Path) -> None:
    # given the models zip for this machine unpacked as Lambda does, the onnx labeler's colour model in S3
    from tests.onnx_models import COLOURS, red_blue

    task = tmp_path / "task"
    zipfile.ZipFile(_build(tmp_path / "z.zip", HOST, MODELS_REQUIREMENTS)).extractall(task)
    s3, ddb = clients.client("s3"), clients.client("dynamodb")
    provision.setup(ddb, s3, "bl-results", ["bl-images", "bl-manifests"], "us-east-1")
    s3.put_object(Bucket="bl-manifests", Key="models/colours.onnx", Body=red_blue())
    s3.put_object(Bucket="bl-manifests", Key="models/colours.txt", Body="\n".join(COLOURS).encode())
    event = _Event.build(s3, "bl-images")
    env = {
        **_environment(moto_server),
        "BUCKETLENS_LABELER": "onnx",
        "BUCKETLENS_MODEL_URI": "s3://bl-manifests/models/colours.onnx",
        "BUCKETLENS_MODEL_LABELS_URI": "s3://bl-manifests/models/colours.txt",
    }
    # when the handler runs on an SQS batch in a Python without site-packages
    done = _handle(event, env, task)
    # then the upload is labelled by the model in the Lambda (red), with no job and no manifest
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    (item,) = ddb.scan(TableName="bl-results")["Items"]
    assert item["status"]["S"] == "done" and item["labels"]["L"][0]["M"]["name"]["S"] == "red"
    assert item["features"]["S"].startswith("labels@onnx:")
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket="bl-manifests").get("Contents", [])]
    assert sorted(stored) == ["models/colours.onnx", "models/colours.txt"]


def _environment(moto_server: str) -> dict[str, str]:
    """What Terraform gives the function, pointed at the emulator."""
    return {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_server,
        "BUCKETLENS_JOB_QUEUE": "bl-queue",
        "BUCKETLENS_JOB_DEFINITION": "bl-worker",
        "BUCKETLENS_MANIFESTS_BUCKET": "bl-manifests",
        "BUCKETLENS_TABLE": "bl-results",
        "BUCKETLENS_TPS_QUOTA": "50",
    }


def _handle(event: dict, env: dict[str, str], task: Path) -> subprocess.CompletedProcess:
    """The handler on one SQS batch, from the unpacked zip alone (no site-packages)."""
    probe = """
import json, sys
from lambda_submitter import handler
class Context:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    def get_remaining_time_in_millis(self):
        return 300_000
print(json.dumps(handler.handler(json.loads(sys.stdin.read()), Context())))
"""
    return subprocess.run(
        [sys.executable, "-S", "-c", probe],
        input=json.dumps(event),
        env={**env, "PYTHONPATH": str(task)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_handler_labels_an_upload_from_the_unpacked_zip_alone(moto_server: str, tmp_path: Path) -> None:
    # given the zip for this machine unpacked as Lambda does, the tables `job setup` makes, an upload
    task = tmp_path / "task"
    zipfile.ZipFile(_build(tmp_path / "z.zip", HOST)).extractall(task)
    s3, ddb = clients.client("s3"), clients.client("dynamodb")
    provision.setup(ddb, s3, "bl-results", ["bl-images", "bl-manifests"], "us-east-1")
    event = _Event.build(s3, "bl-images")
    # when the handler runs on an SQS batch in a Python without site-packages
    done = _handle(event, _environment(moto_server), task)
    # then the message is acknowledged and the image is labelled, with no job and no manifest
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    (item,) = ddb.scan(TableName="bl-results")["Items"]
    assert item["status"]["S"] == "done" and item["labels"]["L"]
    assert "Contents" not in s3.list_objects_v2(Bucket="bl-manifests")
