# syntax=docker/dockerfile:1
# bucketlens worker: `python -m job run` as an AWS Batch array child.
ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY job ./job
COPY lambda_submitter ./lambda_submitter
# Wheels for the pinned set and for bucketlens itself; nothing of this stage reaches the final image.
RUN pip wheel --no-cache-dir --wheel-dir /wheels --requirement requirements.lock \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:${PYTHON_VERSION}-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AWS_RETRY_MODE=adaptive
COPY --from=build /wheels /wheels
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-index --find-links /wheels --requirement /tmp/requirements.lock \
    && pip install --no-index --no-deps /wheels/bucketlens-*.whl \
    && rm -rf /wheels /tmp/requirements.lock \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin bucketlens
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["python", "-m", "job"]
CMD ["run"]
