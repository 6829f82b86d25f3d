"""`make demo`: the whole pipeline on one machine against an emulated AWS, so a newcomer sees it work
without an account: resources, sample images, the submitter's backfill, the Batch array children as
local processes, the S3 event path through SQS and the Lambda handler, then a report."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from job.commands import report, report_html
from job.commands.export import row as export_row
from job.commands.export import scan
from job.core import clients, inventory, logs, previews, store
from job.core.errors import EXIT_OK
from job.demo import emulator
from job.exif import files

log = logging.getLogger(__name__)

EXIT_FAILED = 1
CANNED_NOTE = (
    "Labels come from the emulator's canned Rekognition answers (moto returns the same labels for every "
    "image); EXIF, errors, ordering and idempotency are bucketlens' own work."
)
MEANING_NOTE = (
    "The embedding model is a tiny one built for the demo: it knows only colours (red, green, blue), not "
    "what a photo shows. A real CLIP model finds 'a red car at night' (docs/meaning.md)."
)
DEMO_PROMPTS = [  # labels from prompts, the demo's colours (docs/meaning.md#the-prompt-list)
    {"name": colour.title(), "prompt": f"a {colour} photo", "threshold": 0.5}
    for colour in ("red", "green", "blue")
]
CHILD_TIMEOUT_S = 300
EVENT_UPLOADS = 10  # uploads timed one by one through the event path: enough for a p50 and a p95
SKIPPED_SHOWN = 10  # non-images named on the console; the report lists them all


@dataclass(frozen=True)
class Options:
    """What to run: which images, where to write, how resources are made, how many children at once."""

    out_dir: Path = Path("demo-output")
    images_dir: Path | None = None
    images: Mapping[str, bytes] | None = None  # key -> bytes; default: job.samples.make_samples()
    resources: str = "auto"  # auto | terraform | setup
    parallel: int = 2
    settings: emulator.Settings = emulator.Settings()


@dataclass(frozen=True)
class Child:
    """One array child as Batch would start it: the container command and environment."""

    job_id: str
    index: int | None
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]


@dataclass
class Outcome:
    """What happened, for the exit code and for the end-to-end test."""

    exit_code: int = EXIT_OK
    endpoint: str = ""
    resources: str = ""
    failures: list[str] = field(default_factory=list)
    child_pids: list[int] = field(default_factory=list)
    child_exit_codes: list[int] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    uploaded_later: str = ""
    deleted: str = ""
    backfill_keys: list[str] = field(default_factory=list)
    backfill_rekognition_calls: int = -1
    rerun_rekognition_calls: int = -1
    events_delivered_by: str = ""
    upload_to_indexed_s: list[float] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # folder files that are not images, and why
    event_jobs: int = 0  # event batches that went to Batch instead of the submitter's fast path
    timings: dict[str, float] = field(default_factory=dict)
    meaning_hits: list[str] = field(default_factory=list)  # `search --meaning red`, best first
    like_hits: list[str] = field(default_factory=list)  # `search --like` the best of them
    meaning_rekognition_calls: int = -1


# --- pure pieces ---------------------------------------------------------------------------------------


def substitute(command: list[str], parameters: Mapping[str, str]) -> list[str]:
    """Batch's Ref:: substitution: a whole argument `Ref::name` becomes the parameter's value."""
    return [parameters.get(arg[5:], arg) if arg.startswith("Ref::") else arg for arg in command]


def child_environment(
    base: Mapping[str, str], definition_env: list[dict[str, str]], job_id: str, index: int | None
) -> dict[str, str]:
    """The definition's variables over ours (credentials, endpoint), plus what Batch sets per child."""
    env = dict(base)
    env.update({pair["name"]: pair["value"] for pair in definition_env})
    env["AWS_BATCH_JOB_ID"] = job_id if index is None else f"{job_id}:{index}"
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    else:
        env.pop("AWS_BATCH_JOB_ARRAY_INDEX", None)
    return env


@dataclass(frozen=True)
class LambdaContext:
    """What the handler reads of Lambda's context: the time left of an invocation that starts now."""

    timeout_s: float
    started: float = field(default_factory=time.monotonic)
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_s - (time.monotonic() - self.started)) * 1000)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def choose_event_images(keys: list[str]) -> tuple[str, str]:
    """(held back to upload as an event, deleted as an event): two different readable images."""
    good = sorted(k for k in keys if not k.startswith("broken/"))
    if len(good) < 2:
        raise ValueError("the demo needs at least two images besides corrupt ones")
    return good[-1], good[0]


@dataclass(frozen=True)
class Folder:
    """A folder's files by relative path: the images the pipeline indexes, and the rest with the reason."""

    images: dict[str, bytes]
    skipped: dict[str, str]
    others: dict[str, Path]  # the skipped files that can be read: uploaded too, as a bucket holds them


def folder_files(folder: Path, extensions: Iterable[str] = inventory.DEFAULT_EXTENSIONS) -> Folder:
    """Every file under the folder, subfolders and symlinks followed (never round a loop); a file is an
    image by its extension, as the submitter and the worker decide (a zero-byte .jpg is one: its result is
    a recorded error)."""
    if not folder.is_dir():
        raise ValueError(f"IMAGES={folder}: not a directory")
    wanted = {e.lower() for e in extensions}
    found = Folder({}, {}, {})
    for key, path in files.walk(folder):
        if not path.exists():
            found.skipped[key] = "a broken symlink"
        elif path.suffix.lower().lstrip(".") not in wanted:
            found.skipped[key] = f"not an image extension ({path.suffix})" if path.suffix else "no extension"
            found.others[key] = path
        else:
            found.images[key] = path.read_bytes()
    return found


def summary_table(items: list[dict]) -> str:
    """One line per image: status or error, camera, taken at, GPS, top labels."""
    lines = [f"{'image':<36} {'status':<22} {'camera':<24} {'taken at':<20} {'GPS':<20} top labels"]
    for item in sorted(items, key=lambda i: i["key"]):
        r = export_row(item)
        status = r["status"] if r["status"] != "error" else f"error {r['error_class']}"
        camera = report_html.camera(item.get("exif") or {})
        gps = (
            f"{float(r['gps_latitude']):.3f},{float(r['gps_longitude']):.3f}"
            if r.get("gps_latitude") is not None
            else ""
        )
        labels = ", ".join(lb["name"] for lb in r["labels"][:3])
        lines.append(
            f"{item['key'][:36]:<36} {status[:22]:<22} {camera[:24]:<24} "
            f"{str(r.get('datetime_original') or '')[:20]:<20} {gps:<20} {labels}"
        )
    return "\n".join(lines)


# --- progress --------------------------------------------------------------------------------------------


class Progress:
    """One updating line on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO, phase: str, total_children: int) -> None:
        self.out, self.phase, self.total = out, phase, total_children
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.last_plain = 0.0
        self.last_line = ""

    def show(self, children_done: int, images: int, errors: int, force: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        line = (
            f"{self.phase}: children {children_done}/{self.total}  images {images} "
            f"(errors {errors})  {images / elapsed:.1f} img/s"
        )
        if self.tty:
            self.out.write("\r" + line.ljust(78))
            self.out.flush()
        elif force or (line != self.last_line and time.monotonic() - self.last_plain >= 2):
            print(line, file=self.out, flush=True)
            self.last_plain = time.monotonic()
        self.last_line = line

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def count_outcomes(ddb: Any, table: str, since: str) -> tuple[int, int]:
    """(images processed, errors) since a time, read from the results table."""
    done = errors = 0
    for page in ddb.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="#s, processed_at", ExpressionAttributeNames={"#s": "status"}
    ):
        for item in page.get("Items", ()):
            if item.get("processed_at", {}).get("S", "") >= since:
                done += 1
                errors += item.get("status", {}).get("S") == "error"
    return done, errors


# --- Batch children as local processes ---------------------------------------------------------------


def children_of(batch: Any, job_ids: list[str], base_env: Mapping[str, str]) -> list[Child]:
    """The array children Batch would start for these jobs, from the registered job definition."""
    found: list[Child] = []
    for job in batch.describe_jobs(jobs=job_ids)["jobs"]:
        definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][
            0
        ]
        params = {**definition.get("parameters", {}), **job.get("parameters", {})}
        container = definition["containerProperties"]
        # the container runs ENTRYPOINT + command; its python is this venv's python here
        argv = [sys.executable, *emulator.ENTRYPOINT[1:], *substitute(container["command"], params)]
        size = (job.get("arrayProperties") or {}).get("size")
        for index in range(size) if size else [None]:
            env = child_environment(base_env, container.get("environment", []), job["jobId"], index)
            found.append(Child(job["jobId"], index, tuple(argv), tuple(sorted(env.items()))))
    return found


def _kill(proc: subprocess.Popen) -> None:
    """The child's whole process group: TERM, a few seconds' grace, then KILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def run_children(
    children: list[Child],
    parallel: int,
    logs_dir: Path,
    outcome: Outcome,
    tick: Callable[[int], None],
    timeout_s: float = CHILD_TIMEOUT_S,
) -> list[int]:
    """Start the children `parallel` at a time, each in its own process group; always reap them."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    pending, running, codes = list(children), [], []
    deadline = time.monotonic() + timeout_s
    try:
        while pending or running:
            while pending and len(running) < parallel:
                child = pending.pop(0)
                name = f"{child.job_id}-{child.index if child.index is not None else 'single'}.log"
                with open(logs_dir / name, "wb") as stderr:
                    proc = subprocess.Popen(
                        child.argv,
                        env=dict(child.env),
                        cwd=emulator.REPO,
                        stdout=stderr,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                outcome.child_pids.append(proc.pid)
                running.append(proc)
            for proc in [p for p in running if p.poll() is not None]:
                running.remove(proc)
                codes.append(proc.returncode)
            if time.monotonic() > deadline:
                raise TimeoutError(f"array children still running after {timeout_s:.0f}s")
            tick(len(codes))
            time.sleep(0.2)
    finally:
        for proc in running:
            _kill(proc)
    outcome.child_exit_codes += codes
    return codes


def rekognition_calls(s3: Any, results_uri: str, job_ids: list[str]) -> int:
    """Sum of the children's own counts (their run summaries under --results-uri)."""
    bucket, _, prefix = results_uri.removeprefix("s3://").partition("/")
    total = 0
    for job_id in job_ids:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{job_id}/")
        for page in pages:
            for obj in page.get("Contents", ()):
                doc = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                total += int(doc.get("rekognition_calls", 0))
    return total


# --- the demo ---------------------------------------------------------------------------------------


@contextmanager
def _restored_environment() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clients.reset()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop children and the emulator."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. under a test runner's worker thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Demo:
    """The steps, in order; each prints what it did."""

    def __init__(self, opts: Options, out: TextIO) -> None:
        self.opts, self.out = opts, out
        self.outcome = Outcome()
        self.res: emulator.Resources | None = None
        self.images: dict[str, bytes] = {}

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, name: str, fn: Callable[[], None]) -> None:
        started = time.monotonic()
        self.say(f"==> {name}")
        fn()
        self.outcome.timings[name] = round(time.monotonic() - started, 1)

    def check(self, ok: bool, what: str) -> None:
        self.say(f"    [{'ok' if ok else 'FAILED'}] {what}")
        if not ok:
            self.outcome.failures.append(what)

    def run(self) -> Outcome:
        out_dir = self.opts.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("report.html", "results.jsonl"):
            (out_dir / stale).unlink(missing_ok=True)
        em = emulator.Emulator()
        try:
            with _restored_environment(), _sigterm_as_interrupt():
                self.step("start the AWS emulator", lambda: self._start(em))
                self.step("create the resources", self._resources)
                self.step("upload the images", self._upload)
                self.step("backfill: submitter -> manifest -> Batch array job -> children", self._backfill)
                self.step("events: one upload and one delete through S3 -> SQS -> submitter", self._events)
                self.step("rerun the backfill (idempotency)", self._rerun)
                self.step("report", self._report)
                self.step("search by meaning, with a tiny model built for the demo", self._meaning)
        except KeyboardInterrupt:
            self.outcome.failures.append("interrupted")
            self.say("\ninterrupted: stopping children and the emulator")
        except Exception as exc:  # noqa: BLE001 - any failed step ends the demo with a message and exit 1
            self.outcome.failures.append(f"{type(exc).__name__}: {exc}")
            self.say(f"    [FAILED] {type(exc).__name__}: {exc}")
        finally:
            em.stop()
        self.outcome.exit_code = EXIT_FAILED if self.outcome.failures else EXIT_OK
        self.say(
            "step times (s): " + ", ".join(f"{k.split(':')[0]} {v}" for k, v in self.outcome.timings.items())
        )
        self.say(
            "demo finished: all steps passed"
            if not self.outcome.failures
            else f"demo FAILED: {'; '.join(self.outcome.failures)}"
        )
        return self.outcome

    def _start(self, em: emulator.Emulator) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        em.start()
        emulator.use_endpoint(em.url)
        self.outcome.endpoint = em.url
        self.say(f"    moto server at {em.url} (AWS_ENDPOINT_URL); Batch and Lambda without Docker")

    def _resources(self) -> None:
        how = self.opts.resources
        if how == "auto":
            how = "terraform" if emulator.terraform_available() else "setup"
        if how == "terraform":
            self.say("    terraform apply of terraform/ into the emulator (about 90 s of provider waits)")
            self.res = emulator.apply_terraform(
                self.outcome.endpoint, self.opts.out_dir / "terraform", self.opts.settings, say=self.say
            )
            self.say(
                "    (the queue -> Lambda mapping is removed: the demo calls the submitter's handler itself)"
            )
        else:
            self.say("    python -m job setup path (terraform or its provider mirror not found, or chosen)")
            self.res = emulator.create_resources(self.opts.settings)
        self.outcome.resources = how
        os.environ.update(self.res.submitter_environment)
        self.say(f"    table {self.res.table}, queue {self.res.job_queue}")
        self.say(f"    job definition {self.res.job_definition}")

    def _upload(self) -> None:
        others: dict[str, bytes] = {}
        if self.opts.images is not None:
            self.images = dict(self.opts.images)
        elif self.opts.images_dir is not None:
            found = folder_files(self.opts.images_dir)
            self.images, self.outcome.skipped = found.images, found.skipped
            others = {key: path.read_bytes() for key, path in found.others.items()}
        else:
            from job.demo.samples import make_samples

            self.images = make_samples()
        held, deleted = choose_event_images([k for k, body in self.images.items() if body])
        self.outcome.uploaded_later, self.outcome.deleted = held, deleted
        s3 = clients.client("s3")
        for key, body in {**self.images, **others}.items():
            if key != held:
                s3.put_object(Bucket=self.res.images_bucket, Key=key, Body=body)
        self.say(
            f"    {len(self.images) - 1} images in s3://{self.res.images_bucket}/ ({held} held back)"
            + (f", and {len(others)} other files the pipeline skips" if others else "")
        )
        for key, why in sorted(self.outcome.skipped.items())[:SKIPPED_SHOWN]:
            self.say(f"    skipped {key}: {why}")
        if len(self.outcome.skipped) > SKIPPED_SHOWN:
            self.say(
                f"    … and {len(self.outcome.skipped) - SKIPPED_SHOWN} more skipped (report.html lists them)"
            )
        # Their upload notifications are already in SQS; the backfill covers these objects, so they are
        # dropped here to keep the event step about the one upload and one delete that follow.
        clients.client("sqs").purge_queue(QueueUrl=self.res.events_queue_url)

    def _run_jobs(self, phase: str, job_ids: list[str]) -> list[int]:
        ddb = clients.client("dynamodb")
        children = children_of(clients.client("batch"), job_ids, os.environ)
        if children:
            self.say(
                f"    {len(children)} children, {self.opts.parallel} at a time: {' '.join(children[0].argv)}"
            )
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        progress = Progress(self.out, phase, len(children))
        last = [0.0]

        def tick(done: int) -> None:
            if time.monotonic() - last[0] >= 0.5 or done == len(children):
                last[0] = time.monotonic()
                progress.show(done, *count_outcomes(ddb, self.res.table, since))

        codes = run_children(children, self.opts.parallel, self.opts.out_dir / "logs", self.outcome, tick)
        progress.show(len(codes), *count_outcomes(ddb, self.res.table, since), force=True)
        progress.finish()
        self.check(all(c == 0 for c in codes), f"{phase}: every child exited 0 (exit codes {codes})")
        return codes

    def _submit_backfill(self) -> list[str]:
        from lambda_submitter import config, submit, triggers

        cfg = config.from_env()
        s3 = clients.client("s3")
        mid, refs, source = triggers.backfill_work(s3, cfg, self.res.images_bucket, "", uuid.uuid4().hex)
        result = submit.submit_work(s3, clients.client("batch"), cfg, mid, refs, source)
        self.say(f"    manifest {result.manifest_uri}: {result.images} images in {result.shards} shards")
        return list(result.job_ids)

    def _backfill(self) -> None:
        job_ids = self._submit_backfill()
        self._run_jobs("backfill", job_ids)
        s3 = clients.client("s3")
        self.outcome.backfill_rekognition_calls = rekognition_calls(s3, self.res.results_uri, job_ids)
        self.outcome.backfill_keys = sorted(
            i["key"] for i in scan(clients.client("dynamodb"), self.res.table)
        )

    def _events(self) -> None:
        """Upload after upload, each timed from the PUT until its result is in the table: S3 -> SQS ->
        the submitter's handler (which labels a small batch itself) -> the table; the first with a delete."""
        # the handler runs in this process: its log lines go to the demo's log file (main pins it), and its
        # EMF metric lines are for CloudWatch, not this console
        os.environ["BUCKETLENS_METRICS"] = "off"
        s3 = clients.client("s3")
        held, deleted = self.outcome.uploaded_later, self.outcome.deleted
        name = held.rsplit("/", 1)[-1]
        keys = [held] + [f"events/{n:02d}-{name}" for n in range(1, EVENT_UPLOADS)]
        stored = 0
        for n, key in enumerate(keys):
            started = time.monotonic()
            s3.put_object(Bucket=self.res.images_bucket, Key=key, Body=self.images[held])
            wanted = {("ObjectCreated", key)}
            if n == 0:
                s3.delete_object(Bucket=self.res.images_bucket, Key=deleted)
                wanted.add(("ObjectRemoved", deleted))
                self.say(f"    uploaded {held}, deleted {deleted}")
            self._deliver(wanted, first=n == 0)
            state = store.get_state(clients.client("dynamodb"), self.res.table, self.res.images_bucket, key)
            self.outcome.upload_to_indexed_s.append(time.monotonic() - started)
            self.images[key] = self.images[held]
            stored += (state or {}).get("status") == "done"
        self.check(stored == len(keys), f"{stored} of {len(keys)} uploads labelled and stored, one at a time")
        times = self.outcome.upload_to_indexed_s
        where = "Batch jobs" if self.outcome.event_jobs else "the submitter itself (fast path)"
        self.say(
            f"    {len(keys)} uploads labelled by {where}: upload to indexed p50 "
            f"{percentile(times, 0.5):.2f} s, p95 {percentile(times, 0.95):.2f} s"
        )

    def _deliver(self, wanted: set[tuple[str, str]], first: bool) -> None:
        """The notifications of `wanted` from the queue to the handler, as the event source mapping
        would, then any Batch job it submitted run to the end."""
        from lambda_submitter import handler

        sqs, batch = clients.client("sqs"), clients.client("batch")
        before = {j["jobId"] for j in batch.list_jobs(jobQueue=self.res.job_queue)["jobSummaryList"]}
        messages = self._drain(sqs, wanted, quiet=not first)
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{os.environ['AWS_DEFAULT_REGION']}:123456789012:{emulator.EVENTS_QUEUE}",
                "awsRegion": os.environ["AWS_DEFAULT_REGION"],
            }
            for m in messages
        ]
        if not records:
            raise RuntimeError("no S3 notification reached the events queue")
        context = LambdaContext(self.opts.settings.submitter_timeout_s)
        answer = handler.handler({"Records": records}, context)
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=self.res.events_queue_url, ReceiptHandle=m["ReceiptHandle"])
        if first or failed:
            self.check(
                not failed, f"submitter handler took all {len(records)} SQS records (failed: {len(failed)})"
            )
        jobs = [
            j["jobId"]
            for j in batch.list_jobs(jobQueue=self.res.job_queue)["jobSummaryList"]
            if j["jobId"] not in before and ":" not in j["jobId"]
        ]
        if jobs:
            self.outcome.event_jobs += len(jobs)
            self._run_jobs("events", jobs)

    def _drain(
        self, sqs: Any, wanted: set[tuple[str, str]], wait_s: float = 8, quiet: bool = False
    ) -> list[dict]:
        """Receive until the notifications are in (S3 -> SQS delivery by the emulator), bounded."""
        if self.outcome.events_delivered_by != "demo":  # once S3 was seen not to deliver, no more waiting
            got = self._receive(sqs, wanted, wait_s)
            seen = {pair for m in got for pair in _event_keys(m["Body"])}
            if wanted <= seen:
                self.outcome.events_delivered_by = "emulator"
                if not quiet:
                    self.say(f"    [ok] the notifications reached SQS, delivered by S3 ({len(got)} messages)")
                return got
        else:
            got, seen = [], set()
        # moto does not deliver to every notification configuration (e.g. the one Terraform writes):
        # send the records S3 would have sent, and say so.
        if self.outcome.events_delivered_by != "demo":
            self.say(
                "    NOTE: the emulator did not deliver these S3 notifications to SQS; the demo sends the "
                "records S3 would send (same shape) to the queue itself"
            )
        self.outcome.events_delivered_by = "demo"
        s3 = clients.client("s3")
        for kind, key in sorted(wanted - seen):
            body = s3_event(self.res.images_bucket, key, kind, s3)
            sqs.send_message(QueueUrl=self.res.events_queue_url, MessageBody=json.dumps(body))
        got += self._receive(sqs, wanted - seen, wait_s)
        seen = {pair for m in got for pair in _event_keys(m["Body"])}
        if not quiet or not wanted <= seen:
            self.check(
                wanted <= seen,
                f"the notifications reached SQS, sent by the demo, not S3 ({len(got)} messages)",
            )
        return got

    def _receive(self, sqs: Any, wanted: set[tuple[str, str]], wait_s: float) -> list[dict]:
        got: list[dict] = []
        seen: set[tuple[str, str]] = set()
        deadline = time.monotonic() + wait_s
        while not wanted <= seen and time.monotonic() < deadline:
            answer = sqs.receive_message(
                QueueUrl=self.res.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for m in answer.get("Messages", []):
                got.append(m)
                seen.update(_event_keys(m["Body"]))
        return got

    def _rerun(self) -> None:
        job_ids = self._submit_backfill()
        self._run_jobs("rerun", job_ids)
        calls = rekognition_calls(clients.client("s3"), self.res.results_uri, job_ids)
        self.outcome.rerun_rekognition_calls = calls
        self.check(calls == 0, f"the second backfill made {calls} Rekognition calls (expected 0)")

    def _report(self) -> None:
        items = sorted(scan(clients.client("dynamodb"), self.res.table), key=lambda i: i["key"])
        self.outcome.items = items
        by_key = {i["key"]: i for i in items}
        held, deleted = self.outcome.uploaded_later, self.outcome.deleted
        expected = [k for k in self.images if k != deleted]
        missing = [k for k in expected if by_key.get(k, {}).get("status") not in ("done", "error")]
        self.check(not missing, f"every image has its result ({len(expected)} images; missing: {missing})")
        self.check(by_key.get(held, {}).get("status") == "done", f"the new upload {held} was processed")
        broken = [k for k in self.images if k.startswith("broken/")]
        bad = [k for k in broken if by_key.get(k, {}).get("status") != "error"]
        self.check(not bad, f"the corrupt files carry errors ({len(broken)} corrupt; not errors: {bad})")
        self.check(by_key.get(deleted, {}).get("status") == "deleted", f"the deleted {deleted} is gone")
        out_dir = self.opts.out_dir
        with open(out_dir / "results.jsonl", "w", encoding="utf-8") as fh:
            for item in items:
                fh.write(json.dumps(export_row(item), default=str, ensure_ascii=False) + "\n")
        shown = report.gather_previews(
            clients.client("s3"), items, previews.location(self.res.results_uri), embed=True, make=True
        )
        heading = report.title(None, 0, items, self.res.table)
        page = report_html.render(items, shown.src, heading, CANNED_NOTE, shown.missing, self.outcome.skipped)
        (out_dir / "report.html").write_text(page, encoding="utf-8")
        self.say("")
        self.say(summary_table(items))
        self.say("")
        self.say(CANNED_NOTE)
        self.say(f"wrote {out_dir / 'report.html'} and {out_dir / 'results.jsonl'}")

    def _meaning(self) -> None:
        """Embed every image with a tiny colour model, label them from prompts (labeler clip), then search by
        a text and by an image; skipped, saying why, where onnx, onnxruntime or tokenizers is missing."""
        try:
            import onnxruntime  # noqa: F401
            import tokenizers  # noqa: F401

            from job.demo import tiny_model
        except ImportError as exc:
            self.say(f"    skipped: {exc.name} is not installed (pip install 'bucketlens[onnx]' onnx)")
            return
        from job.worker import config
        from job.worker import run as worker_run

        self.say(f"    {MEANING_NOTE}")
        bucket = self.res.results_uri.removeprefix("s3://").split("/", 1)[0]
        s3 = clients.client("s3")
        files = {
            "image.onnx": tiny_model.colour_image_encoder(),
            "text.onnx": tiny_model.colour_text_encoder(),
            "tokenizer.json": tiny_model.word_tokenizer(),
            "prompts.json": json.dumps(DEMO_PROMPTS).encode(),
        }
        for name, body in files.items():
            s3.put_object(Bucket=bucket, Key=f"demo-model/{name}", Body=body)
        model = {
            "vector_bucket": "bucketlens-demo-vectors",
            "embed_image_uri": f"s3://{bucket}/demo-model/image.onnx",
            "embed_text_uri": f"s3://{bucket}/demo-model/text.onnx",
            "embed_tokenizer_uri": f"s3://{bucket}/demo-model/tokenizer.json",
        }
        job = f"meaning-{uuid.uuid4().hex[:8]}"
        run_config = config.from_args(
            {
                "source": f"s3://{self.res.images_bucket}/",
                "table": self.res.table,
                "results_uri": self.res.results_uri,
                "labeler": "clip",
                "prompts_uri": f"s3://{bucket}/demo-model/prompts.json",
                **model,
            },
            env={"AWS_BATCH_JOB_ID": job},
        )
        code = worker_run.run(run_config)
        self.check(
            code == EXIT_OK,
            f"every image embedded and labelled from {len(DEMO_PROMPTS)} prompts (exit {code})",
        )
        calls = rekognition_calls(s3, self.res.results_uri, [job])
        self.outcome.meaning_rekognition_calls = calls
        self.check(calls == 0, f"labeler clip made {calls} Rekognition calls (expected 0)")
        options = [f"--{k.replace('_', '-')}={v}" for k, v in model.items()]
        self.outcome.meaning_hits = self._search(["--meaning", "red", *options], "search --meaning red")
        if self.outcome.meaning_hits:
            best = f"s3://{self.res.images_bucket}/{self.outcome.meaning_hits[0]}"
            self.outcome.like_hits = self._search(["--like", best, *options], f"search --like {best}")
            self.check(
                self.outcome.like_hits[:1] == self.outcome.meaning_hits[:1],
                "--like finds the image itself first",
            )

    def _search(self, args: list[str], shown: str) -> list[str]:
        """Run `python -m job search` in-process; print its best three; the keys it found, best first."""
        import io

        from job.commands import search

        parser = argparse.ArgumentParser(prog="python -m job")
        search.add_parser(parser.add_subparsers(dest="command"), "search")
        found = io.StringIO()
        code = search.command(
            parser.parse_args(["search", "--table", self.res.table, "--limit", "3", *args]), found
        )
        rows = [json.loads(line) for line in found.getvalue().splitlines() if line.startswith("{")]
        self.check(code == EXIT_OK and bool(rows), f"{shown}: {len(rows)} results")
        for row in rows:
            labels = ", ".join(label["name"] for label in row.get("labels", [])[:3])
            self.say(f"      {row['score']:.3f}  {row['uri']}  {labels}")
        return [row["uri"].split("/", 3)[3] for row in rows]


def _event_keys(body: str) -> set[tuple[str, str]]:
    """(ObjectCreated|ObjectRemoved, key) of each record in an S3 notification message."""
    from urllib.parse import unquote_plus

    records = json.loads(body).get("Records", [])
    return {(r["eventName"].split(":")[0], unquote_plus(r["s3"]["object"]["key"])) for r in records}


def s3_event(bucket: str, key: str, kind: str, s3: Any) -> dict:
    """One S3 notification as S3 shapes it (event version 2.1, URL-encoded key, hex sequencer)."""
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(key), "sequencer": format(time.time_ns(), "X")}
    name = "ObjectRemoved:Delete"
    if kind == "ObjectCreated":
        head = s3.head_object(Bucket=bucket, Key=key)
        obj.update(size=head["ContentLength"], eTag=head["ETag"].strip('"'))
        name = "ObjectCreated:Put"
    region = os.environ.get("AWS_DEFAULT_REGION", emulator.REGION)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "bucketlens-demo",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


def run_demo(opts: Options, out: TextIO | None = None) -> Outcome:
    return Demo(opts, out or sys.stdout).run()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m job.demo", description=__doc__)
    parser.add_argument(
        "--images", type=Path, default=None, help="a folder of your own images (default: samples)"
    )
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="report and results folder")
    parser.add_argument("--resources", choices=("auto", "terraform", "setup"), default="auto")
    parser.add_argument("--parallel", type=int, default=2, help="array children at a time")
    return parser


LOG_FILE = "demo.log"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / LOG_FILE
    log_path.unlink(missing_ok=True)
    logs.pin_to_file(log_path, "INFO")  # the console shows the progress lines only
    opts = Options(out_dir=args.out, images_dir=args.images, resources=args.resources, parallel=args.parallel)
    try:
        outcome = run_demo(opts)
    finally:
        logs.unpin()
    print(f"log lines (JSON): {log_path}", flush=True)
    return outcome.exit_code
