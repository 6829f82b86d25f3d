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

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AWS_RETRY_MODE=adaptive
COPY --from=build /wheels /wheels
COPY requirements.lock /tmp/requirements.lock
# Every dependency as a prebuilt wheel whose hash requirements.lock names: nothing is compiled or unverified.
RUN pip install --require-hashes --only-binary=:all: --no-deps --requirement /tmp/requirements.lock \
    && pip install --no-index --no-deps /wheels/bucketlens-*.whl \
    && rm -rf /wheels /tmp/requirements.lock \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin bucketlens
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["python", "-m", "job"]
CMD ["run"]
