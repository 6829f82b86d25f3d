"""Embedding benchmark: images/s per vCPU with a CLIP ViT-B/32-sized image encoder, the cost per million
images on CPU Spot with every AWS call counted, a rerun that infers and reads nothing, and relabelling from
stored vectors alone.

Usage: python bench/embed_bench.py [--images 48] [--spot-vcpu-hour 0.02]

The towers are built with the onnx helper API (bench/clip_towers.py: ViT-B/32's image tower, 88 M parameters,
and its text tower), random weights, which cost the same time as trained ones. Part 1 runs the image encoder
alone, one thread and batches of 16 (the default), for its ceiling on one vCPU. Part 2 runs one child,
`python -m job run`, with what Terraform gives a job with `labeler = "clip"` and `embedding_model` (the
deployed environment of bench/worker_bench.py, the model's three files and a prompt list of 20 categories in
S3, the vector bucket) on the job definition's one vCPU (the child is pinned to one CPU; the emulator runs on
the other), over 12 MP camera JPEGs (1.8 MB): each image read whole, decoded, embedded in batches, labelled
from the prompts, its vector stored in S3 Vectors and its result written. Images/s per vCPU counts from the
first image to the last; loading the model is priced apart, once per shard of 1,000 images. The same child
then runs again: it must make no inference and read no image. Part 3 relabels every stored vector with a
changed prompt list (`python -m job relabel`, one vCPU): vectors/s, and 0 image reads, counted at the
emulator. Part 4 prices a million images: vCPU-hours at --spot-vcpu-hour (USD; a c7i/m7i Spot vCPU-hour in
us-east-1 is about 0.02) plus every call counted at list prices and PutVectors at $0.20 per GB of logical
data (the vector, its key and metadata, measured here): the target, <= $10 per million. The label index is
reckoned as in faults_bench and priced beside it, not in the target: its rows cost the same whoever labels.
The vectors' storage, $0.06 per GB-month, is a monthly figure apart (S3 Vectors prices:
aws.amazon.com/s3/pricing, us-east-1). Targets, enforced (exit 1 naming those missed): every image done once
with its vector, the rerun 0 inferences and 0 image reads, relabel 0 image reads and every vector scored,
the cost.
Part 5 is the fast path with the same model: the submitter's handler in a fresh process pinned to one CPU
(about what a 2,048 MB Lambda has), with what Terraform gives it with labeler = "clip", on SQS batches of one
camera JPEG upload each: the first batch is cold (the handler's imports, the model read from S3 and checked,
the prompts encoded, the image labelled and embedded), the next ones warm; target: warm <= 3 s, every upload
labelled in the Lambda. The GPU figure (>= 1,500 images/s on a g5) is not measured here: this machine has
no GPU. Writes bench/results/embed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench import onnx_bench  # noqa: E402
from bench.clip_towers import image_encoder, text_encoder  # noqa: E402
from bench.faults_bench import LABEL_ROWS_RECKONED, camera_image, cost_table  # noqa: E402
from bench.onnx_bench import batch_rate, logged, pinned, summary_of, vcpu_hours  # noqa: E402
from bench.query_bench import tokenizer  # noqa: E402
from bench.results import Report  # noqa: E402
from bench.worker_bench import BUCKET, RESULTS, deployed_environment  # noqa: E402
from job.commands import provision  # noqa: E402
from job.core import clients, label_index, vectors  # noqa: E402
from job.demo import vector_search  # noqa: E402
from job.worker import embeddings, onnx_labels  # noqa: E402
from tests.faults import FaultServer  # noqa: E402

TARGET_USD_PER_MILLION = 10.0
PUT_USD_PER_GB = 0.20  # S3 Vectors PUT, per GB of logical data (the vector, its key and metadata)
STORAGE_USD_PER_GB_MONTH = 0.06
SOURCE = f"s3://{BUCKET}/embed/"
VECTOR_BUCKET = "bench-vectors"
WORDS = ("roof", "car", "dog", "beach", "night", "snow", "bride", "forest", "city", "food")
PROMPTS = [
    # thresholds low enough that random towers give labels, so the label index is written as a trained
    # model's would be
    {"name": f"{word}-{kind}", "prompt": f"a photo of a {word}", "threshold": -0.9}
    for word in WORDS
    for kind in ("a", "b")
]


def model_only(image: bytes, text: bytes, words: bytes, batches: int = 4) -> dict:
    """The image encoder's own rate on one thread, batches of the default size: the ceiling of one vCPU."""
    settings = onnx_labels.Settings()
    model = embeddings.load(image, text, words, "clip-b32", settings, ["CPUExecutionProvider"])
    return batch_rate(lambda batch: embeddings.embed_images(model, batch), settings.batch, batches)


def _environment(url: str, table: str) -> dict[str, str]:
    """What Terraform gives a job with labeler = "clip" and embedding_model (terraform/main.tf)."""
    return {
        **deployed_environment(url, table, capacity=True),
        "BUCKETLENS_LABELER": "clip",
        "BUCKETLENS_EMBED_IMAGE_URI": f"s3://{RESULTS}/models/image.onnx",
        "BUCKETLENS_EMBED_TEXT_URI": f"s3://{RESULTS}/models/text.onnx",
        "BUCKETLENS_EMBED_TOKENIZER_URI": f"s3://{RESULTS}/models/tokenizer.json",
        "BUCKETLENS_PROMPTS_URI": f"s3://{RESULTS}/models/prompts.json",
        "BUCKETLENS_VECTOR_BUCKET": VECTOR_BUCKET,
        "BUCKETLENS_PROGRESS_SECONDS": "600",
    }


def _image_reads(layer) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for path, _ in layer.recorded("S3.GetObject") if path.startswith(f"/{BUCKET}/"))


def _stored_bytes(index: str) -> tuple[int, float]:
    """(vectors, mean logical bytes each: float32 data, key and metadata as JSON) in the model's index."""
    store = clients.client("s3vectors")
    found = store.list_vectors(
        vectorBucketName=VECTOR_BUCKET, indexName=index, maxResults=1000, returnData=True, returnMetadata=True
    )["vectors"]
    sizes = [
        4 * len(v["data"]["float32"])
        + len(v["key"].encode())
        + len(json.dumps(v.get("metadata") or {}).encode())
        for v in found
    ]
    return len(found), (sum(sizes) / len(sizes) if sizes else 0.0)


def runs(server: FaultServer, images: int, cpu: int, tmp: Path, index: str) -> dict:
    """A first run, a rerun and a relabel, each on one vCPU, their calls counted at the emulator."""
    job, table = "embed", "t-embed"
    provision.setup(clients.client("dynamodb"), clients.client("s3"), table, [], "us-east-1")
    env = {**_environment(server.url, table), "AWS_BATCH_JOB_ID": job}
    run_cmd = [sys.executable, "-m", "job", "run", "--source", SOURCE]
    layer = server.layer
    layer.reset_counts()
    code, wall = pinned(run_cmd, env, cpu, tmp / "first.log")
    first = layer.counts("passed")
    summary = summary_of(job)
    model_s = float(logged(tmp / "first.log", "embedding model loaded").get("seconds") or 0.0)
    working_s = max(1e-9, summary["duration_s"] - model_s)
    label_rows = clients.client("dynamodb").scan(TableName=label_index.table_name(table), Select="COUNT")[
        "Count"
    ]
    stored, vector_bytes = _stored_bytes(index)

    layer.reset_counts()
    layer.record("S3.GetObject")
    rerun_code, rerun_wall = pinned(run_cmd, env, cpu, tmp / "rerun.log")
    rerun = summary_of(job)
    rerun_reads = _image_reads(layer)

    changed = [*PROMPTS[:-1], {"name": "solar", "prompt": "solar panels on a roof", "threshold": -0.5}]
    clients.client("s3").put_object(Bucket=RESULTS, Key="models/prompts.json", Body=json.dumps(changed))
    layer.reset_counts()
    layer.record("S3.GetObject")
    relabel_cmd = [sys.executable, "-m", "job", "relabel", "--prompts", env["BUCKETLENS_PROMPTS_URI"]]
    relabel_code, relabel_wall = pinned(relabel_cmd, env, cpu, tmp / "relabel.log")
    relabelled = logged(tmp / "relabel.log", "relabelled")
    return {
        "images": images,
        "exit": code,
        "done": summary["outcomes"].get("done", 0),
        "inferences": summary["calls"].get("onnx.Embed", 0),
        "vectors_stored": stored,
        "vector_bytes": round(vector_bytes),
        "wall_s": round(wall, 1),
        "model_load_s": round(model_s, 2),
        "images_per_s_per_vcpu": round(images / working_s, 2),
        "label_rows": label_rows,
        "counts": first,
        "rerun": {
            "exit": rerun_code,
            "wall_s": round(rerun_wall, 1),
            "inferences": rerun["calls"].get("onnx.Embed", 0),
            "image_reads": rerun_reads,
            "skipped_done": rerun["outcomes"].get("skipped_done", 0),
        },
        "relabel": {
            "exit": relabel_code,
            "vectors": relabelled.get("vectors", 0),
            "relabelled": relabelled.get("relabelled", 0),
            "image_reads": _image_reads(layer),
            "wall_s": round(relabel_wall, 1),
            "scoring_s": relabelled.get("seconds", 0.0),
            "vectors_per_s_per_vcpu": round(
                relabelled.get("vectors", 0) / max(1e-9, relabelled.get("seconds", 0.0)), 1
            ),
        },
    }


FAST_PATH_PROBE = """
import json, sys, time
started = time.perf_counter()
from lambda_submitter import handler
imports = time.perf_counter() - started
class Context:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    def get_remaining_time_in_millis(self):
        return 300_000
seconds = []
for line in sys.stdin:
    start = time.perf_counter()
    answer = handler.handler(json.loads(line), Context())
    seconds.append(time.perf_counter() - start)
    if answer != {"batchItemFailures": []}:
        raise SystemExit(f"batch not acknowledged: {answer}")
print(json.dumps({"imports_s": imports, "handler_s": seconds}))
"""
FAST_PATH_BATCHES = 4  # one cold, three warm


def fast_path(url: str, table: str, photo: bytes, cpu: int) -> dict:
    """Cold and warm handler seconds of the fast path with the model, one upload a batch, one CPU."""
    from job.demo.pipeline import s3_event

    s3 = clients.client("s3")
    template = json.loads((ROOT / "tests" / "events" / "sqs_object_created.json").read_text())["Records"][0]
    events = []
    for n in range(FAST_PATH_BATCHES):
        key = f"fast/{n:04d}.jpg"
        s3.put_object(Bucket=BUCKET, Key=key, Body=photo)
        body = json.dumps(s3_event(BUCKET, key, "ObjectCreated", s3))
        events.append(json.dumps({"Records": [{**template, "messageId": f"fast-{n}", "body": body}]}))
    env = {
        **_environment(url, table),
        "BUCKETLENS_JOB_QUEUE": "bench-queue",
        "BUCKETLENS_JOB_DEFINITION": "bench-worker",
        "BUCKETLENS_MANIFESTS_BUCKET": RESULTS,
        "BUCKETLENS_FAST_PATH_IMAGES": "20",
        "AWS_REGION": "us-east-1",
    }
    taskset = shutil.which("taskset")
    pin = [taskset, "-c", str(cpu)] if taskset else []
    done = subprocess.run(
        [*pin, sys.executable, "-c", FAST_PATH_PROBE],
        input="\n".join(events) + "\n",
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return {"exit": done.returncode, "labelled_here": 0}
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    stored = clients.client("dynamodb").scan(TableName=table)["Items"]
    here = sum(1 for i in stored if i["key"]["S"].startswith("fast/") and i["status"]["S"] == "done")
    warm = sorted(answer["handler_s"][1:])
    return {
        "exit": 0,
        "labelled_here": here,
        "cold_s": round(answer["imports_s"] + answer["handler_s"][0], 2),
        "cold_imports_s": round(answer["imports_s"], 2),
        "warm_s": round(warm[len(warm) // 2], 2),
    }


def cost(run: dict, spot_vcpu_hour: float) -> dict:
    """USD per million images on CPU Spot: the embedding's (compute, every counted call, PutVectors' logical
    data), and with the label index reckoned as for any labeler (its rows cost the same whoever gives the
    labels); the vectors' storage a month apart."""
    hours = vcpu_hours(run["images_per_s_per_vcpu"], run["model_load_s"])
    calls = cost_table(run["counts"], run["images"], run["label_rows"])
    vectors_gb = run["vectors_stored"] / run["images"] * run["vector_bytes"] * 1_000_000 / 1e9
    put_usd = round(vectors_gb * PUT_USD_PER_GB, 2)
    compute_usd = round(hours * spot_vcpu_hour, 2)
    embedding = round(compute_usd + calls["counted_usd_per_million"] + put_usd, 2)
    total = round(embedding + calls["label_index_usd_reckoned"], 2)
    return {
        "spot_usd_per_vcpu_hour": spot_vcpu_hour,
        "vcpu_hours_per_million": round(hours, 1),
        "compute_usd": compute_usd,
        "counted_usd": calls["counted_usd_per_million"],
        "put_vectors_usd": put_usd,
        "label_index_usd_reckoned": calls["label_index_usd_reckoned"],
        "calls_per_image": calls["calls_per_image"],
        "embedding_usd_per_million": embedding,
        "total_usd_per_million": total,
        "storage_usd_per_million_per_month": round(vectors_gb * STORAGE_USD_PER_GB_MONTH, 2),
    }


def build_parser() -> argparse.ArgumentParser:
    """The bench's command line (tests/test_docs.py parses the documented ones with it)."""
    return onnx_bench.build_parser(__doc__)


def main() -> int:
    args = build_parser().parse_args()
    cpu = onnx_bench.child_cpu()
    image, text, words = image_encoder(), text_encoder(), tokenizer([p["prompt"] for p in PROMPTS])
    digest = embeddings.digest(image, text, words)
    model = model_only(image, text, words)
    print(json.dumps({"bench": "embed_model", "image_encoder_mb": round(len(image) / 1e6), **model}))
    vector_search.install()
    with FaultServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        clients.reset()
        provision.setup(
            clients.client("dynamodb"), clients.client("s3"), "bench-setup", [BUCKET, RESULTS], "us-east-1"
        )
        s3 = clients.client("s3")
        for name, body in (("image.onnx", image), ("text.onnx", text), ("tokenizer.json", words)):
            s3.put_object(Bucket=RESULTS, Key=f"models/{name}", Body=body)
        s3.put_object(Bucket=RESULTS, Key="models/prompts.json", Body=json.dumps(PROMPTS))
        photo = camera_image(4032, 3024, "JPEG", 6)
        for i in range(args.images):
            s3.put_object(Bucket=BUCKET, Key=f"embed/{i:04d}.jpg", Body=photo)
        run = runs(server, args.images, cpu, Path(tmp), vectors.index_name(digest))
        lambda_run = fast_path(server.url, "t-embed", photo, cpu)
    priced = cost(run, args.spot_vcpu_hour)
    print(json.dumps({"bench": "embed_child", **{k: v for k, v in run.items() if k != "counts"}}))
    print(json.dumps({"bench": "embed_cost_per_million", **priced}))
    print(json.dumps({"bench": "embed_fast_path", **lambda_run}))
    report = Report(
        "embed",
        {
            "images": args.images,
            "spot_usd_per_vcpu_hour": args.spot_vcpu_hour,
            "label_index_rows_reckoned": LABEL_ROWS_RECKONED,
            "model": "CLIP ViT-B/32 towers, random weights",
            "prompts": len(PROMPTS),
        },
    )
    report.figure(
        "images_per_s_per_vcpu",
        run["images_per_s_per_vcpu"],
        "one child on one vCPU, camera JPEGs read whole",
    )
    report.figure(
        "model_images_per_s", model["images_per_s"], "the image encoder alone, one thread, batches of 16"
    )
    report.figure("model_load_s", run["model_load_s"], "one child loading both towers from S3, checked")
    report.figure("compute_usd_per_million", priced["compute_usd"], "vCPU-hours at the Spot price")
    report.figure(
        "counted_usd_per_million", priced["counted_usd"], "counted calls per image done at list prices"
    )
    report.figure(
        "put_vectors_usd_per_million", priced["put_vectors_usd"], "PutVectors' logical data, measured"
    )
    report.figure(
        "label_index_usd_per_million",
        priced["label_index_usd_reckoned"],
        "reckoned, as for Rekognition's labels",
    )
    report.figure(
        "embedding_usd_per_million",
        priced["embedding_usd_per_million"],
        "compute, counted calls and PutVectors: what the embedding costs (the target)",
    )
    report.figure(
        "total_usd_per_million", priced["total_usd_per_million"], "the same with the reckoned label index"
    )
    report.figure(
        "storage_usd_per_million_per_month",
        priced["storage_usd_per_million_per_month"],
        "a million images' vectors kept a month",
    )
    report.figure(
        "relabel_vectors_per_s_per_vcpu",
        run["relabel"]["vectors_per_s_per_vcpu"],
        "stored vectors scored and their changes written, one vCPU",
    )
    report.figure("gpu_images_per_s", "not measured", "no GPU on this machine (target >= 1,500 on a g5)")
    report.figure(
        "fast_path_cold_s",
        lambda_run.get("cold_s"),
        "fast path, first batch of one upload in a fresh process, one CPU: imports, model load, prompts, image",
    )
    report.figure(
        "fast_path_warm_s", lambda_run.get("warm_s"), "the same, later batches (median of 3), one CPU"
    )
    report.target(
        "first run: every image done once", run["done"] if not run["exit"] else -1, "==", args.images
    )
    report.target("first run: inferences", run["inferences"], "==", args.images)
    report.target("first run: vectors stored", run["vectors_stored"], "==", args.images)
    rerun = run["rerun"]
    report.target("rerun: inferences", rerun["inferences"] + (1 if rerun["exit"] else 0), "==", 0)
    report.target("rerun: image reads", rerun["image_reads"], "==", 0)
    relabel = run["relabel"]
    report.target(
        "relabel: vectors scored", relabel["vectors"] if not relabel["exit"] else -1, "==", args.images
    )
    report.target("relabel: image reads", relabel["image_reads"], "==", 0)
    report.target(
        "fast path: uploads labelled in the Lambda", lambda_run["labelled_here"], "==", FAST_PATH_BATCHES
    )
    report.target("fast path warm s, one upload, one CPU", lambda_run.get("warm_s", 999.0), "<=", 3.0)
    report.target(
        "cost: USD per million images, compute and every call (label index apart)",
        priced["embedding_usd_per_million"],
        "<=",
        TARGET_USD_PER_MILLION,
    )
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
