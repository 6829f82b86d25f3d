"""`python -m job relabel --prompts FILE`: a new or changed prompt list applied to every stored embedding,
without reading one image.

The vectors are listed from the model's index (ListVectors, data and metadata) in up to 16 segments, one a
process, so a Batch array job (`--submit N`) splits them; each page's images are read from the results
table in one batch, scored against the prompts, and an image whose prompt labels changed gets them in its
item (other labelers' labels kept), the label index and its vector's metadata, and with OpenSearch its
documents in the document and k-NN indexes. An image changed or deleted since its vector was stored is left
to its own event; a rerun with the same list writes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from job.commands import export, options, vector_listing
from job.core import errors, label_index, opensearch, store, vectors
from job.core.manifest import split_s3_uri

log = logging.getLogger(__name__)

SEGMENTS_MAX = 16  # ListVectors' segmentCount
WRITERS = 10  # images of a page written at once: the clients' connection pool (job/core/clients.py)


def add_parser(sub: Any, help_text: str) -> None:
    p = sub.add_parser(
        "relabel",
        help=help_text,
        description="Labels from a prompt list for every image with a stored vector: no image is read.",
    )
    p.add_argument(
        "--prompts",
        required=True,
        help='the prompt list, a local file or s3://…/prompts.json: [{"name": …, "prompt": …, '
        '"threshold": 0.25}, …] (a Batch job needs s3://)',
    )
    options.add_tables(p)
    options.add_embedding(p)
    opensearch.add_arguments(p)
    p.add_argument(
        "--segment",
        type=int,
        default=int(os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX") or 0),
        help="this process's part of the vectors, 0-based (default AWS_BATCH_JOB_ARRAY_INDEX, else 0)",
    )
    p.add_argument(
        "--segments", type=int, default=1, help=f"processes sharing the vectors, 1 to {SEGMENTS_MAX}"
    )
    p.add_argument(
        "--submit",
        type=int,
        metavar="CHILDREN",
        help=f"submit it as a Batch job of this many children (1 to {SEGMENTS_MAX}) instead of running here",
    )
    p.add_argument(
        "--job-queue",
        default=os.environ.get("BUCKETLENS_JOB_QUEUE"),
        help="with --submit: the deployment's job queue [env BUCKETLENS_JOB_QUEUE]",
    )
    p.add_argument(
        "--job-definition",
        default=os.environ.get("BUCKETLENS_JOB_DEFINITION"),
        help="with --submit: the deployment's job definition [env BUCKETLENS_JOB_DEFINITION]",
    )
    p.set_defaults(func=command)


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # the stream of now, not of when this module was imported
    from job.core import clients

    if args.submit is not None:
        answer = submit(clients.client("batch"), args)
        out.write(json.dumps(answer) + "\n")
        return errors.EXIT_OK
    if not 1 <= args.segments <= SEGMENTS_MAX or not 0 <= args.segment < args.segments:
        raise errors.ConfigError(
            f"--segment {args.segment} --segments {args.segments}: 1 <= segments <= {SEGMENTS_MAX} and "
            "0 <= segment < segments"
        )
    s3 = clients.client("s3")
    counts = relabel(
        s3,
        clients.client("dynamodb"),
        clients.client("s3vectors"),
        args,
        prompt_list(s3, args.prompts),
    )
    out.write(json.dumps(counts) + "\n")
    log.info("relabelled", extra=counts)
    return errors.EXIT_OK


def prompt_list(s3: Any, where: str) -> tuple[Any, ...]:
    """The prompts from a local file or S3; ConfigError when missing, empty or malformed."""
    from job.worker import model_source, prompts

    if where.startswith("s3://"):
        return model_source.read_prompts(s3, where)
    try:
        with open(where, "rb") as handle:
            return prompts.parse(handle.read(), where)
    except OSError as exc:
        raise errors.ConfigError(f"--prompts {where}: {exc.strerror}") from exc


def submit(batch: Any, args: argparse.Namespace) -> dict[str, Any]:
    """A Batch job of `args.submit` children, each relabelling its segment with the job definition's model
    and tables; the prompts must be in S3, where the children read them."""
    children = args.submit
    if not 1 <= children <= SEGMENTS_MAX:
        raise errors.ConfigError(f"--submit takes 1 to {SEGMENTS_MAX} children, got {children}")
    if not args.prompts.startswith("s3://"):
        raise errors.ConfigError("--submit: the Batch children read --prompts from S3: give s3://…")
    if not (args.job_queue and args.job_definition):
        raise errors.ConfigError("--submit needs --job-queue and --job-definition (make relabel passes both)")
    answer = batch.submit_job(
        jobName="relabel",
        jobQueue=args.job_queue,
        jobDefinition=args.job_definition,
        containerOverrides={"command": ["relabel", "--prompts", args.prompts, "--segments", str(children)]},
        **({"arrayProperties": {"size": children}} if children > 1 else {}),
    )
    return {"job_id": answer["jobId"], "job_name": answer["jobName"], "children": children}


def _same(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> bool:
    def key(labels: list[Mapping[str, Any]]) -> list[tuple[str, float, str]]:
        return sorted(
            (str(lb.get("name")), float(lb.get("confidence") or 0), str(lb.get("source"))) for lb in labels
        )

    return key(old) == key(new)


def relabel(s3: Any, ddb: Any, s3vectors: Any, args: argparse.Namespace, listed: tuple[Any, ...]) -> dict:
    """Apply the prompts to this segment's stored vectors; counts of what happened to them."""
    from job.worker import prompts

    try:
        model = options.load_embeddings(s3, args, "relabel")
    except ValueError as exc:  # no model configured: no retry helps
        raise errors.ConfigError(str(exc)) from exc
    prompt_set = prompts.compile_set(model, listed)
    index = vectors.index_name(model.digest)
    table = args.table
    label_table = label_index.table_name(table, args.label_table)
    embedded = f"embed@{model.digest}"
    settings = opensearch.settings_from(args)
    search = None
    if (
        settings is not None
    ):  # the relabelled images' documents, with their vectors, as the worker writes them
        from job.worker.opensearch_sink import OpenSearchSink

        search = OpenSearchSink.from_settings(settings)
        search.use_vectors(opensearch.vector_field(model.digest), model.dimension)
    counts: Counter[str] = Counter()
    started = time.monotonic()

    def one(vector: Mapping[str, Any], item: dict[str, Any] | None, found: Any) -> tuple[str, Any]:
        """What happened to one stored vector's image, and its vector's new record when relabelled."""
        if not item or item.get("status") != "done" or embedded not in str(item.get("features")):
            return "skipped_not_current", None  # deleted, changed or re-embedded: its event does it
        labels = prompts.merged(item.get("labels") or (), found)
        if _same(item.get("labels") or [], labels):
            return "unchanged", None
        new = {**item, "labels": labels}
        if str(item.get("features", "")).startswith("labels@clip"):
            new["label_model_version"] = prompt_set.source
        if not store.replace_labels(ddb, table, new):
            return "skipped_not_current", None
        label_index.update(ddb, label_table, new)
        data = tuple(vector["data"]["float32"])
        if search is not None:
            search.add(new, None, data)
        return "relabelled", vectors.VectorRecord(vector["key"], data, vectors.metadata_for(new))

    # each image's writes wait on DynamoDB's round trips, not on this CPU: a page's images are written at once
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for page in vector_listing.pages(s3vectors, args.vector_bucket, index, args.segment, args.segments):
            refs = [split_s3_uri(str((v.get("metadata") or {}).get("uri") or "s3://-/-")) for v in page]
            items = export.fetch_items(ddb, table, refs)
            answers = prompts.labels_for(prompt_set, [v["data"]["float32"] for v in page])
            counts["vectors"] += len(page)
            done = list(pool.map(one, page, [items.get(r) for r in refs], answers))
            counts.update(outcome for outcome, _ in done)
            rewritten = [record for _, record in done if record is not None]
            if rewritten:  # the store's label filter sees the new names
                vectors.put(s3vectors, args.vector_bucket, index, rewritten)
    if search is not None:
        search.flush()
        counts["search_errors"] = search.errors
    return {
        "segment": args.segment,
        "segments": args.segments,
        "prompts": prompt_set.source,
        "seconds": round(time.monotonic() - started, 2),  # listing, scoring and writing, after the model
        **{name: counts[name] for name in ("vectors", "relabelled", "unchanged", "skipped_not_current")},
        **({"search_errors": counts["search_errors"]} if search is not None else {}),
    }
