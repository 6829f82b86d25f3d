# syntax=docker/dockerfile:1
# bucketlens worker: `python -m job run` as an AWS Batch array child.
ARG PYTHON_VERSION=3.13
# The base image; a release pins it by digest: make build passes the one in base-image.digest (docs/development.md).
ARG PYTHON_IMAGE=python:${PYTHON_VERSION}-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements-build.lock pyproject.toml README.md ./
COPY job ./job
COPY lambda_submitter ./lambda_submitter
# bucketlens' own wheel, built by the hash-checked setuptools; nothing else of this stage reaches the image.
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: --requirement requirements-build.lock \
    && pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# What both variants share: the settings and the unprivileged user; each installs its own lock as root.
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AWS_RETRY_MODE=adaptive
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin bucketlens
WORKDIR /tmp
ENTRYPOINT ["python", "-m", "job"]
CMD ["run"]

# `--target gpu` (make build GPU=1): onnxruntime-gpu with CUDA and cuDNN from their wheels, for the
# onnx labeler on g4dn/g5 instances; the host's driver comes from the ECS GPU-optimised AMI. x86_64 only.
FROM runtime AS gpu
COPY --from=build /wheels /wheels
COPY requirements-gpu.lock /tmp/requirements.lock
RUN pip install --require-hashes --only-binary=:all: --no-deps --requirement /tmp/requirements.lock \
    && pip install --no-index --no-deps /wheels/bucketlens-*.whl \
    && rm -rf /wheels /tmp/requirements.lock
USER 10001:10001

# The default target, last: the CPU image (Rekognition, or the onnx labeler on CPUs).
FROM runtime AS cpu
COPY --from=build /wheels /wheels
COPY requirements.lock /tmp/requirements.lock
# Every dependency as a prebuilt wheel whose hash requirements.lock names: nothing is compiled or unverified.
RUN pip install --require-hashes --only-binary=:all: --no-deps --requirement /tmp/requirements.lock \
    && pip install --no-index --no-deps /wheels/bucketlens-*.whl \
    && rm -rf /wheels /tmp/requirements.lock
USER 10001:10001
