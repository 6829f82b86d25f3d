"""One image through the pipeline: skip check, EXIF by ranged GETs, Rekognition, conditional write.

A Batch child (job.worker.run) and the Lambda's fast path (job.worker.immediate) both drive this Worker.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import backoff
from botocore.exceptions import BotoCoreError, ClientError

from job import exif
from job.core import clients, model_status, previews, quota, store, vectors
from job.core.manifest import ObjectRef
from job.core.ordering import iso_time
from job.core.summary import Stats
from job.worker import convert, labels, preview, s3, sinks
from job.worker.config import RunConfig
from job.worker.ratelimit import limiter

if TYPE_CHECKING:  # numpy and onnxruntime load only with the onnx labeler: the Lambda's zip has neither
    from job.worker.onnx_labels import Batcher

log = logging.getLogger(__name__)

UNKNOWN = object()  # "stored state not read yet"
CONFIG_CODES = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
)
RETRY_TRIES = 5
RETRY_MAX_WAIT = 20.0


@dataclass(frozen=True)
class Backends:
    """The AWS clients the worker uses; tests and the benchmark pass their own."""

    s3: Any
    ddb: Any
    rekognition: Any
    vectors: Any = None  # S3 Vectors: made by Worker.open only with an embedding model

    @classmethod
    def default(cls, pool: int) -> Backends:
        return cls(
            s3=clients.client("s3", pool=pool),
            ddb=clients.client("dynamodb", pool=pool),
            # one attempt per botocore call: labels._call retries through the rate limiter instead
            rekognition=clients.client("rekognition", pool=pool, max_attempts=0),
        )


@dataclass(frozen=True)
class Patience:
    """How long one image waits out failures: a Batch child retries; the Lambda's fast path hands a
    throttled image back to its queue at once instead of paying for Lambda time spent waiting."""

    tries: int = RETRY_TRIES  # attempts of the whole image
    call_attempts: int = labels.CALL_ATTEMPTS  # attempts of each Rekognition call, through the limiter
    max_wait: float = RETRY_MAX_WAIT  # longest backoff between two attempts of the image


DEFAULT_PATIENCE = Patience()


class Fatal(Exception):
    """A failure that ends the whole run (missing table, no permission): retrying cannot help."""


is_transient = labels.is_transient


def _refused_for_this_object(exc: ClientError) -> bool:
    """S3 or Rekognition denying one object (a KMS key, an object ACL) is that image's recorded error;
    the rest of the shard goes on, and a rerun after the fix tries it again (store.RETRY_ON_RERUN)."""
    return labels.error_code(exc) in store.RETRY_ON_RERUN and getattr(exc, "operation_name", "") in (
        "GetObject",
        "HeadObject",
        "DetectLabels",
        "DetectText",
        "DetectCustomLabels",
    )


def _extension(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _normalized(ref: ObjectRef) -> ObjectRef:
    return replace(
        ref,
        etag=s3.strip_etag(ref.etag),
        last_modified=iso_time(ref.last_modified) if ref.last_modified else None,
        version_id=ref.version_id if ref.version_id not in ("", None) else None,
    )


class Worker:
    """Per-image pipeline: skip check, EXIF by ranged GETs, Rekognition, conditional write."""

    def __init__(
        self,
        config: RunConfig,
        backends: Backends,
        stats: Stats,
        stop: threading.Event,
        patience: Patience | None = None,
    ) -> None:
        self.config = config
        self.patience = patience or DEFAULT_PATIENCE
        self.b = backends
        self.stats = stats
        self.stop = stop
        self.features = config.labels_features
        self._limiters = {
            op: self._limiter(op) for op in ("DetectLabels", "DetectText", "DetectCustomLabels")
        }
        self._hook_id = f"bucketlens-throttles-{id(self)}"
        self._converting = threading.BoundedSemaphore(convert.conversion_slots())
        # results paid for but not stored (the table failed past the retry budget), kept for the rerun
        self.unwritten: list[dict] = []
        self._unwritten_lock = threading.Lock()
        self.store_down = threading.Event()
        self.model_down = threading.Event()  # the Custom Labels model stopped: the retry waits for it
        self.sinks = sinks.build(backends.ddb, config.labels_table, config.opensearch)
        self.previews_bucket = previews.location(config.results_uri)
        self._model_checked = False
        self._model_lock = threading.Lock()
        self.classifier: Batcher | None = None  # the onnx labeler, once `open` has loaded it
        self.encoders: Any = None  # the embedding model, once `open` has loaded it
        self.embedder: Any = None  # its image batches (embeddings.ImageBatcher)
        self.prompt_set: Any = None  # labeler clip: the prompts, embedded (prompts.PromptSet)
        self.vector_index: str | None = None

    def open(self, providers: list[str] | None = None) -> None:
        """Load the onnx labeler's model and the embedding model (once per child): their digests join the
        feature key, so the skip check knows whether these models already did an object. Raises ConfigError."""
        if self.config.labeler == "onnx" and self.classifier is None:
            from job.worker import model_source, onnx_labels

            self.classifier = model_source.open_model(self.b.s3, self.config, providers)
            self.features = onnx_labels.feature_key(self.config.feature_key, self.classifier.model)
        if self.config.embeds and self.encoders is None:
            from job.worker import embeddings, model_source

            cfg = self.config
            assert cfg.embed_image_uri and cfg.embed_text_uri and cfg.embed_tokenizer_uri
            if cfg.labeler == "clip":  # an empty or broken prompt list stops the run before the model loads
                assert cfg.prompts_uri
                listed = model_source.read_prompts(self.b.s3, cfg.prompts_uri)
            self.encoders = model_source.open_embeddings(
                self.b.s3,
                cfg.embed_image_uri,
                cfg.embed_text_uri,
                cfg.embed_tokenizer_uri,
                cfg.embed_settings,
                providers,
            )
            if cfg.labeler == "clip":
                from job.worker import prompts

                self.prompt_set = prompts.compile_set(self.encoders, listed)
                log.info("prompts loaded", extra={"prompts": len(listed), "source": self.prompt_set.source})
            self.embedder = embeddings.ImageBatcher(self.encoders, cfg.embed_settings)
            self.vector_index = vectors.index_name(self.encoders.digest)
            if self.b.vectors is None:
                self.b = replace(self.b, vectors=clients.client("s3vectors"))
            assert self.config.vector_bucket
            vectors.ensure_index(
                self.b.vectors,
                self.config.vector_bucket,
                self.vector_index,
                self.encoders.dimension,
                self.config.vector_kms_key_arn,
            )
            self.features = embeddings.feature_key(self.features, self.encoders)
            from job.core import opensearch
            from job.worker.opensearch_sink import OpenSearchSink

            for sink in self.sinks:
                if isinstance(sink, OpenSearchSink):  # the vectors go to its k-NN index as well
                    sink.use_vectors(opensearch.vector_field(self.encoders.digest), self.encoders.dimension)

    def close(self) -> None:
        for batcher in (self.classifier, self.embedder):
            if batcher is not None:
                batcher.close()

    def _limiter(self, operation: str) -> Any:
        """The shared quota when one is configured (--tps-quota), else the optional per-child cap."""
        cfg = self.config
        if not cfg.tps_quota:
            return limiter(cfg.max_tps)
        user = f"{cfg.job_id}:{cfg.index}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        return quota.SharedRate(
            self.b.ddb,
            cfg.limiters_table,
            f"rekognition:{operation}",
            user,
            cfg.tps_quota,
            cap=cfg.max_tps,
            expected=cfg.shards,  # the job's children, which start together (the submitter passes it)
        )

    def _acquire(self, operation: str) -> float:
        """The limiter's permission for one call, its wait counted (LimiterWaits)."""
        waited = self._limiters[operation].acquire()
        self.stats.waited(waited)
        return waited

    def leave_quota(self) -> None:
        """Give the shared quota back at the end of the run, and count the limiter's own DynamoDB calls
        (`dynamodb.limiter`, which the cost table prices)."""
        calls = 0
        for shared in self._limiters.values():
            if isinstance(shared, quota.SharedRate):
                if shared.limiter_calls:
                    shared.leave()
                calls += shared.limiter_calls
        if calls:
            self.stats.call("dynamodb.limiter", calls)

    # --- throttle accounting through botocore's retry hook ------------------------------------------
    def attach(self) -> None:
        for client in (self.b.s3, self.b.ddb, self.b.rekognition):
            events = getattr(getattr(client, "meta", None), "events", None)
            if events is not None:
                events.register("needs-retry", self._on_retry, unique_id=self._hook_id)

    def detach(self) -> None:
        for client in (self.b.s3, self.b.ddb, self.b.rekognition):
            events = getattr(getattr(client, "meta", None), "events", None)
            if events is not None:
                events.unregister("needs-retry", self._on_retry, unique_id=self._hook_id)

    def _on_retry(self, response: Any = None, operation: Any = None, **_: Any) -> None:
        if response and isinstance(response, tuple) and len(response) == 2:
            code = (response[1] or {}).get("Error", {}).get("Code", "")
            if code in labels.THROTTLE_CODES:
                name = getattr(operation, "name", "?")
                self.stats.throttled(name)
                shared = self._limiters.get(name)
                if isinstance(shared, quota.SharedRate):
                    shared.throttled()  # AIMD: the shared quota's user backs off
        return None

    # --- one image ----------------------------------------------------------------------------------
    def handle(self, ref: ObjectRef, state: Any = UNKNOWN) -> str:
        """Process with retries (`_handle`), timing the images that end done or as a recorded error."""
        started = time.monotonic()
        outcome = self._handle(ref, state)
        if outcome == "done" or outcome.startswith("error"):
            self.stats.latency(time.monotonic() - started)
        return outcome

    def _handle(self, ref: ObjectRef, state: Any = UNKNOWN) -> str:
        """Process with retries; returns the outcome counter name. Raises Fatal.

        `state` is the stored item prefetched by a batch read; retries read it afresh. Rekognition
        answers are kept across the retries (`memo`), so a retry after a failed write or a failed later
        call never pays for the same call twice.
        """
        first = [state]
        memo: dict[Any, Any] = {}

        def once(ref: ObjectRef) -> str:
            known, first[0] = first[0], UNKNOWN
            return self.process(ref, known, memo)

        def giveup(exc: BaseException) -> bool:
            return self.stop.is_set() or not is_transient(exc)

        attempt = backoff.on_exception(
            backoff.expo,
            (ClientError, BotoCoreError),
            max_tries=self.patience.tries,
            max_value=self.patience.max_wait,
            jitter=backoff.full_jitter,
            giveup=giveup,
            logger=None,
        )(once)
        try:
            return attempt(ref)
        except labels.ModelNotRunning as exc:
            if not self.model_down.is_set():
                log.error(
                    "custom labels model not running: no new images are started", extra={"error": str(exc)}
                )
            self.model_down.set()
            return "transient"
        except (ClientError, BotoCoreError) as exc:
            code = labels.error_code(exc)
            if code in CONFIG_CODES and not _refused_for_this_object(exc):
                raise Fatal(f"{code}: {exc}") from exc
            if code and not is_transient(exc) and self._record_failure(ref, code, str(exc)):
                return f"error:{code}"  # e.g. InvalidObjectState (archived object): no retry can help
            if memo.get("item") is not None:
                self._keep_unwritten(memo["item"])
            log.warning(
                "image left for a retry",
                extra={"bucket": ref.bucket, "key": ref.key, "error": f"{type(exc).__name__}: {exc}"},
            )
            return "transient"

    def _keep_unwritten(self, item: dict) -> None:
        """The table is failing past the retry budget: keep the paid-for result and stop taking images."""
        with self._unwritten_lock:
            self.unwritten.append(item)
        if not self.store_down.is_set():
            log.error("results table failing: no new images are started; the retry stores what was paid for")
        self.store_down.set()

    def _record_failure(self, ref: ObjectRef, code: str, message: str) -> bool:
        """Record a per-object AWS refusal as the image's terminal error; False if even that fails."""
        ref = _normalized(ref)
        item = store.build_error(ref, self.features, ref.last_modified or store.now_iso(), code, message)
        try:
            store.put_result(self.b.ddb, self.config.table, item)
        except (ClientError, BotoCoreError):
            return False
        return True

    def wants(self, ref: ObjectRef) -> bool:
        """Only image extensions are work; the content check comes with the first read."""
        return _extension(ref.key) in self.config.extensions

    def process(self, ref: ObjectRef, stored: Any = UNKNOWN, memo: dict | None = None) -> str:
        memo = {} if memo is None else memo
        if (self.config.labeler == "onnx" and self.classifier is None) or (
            self.config.embeds and self.embedder is None
        ):
            raise Fatal("the onnx models are not loaded: Worker.open() comes first")
        ref = _normalized(ref)
        if not self.wants(ref):
            return "skipped_not_image"
        if stored is UNKNOWN:
            stored = store.get_state(self.b.ddb, self.config.table, ref.bucket, ref.key)
            self.stats.call("dynamodb.GetItem")
        reason = store.skip_reason(stored, ref, self.features)
        if reason == "already-done" and store.order_moved(stored, ref):
            store.advance_order(self.b.ddb, self.config.table, ref, ref.last_modified)
            self.stats.call("dynamodb.UpdateItem")
        if reason:
            return "skipped_done" if reason == "already-done" else "skipped_stale"

        reader = s3.RangeReader(self.b.s3, ref)
        try:
            record = exif.extract(reader, size=ref.size)
        except s3.ObjectChanged:
            return "skipped_changed"
        except s3.ObjectGone:
            return "skipped_gone"
        finally:
            self.stats.call("s3.GetObject", reader.calls)
            self.stats.read_bytes(reader.bytes_read)
        facts = reader.facts
        ref = replace(
            ref,
            etag=ref.etag or facts.etag,
            size=ref.size if ref.size is not None else facts.size,
            last_modified=ref.last_modified or facts.last_modified,
            version_id=ref.version_id or facts.version_id,
        )
        if ref.last_modified is None or ref.etag is None:  # an empty object: no GET told us
            try:
                head = s3.head(self.b.s3, ref)
            except s3.ObjectGone:
                return "skipped_gone"
            self.stats.call("s3.HeadObject")
            ref = replace(
                ref,
                etag=ref.etag or head.etag,
                last_modified=ref.last_modified or head.last_modified,
                size=ref.size if ref.size is not None else head.size,
            )
        late_reason = store.skip_reason(stored, ref, self.features) if stored is not None else None
        if late_reason:  # the listing lacked the ETag or time; the first GET told us
            return "skipped_done" if late_reason == "already-done" else "skipped_stale"
        order_time = ref.last_modified or store.now_iso()
        item = self._result(ref, record, order_time, memo)
        if item is None:
            return "skipped_changed"
        if item["status"] == "done":
            self._keep_preview(ref, record, item)
            if self.encoders is not None and not self._embed(ref, item, memo):
                return "skipped_changed"
        memo["item"] = item
        written = store.put_result(self.b.ddb, self.config.table, item)
        memo["item"] = None
        self.stats.call("dynamodb.PutItem")
        if not written:
            return "skipped_duplicate"
        vector = memo.get(("embed", ref.etag, ref.version_id)) if self.encoders is not None else None
        for sink in self.sinks:
            sink.add(item, None, vector)
        if item["status"] == "error":
            return "error:" + str(item.get("error_class"))
        return "done"

    def _embed(self, ref: ObjectRef, item: dict, memo: dict) -> bool:
        """The image's vector, stored before its result names the model, so a `done` result means the vector
        is there; one inference per object version, however often it is retried. An image that labelled but
        does not decode here keeps its labels and gets no vector (logged): a retry would fail the same way.
        False when the object changed or went since it was labelled: its next event does it again."""
        key = ("embed", ref.etag, ref.version_id)
        if key not in memo:
            try:
                self._vector(ref, memo)
            except (convert.BadImage, s3.TooLarge) as exc:
                log.warning("no vector: the image does not decode", extra={"key": ref.key, "error": str(exc)})
                memo[key] = None
                return True
            except (s3.ObjectChanged, s3.ObjectGone):
                return False
        if memo[key] is None:
            return True
        record = vectors.VectorRecord(
            vectors.vector_key(ref.bucket, ref.key), memo[key], vectors.metadata_for(item)
        )
        assert self.config.vector_bucket and self.vector_index
        vectors.put(self.b.vectors, self.config.vector_bucket, self.vector_index, [record])
        self.stats.call("s3vectors.PutVectors")
        return True

    def _keep_preview(self, ref: ObjectRef, record: exif.ExifRecord, item: dict) -> None:
        """The camera's EXIF preview, upright, beside the results (before the item that names it); a
        failure costs the preview only, never the image."""
        if self.previews_bucket is None or record.thumbnail is None:
            return
        key = previews.name(ref.bucket, ref.key, ref.etag)
        try:
            body = preview.upright_thumbnail(record.thumbnail, record.orientation)
            self.stats.call("s3.PutObject")
            self.b.s3.put_object(Bucket=self.previews_bucket, Key=key, Body=body, ContentType="image/jpeg")
        except (preview.NoPreview, ClientError, BotoCoreError) as exc:
            log.warning("preview not kept", extra={"key": ref.key, "error": f"{type(exc).__name__}: {exc}"})
            return
        item["thumbnail"] = f"s3://{self.previews_bucket}/{key}"

    def _result(self, ref: ObjectRef, record: exif.ExifRecord, order_time: str, memo: dict) -> dict | None:
        exif_map = record.to_dict()
        if record.format is None:
            error_class = "EmptyFile" if record.error == "empty file" else "UnsupportedFormat"
            return store.build_error(
                ref, self.features, order_time, error_class, record.error or "not an image", exif_map
            )
        if record.format not in convert.CONVERTIBLE:
            return store.build_error(
                ref, self.features, order_time, "UnsupportedFormat", f"format {record.format}", exif_map
            )
        try:
            if self.classifier is not None:
                return self._classify(ref, self.classifier, exif_map, order_time, memo)
            if self.prompt_set is not None:
                return self._prompt_labels(ref, exif_map, order_time, memo)
            image, route = self._image(ref, record)
            return self._detect(ref, image, route, exif_map, order_time, memo)
        except labels.ImageRejected as exc:
            return store.build_error(ref, self.features, order_time, exc.code, str(exc), exif_map)
        except convert.BadImage as exc:
            return store.build_error(ref, self.features, order_time, "BadImage", str(exc), exif_map)
        except s3.TooLarge as exc:
            return store.build_error(ref, self.features, order_time, "TooLarge", str(exc), exif_map)
        except (s3.ObjectChanged, s3.ObjectGone):
            return None

    def _image(self, ref: ObjectRef, record: exif.ExifRecord) -> tuple[dict, str]:
        route = convert.choose(record.format, ref.size, record.width, record.height)
        if route.kind == "s3":
            self.stats.route("s3")
            return labels.s3_image(ref.bucket, ref.key, ref.version_id), "s3"
        with self._converting:  # a decoded photo is hundreds of MB: as many at once as CPUs and memory allow
            data = s3.get_bytes(self.b.s3, ref, convert.MAX_DOWNLOAD)
            self.stats.call("s3.GetObject")
            self.stats.read_bytes(len(data))
            limit = convert.MAX_CUSTOM_BYTES if "custom-labels" in self.config.features else convert.MAX_BYTES
            jpeg = convert.to_jpeg(data, max_bytes=limit)
            del data
        self.stats.route("bytes")
        return {"Bytes": jpeg}, "bytes"

    def _classify(
        self, ref: ObjectRef, classifier: Batcher, exif_map: dict, order_time: str, memo: dict
    ) -> dict:
        """The onnx labeler: the whole object, decoded and resized here while the batcher's thread runs
        the model on earlier images; one inference per object version, however often it is retried."""
        key = ("onnx", ref.etag, ref.version_id)
        if key not in memo:
            memo[key] = classifier.labels(self._pixels(ref, memo, classifier.settings))
            self.stats.call("onnx.Classify")
        return store.build_result(
            ref,
            self.features,
            order_time,
            exif_map,
            labels=[label.to_dict() for label in memo[key]],
            label_model_version=classifier.model.source,
            route="onnx",
        )

    def _prompt_labels(self, ref: ObjectRef, exif_map: dict, order_time: str, memo: dict) -> dict:
        """The clip labeler: the image's vector against the prompts, no Rekognition call; the vector is the
        one `_embed` then stores."""
        from job.worker import prompts

        (found,) = prompts.labels_for(self.prompt_set, [self._vector(ref, memo)])
        return store.build_result(
            ref,
            self.features,
            order_time,
            exif_map,
            labels=[label.to_dict() for label in found],
            label_model_version=self.prompt_set.source,
            route="clip",
        )

    def _vector(self, ref: ObjectRef, memo: dict) -> tuple[float, ...]:
        """The image's unit vector, in a batch with other threads' images; one inference per object version,
        however often it is retried. Raises convert.BadImage, s3.TooLarge, s3.ObjectChanged, s3.ObjectGone."""
        key = ("embed", ref.etag, ref.version_id)
        if memo.get(key) is None:
            row = self.embedder.vector(self._pixels(ref, memo, self.embedder.settings))
            self.stats.call("onnx.Embed")
            memo[key] = tuple(float(x) for x in row)
        return memo[key]

    def _pixels(self, ref: ObjectRef, memo: dict, settings: Any) -> Any:
        """The whole object, decoded and resized as the model of `settings` takes it: the labeler and the
        embedding model share one read and one decode per object version, each prepared its own way."""
        from job.worker import onnx_labels

        key = ("pixels", ref.etag, ref.version_id)
        if key not in memo:
            wanted = [b.settings for b in (self.classifier, self.embedder) if b is not None]
            with self._converting:  # decoded photos are large: as many at once as CPUs and memory allow
                data = s3.get_bytes(self.b.s3, ref, convert.MAX_DOWNLOAD)
                self.stats.call("s3.GetObject")
                self.stats.read_bytes(len(data))
                memo[key] = dict(zip(wanted, onnx_labels.prepare(data, *wanted), strict=True))
                del data
        return memo[key][settings]

    def _require_model(self, arn: str) -> None:
        """Once per run, before the first Custom Labels call: a stopped model ends the run with no spend."""
        with self._model_lock:
            if not self._model_checked:
                try:
                    state = model_status.status(self.b.rekognition, arn)
                except LookupError as exc:
                    raise Fatal(str(exc)) from exc
                if state != model_status.RUNNING:
                    raise labels.ModelNotRunning(f"model status {state}")
                self._model_checked = True

    def _detect(
        self, ref: ObjectRef, image: dict, route: str, exif_map: dict, order_time: str, memo: dict
    ) -> dict:
        cfg = self.config
        rk = self.b.rekognition

        def once(operation: str, call: Any) -> Any:
            """Each Rekognition call at most once per object version, however often the image is retried."""
            key = (operation, ref.etag, ref.version_id)
            if key not in memo:
                memo[key] = call()
                self.stats.call(f"rekognition.{operation}")
            return memo[key]

        found: tuple[labels.Label, ...] = ()
        model_version = None
        text = custom = None
        if "custom-labels" in cfg.features:  # first: a stopped model must not leave other calls paid twice
            assert cfg.project_version_arn
            arn = cfg.project_version_arn
            self._require_model(arn)
            confidence = (
                cfg.min_confidence if cfg.custom_min_confidence is None else cfg.custom_min_confidence
            )
            customs = once(
                "DetectCustomLabels",
                lambda: labels.detect_custom_labels(
                    rk,
                    arn,
                    image,
                    confidence,
                    cfg.max_labels,
                    functools.partial(self._acquire, "DetectCustomLabels"),
                    self.patience.call_attempts,
                ),
            )
            custom = [c.to_dict() for c in customs]
        if "labels" in cfg.features:
            result = once(
                "DetectLabels",
                lambda: labels.detect_labels(
                    rk,
                    image,
                    cfg.min_confidence,
                    cfg.max_labels,
                    functools.partial(self._acquire, "DetectLabels"),
                    self.patience.call_attempts,
                ),
            )
            found, model_version = result.labels, result.model_version
        if "text" in cfg.features:
            wanted = cfg.text_if is None or labels.labels_match(
                found, cfg.text_if.label, cfg.text_if.confidence
            )
            if wanted:
                lines = once(
                    "DetectText",
                    lambda: labels.detect_text(
                        rk,
                        image,
                        cfg.min_confidence,
                        functools.partial(self._acquire, "DetectText"),
                        self.patience.call_attempts,
                    ),
                )
                text = [line.to_dict() for line in lines]
        return store.build_result(
            ref,
            self.features,
            order_time,
            exif_map,
            labels=[label.to_dict() for label in found],
            text=text,
            custom_labels=custom,
            label_model_version=model_version,
            route=route,
        )
