"""onnx labeler benchmark: images/s per vCPU with a ResNet-50-sized model, the cost per million images on
CPU Spot beside Rekognition's, and the rerun guarantee.

Usage: python bench/onnx_bench.py [--images 48] [--spot-vcpu-hour 0.02]

The model is built here with the onnx helper API: ResNet-50's graph (53 convolutions in 16 bottleneck
blocks, 25.6 M parameters, 1,000 classes) with random weights, which cost the same time as trained ones.
Part 1 runs the model alone, one thread and batches of 16 (the default), for its ceiling on one vCPU.
Part 2 runs one child, `python -m job run`, with what Terraform gives a job: the deployed environment of
bench/worker_bench.py plus the onnx labeler's (BUCKETLENS_LABELER, the model and labels in S3), and the
job definition's one vCPU (the child is pinned to one CPU; the emulator runs on the other). Its images are
12 MP camera JPEGs (a gradient under noise, 1.8 MB), read whole, decoded and classified: images/s per vCPU
counts from the first image to the last; loading the model is priced apart, once per shard of 1,000
images (the deployed shard size). The same child then runs again: it must make no inference and read no
image. Part 3 prices a million images: vCPU-hours at --spot-vcpu-hour (USD; a c7i/m7i Spot vCPU-hour in
us-east-1 is about 0.02, check your region's) plus the AWS calls the fault layer counted, beside
Rekognition's list price; the label index is reckoned at the same rows an image as in faults_bench (it costs
the same with either labeler). Every target is enforced: the bench exits 1 naming those missed (the child
fails, an image is not done, the rerun infers or reads, or compute and counted calls are over 1 % of
DetectLabels' price). Writes bench/results/onnx.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from bench.faults_bench import LABEL_ROWS_RECKONED, camera_image, cost_table  # noqa: E402
from bench.results import Report  # noqa: E402
from bench.worker_bench import BUCKET, RESULTS, deployed_environment  # noqa: E402
from job.commands import provision  # noqa: E402
from job.core import clients, label_index  # noqa: E402
from job.worker import onnx_labels  # noqa: E402
from lambda_submitter.pricing import GROUP_2, tiered_cost  # noqa: E402
from tests import peak_rss  # noqa: E402
from tests.faults import FaultServer  # noqa: E402

CLASSES = 1000
SHARD_SIZE = 1000  # the submitter's default shard: one model load per 1,000 images
TARGET_SHARE = 0.01  # compute and counted calls, of DetectLabels' list price
SOURCE = f"s3://{BUCKET}/onnx/"


class _Graph:
    """ResNet-50 (v1.5: the stride on the 3x3 convolution) as ONNX nodes, BatchNorm folded into biases."""

    def __init__(self, seed: int = 50) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.weights: list = []
        self.parameters = 0
        self.n = 0

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> str:
        w, b, y = self._name("w"), self._name("b"), self._name("conv")
        fan_in = cin * k * k
        weights = self.rng.normal(0, np.sqrt(2 / fan_in), (cout, cin, k, k)).astype(np.float32)
        self.weights += [
            numpy_helper.from_array(weights, w),
            numpy_helper.from_array(np.zeros(cout, np.float32), b),
        ]
        self.parameters += weights.size + cout
        pad = k // 2
        self.nodes.append(
            helper.make_node(
                "Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4
            )
        )
        if not relu:
            return y
        out = self._name("relu")
        self.nodes.append(helper.make_node("Relu", [y], [out]))
        return out

    def bottleneck(self, x: str, cin: int, width: int, stride: int) -> str:
        cout = width * 4
        y = self.conv(x, cin, width, 1)
        y = self.conv(y, width, width, 3, stride)
        y = self.conv(y, width, cout, 1, relu=False)
        shortcut = self.conv(x, cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else x
        added, out = self._name("add"), self._name("relu")
        self.nodes += [
            helper.make_node("Add", [y, shortcut], [added]),
            helper.make_node("Relu", [added], [out]),
        ]
        return out

    def resnet50(self, classes: int) -> bytes:
        x = self.conv("image", 3, 64, 7, 2)
        pooled = self._name("pool")
        self.nodes.append(
            helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
        )
        x, cin = pooled, 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for block in range(blocks):
                x = self.bottleneck(x, cin, width, stride if block == 0 else 1)
                cin = width * 4
        self.nodes += [
            helper.make_node("GlobalAveragePool", [x], ["gap"]),
            helper.make_node("Flatten", ["gap"], ["features"], axis=1),
            helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1),
        ]
        fc = self.rng.normal(0, np.sqrt(1 / cin), (classes, cin)).astype(np.float32)
        self.weights += [
            numpy_helper.from_array(fc, "fc_w"),
            numpy_helper.from_array(np.zeros(classes, np.float32), "fc_b"),
        ]
        self.parameters += fc.size + classes
        graph = helper.make_graph(
            self.nodes,
            "resnet50_random",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 224, 224])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
            self.weights,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model.SerializeToString()


def resnet50(classes: int = CLASSES) -> tuple[bytes, int, int]:
    """(model bytes, parameters, convolutions) of a ResNet-50-sized classifier with random weights."""
    graph = _Graph()
    data = graph.resnet50(classes)
    return data, graph.parameters, sum(1 for node in graph.nodes if node.op_type == "Conv")


def model_only(data: bytes, batches: int = 6) -> dict:
    """The model's own rate on one thread, batches of the default size: the ceiling of one vCPU."""
    settings = onnx_labels.Settings()
    model = onnx_labels.load(
        data, [f"class-{i}" for i in range(CLASSES)], "resnet50", settings, ["CPUExecutionProvider"]
    )
    return batch_rate(lambda batch: onnx_labels.classify(model, batch, settings), settings.batch, batches)


def batch_rate(infer: Any, size: int, batches: int) -> dict:
    """Images/s of `infer` over random batches of `size` on this thread, after one warm-up batch."""
    batch = np.random.default_rng(1).normal(0, 1, (size, 3, 224, 224)).astype(np.float32)
    infer(batch)
    start = time.perf_counter()
    for _ in range(batches):
        infer(batch)
    seconds = time.perf_counter() - start
    return {"batch": size, "threads": 1, "images_per_s": round(batches * size / seconds, 2)}


def _onnx_environment(url: str, table: str) -> dict[str, str]:
    """What Terraform gives an onnx job: the deployed environment and the labeler's model (terraform/main.tf)."""
    return {
        **deployed_environment(url, table, capacity=True),
        "BUCKETLENS_LABELER": "onnx",
        "BUCKETLENS_MODEL_URI": f"s3://{RESULTS}/models/resnet50.onnx",
        "BUCKETLENS_MODEL_LABELS_URI": f"s3://{RESULTS}/models/imagenet.txt",
        "BUCKETLENS_PROGRESS_SECONDS": "600",
    }


def pinned(cmd: list[str], env: dict[str, str], cpu: int, log: Path) -> tuple[int, float]:
    """(exit code, wall s) of one process pinned to `cpu` like a one-vCPU job, its log lines to `log`."""
    taskset = shutil.which("taskset")
    pin = [taskset, "-c", str(cpu)] if taskset else []
    with log.open("w") as stderr:
        measured = peak_rss.run([*pin, *cmd], env, ROOT, 1800, stderr=stderr)
    return measured.exit, measured.wall_s


def _child(server: FaultServer, job: str, cpu: int, log: Path) -> tuple[int, float]:
    """(exit code, wall s) of one child over the bench images, pinned to `cpu` like a one-vCPU job."""
    env = {**_onnx_environment(server.url, f"t-{job}"), "AWS_BATCH_JOB_ID": job}
    return pinned([sys.executable, "-m", "job", "run", "--source", SOURCE], env, cpu, log)


def logged(log: Path, message: str) -> dict:
    """The first JSON log line with this message, else {}."""
    for line in log.read_text().splitlines():
        if line.startswith("{") and json.loads(line).get("message") == message:
            return json.loads(line)
    return {}


def summary_of(job: str) -> dict:
    """Child 0's run summary."""
    body = clients.client("s3").get_object(Bucket=RESULTS, Key=f"runs/{job}/0.json")["Body"].read()
    return json.loads(body)


def vcpu_hours(images_per_s: float, model_load_s: float) -> float:
    """vCPU-hours a million images take at this rate, with one model load per shard of 1,000."""
    return 1_000_000 / images_per_s / 3600 + (1_000_000 / SHARD_SIZE) * model_load_s / 3600


def child_runs(server: FaultServer, images: int, cpu: int, tmp: Path) -> dict:
    """A first run (images/s per vCPU, calls counted) and a rerun (no inference, no read) of one child."""
    job = "onnx"
    provision.setup(clients.client("dynamodb"), clients.client("s3"), f"t-{job}", [], "us-east-1")
    layer = server.layer
    layer.reset_counts()
    code, wall = _child(server, job, cpu, tmp / "first.log")
    first = layer.counts("passed")
    summary = summary_of(job)
    loaded = logged(tmp / "first.log", "model loaded")
    model_s = float(loaded.get("seconds") or 0.0)
    working_s = max(1e-9, summary["duration_s"] - model_s)
    label_rows = clients.client("dynamodb").scan(
        TableName=label_index.table_name(f"t-{job}"), Select="COUNT"
    )["Count"]
    layer.reset_counts()
    layer.record("S3.GetObject")
    rerun_code, rerun_wall = _child(server, job, cpu, tmp / "rerun.log")
    rerun = summary_of(job)
    image_reads = [p for p, _ in layer.recorded("S3.GetObject") if p.startswith(f"/{BUCKET}/")]
    return {
        "images": images,
        "exit": code,
        "done": summary["outcomes"].get("done", 0),
        "inferences": summary["calls"].get("onnx.Classify", 0),
        "wall_s": round(wall, 1),
        "model_load_s": round(model_s, 2),
        "images_per_s_per_vcpu": round(images / working_s, 2),
        "label_rows": label_rows,
        "counts": first,
        "rerun": {
            "exit": rerun_code,
            "wall_s": round(rerun_wall, 1),
            "inferences": rerun["calls"].get("onnx.Classify", 0),
            "image_reads": len(image_reads),
            "skipped_done": rerun["outcomes"].get("skipped_done", 0),
        },
    }


def cost(run: dict, spot_vcpu_hour: float) -> dict:
    """USD per million images on CPU Spot, beside Rekognition's list price for DetectLabels, with the label
    index reckoned as for Rekognition (faults_bench.cost_table)."""
    hours = vcpu_hours(run["images_per_s_per_vcpu"], run["model_load_s"])
    calls = cost_table(run["counts"], run["images"], run["label_rows"])
    compute_usd = round(hours * spot_vcpu_hour, 2)
    own = round(compute_usd + calls["counted_usd_per_million"], 2)
    rekognition = tiered_cost(1_000_000, GROUP_2)
    return {
        "spot_usd_per_vcpu_hour": spot_vcpu_hour,
        "vcpu_hours_per_million": round(hours, 1),
        "compute_usd": compute_usd,
        "counted_usd": calls["counted_usd_per_million"],
        "label_index_usd_reckoned": calls["label_index_usd_reckoned"],
        "calls_per_image": calls["calls_per_image"],
        "own_usd_per_million": own,
        "onnx_total_usd_per_million": calls["label_index_usd_reckoned"] + own,
        "rekognition_detect_labels_usd_per_million": rekognition,
        "share_of_rekognition": round(own / rekognition, 4),
    }


def build_parser(doc: str = __doc__) -> argparse.ArgumentParser:
    """The bench's command line (tests/test_docs.py parses the documented ones with it); the embedding
    bench takes the same."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--spot-vcpu-hour", type=float, default=0.02)
    return parser


def child_cpu() -> int:
    """The CPU a one-vCPU child is pinned to: this process and the emulator move off it."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(cpus[1:]) or {cpus[0]})
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    return cpus[0]


def main() -> int:
    args = build_parser().parse_args()
    cpu = child_cpu()

    data, parameters, convolutions = resnet50()
    model = model_only(data)
    print(
        json.dumps(
            {
                "bench": "onnx_model",
                "parameters_m": round(parameters / 1e6, 1),
                "convolutions": convolutions,
                "mb": round(len(data) / 1e6, 1),
                **model,
            }
        )
    )
    with FaultServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        clients.reset()
        provision.setup(
            clients.client("dynamodb"), clients.client("s3"), "bench-setup", [BUCKET, RESULTS], "us-east-1"
        )
        s3 = clients.client("s3")
        s3.put_object(Bucket=RESULTS, Key="models/resnet50.onnx", Body=data)
        s3.put_object(
            Bucket=RESULTS,
            Key="models/imagenet.txt",
            Body="\n".join(f"class-{i}" for i in range(CLASSES)).encode(),
        )
        photo = camera_image(4032, 3024, "JPEG", 6)
        for i in range(args.images):
            s3.put_object(Bucket=BUCKET, Key=f"onnx/{i:04d}.jpg", Body=photo)
        run = child_runs(server, args.images, cpu, Path(tmp))
    priced = cost(run, args.spot_vcpu_hour)
    print(
        json.dumps(
            {
                "bench": "onnx_child",
                "photo_mb": round(len(photo) / 1e6, 1),
                **{k: v for k, v in run.items() if k != "counts"},
            }
        )
    )
    print(json.dumps({"bench": "onnx_cost_per_million", **priced}))
    report = Report(
        "onnx",
        {
            "images": args.images,
            "spot_usd_per_vcpu_hour": args.spot_vcpu_hour,
            "label_index_rows_reckoned": LABEL_ROWS_RECKONED,
        },
    )
    report.figure(
        "images_per_s_per_vcpu",
        run["images_per_s_per_vcpu"],
        "one child on one vCPU, camera JPEGs read whole",
    )
    report.figure("model_images_per_s", model["images_per_s"], "the model alone, one thread, batches of 16")
    report.figure("model_load_s", run["model_load_s"], "one child loading the model from S3, checked")
    report.figure(
        "vcpu_hours_per_million", priced["vcpu_hours_per_million"], "one model load per 1,000 images"
    )
    report.figure("compute_usd_per_million", priced["compute_usd"], "vCPU-hours at the Spot price")
    report.figure(
        "counted_usd_per_million",
        priced["counted_usd"],
        "counted calls per image done at list prices: S3 reads, the result (label index apart)",
    )
    report.figure(
        "label_index_usd_per_million",
        priced["label_index_usd_reckoned"],
        "reckoned, not counted: the same rows an image as Rekognition's",
    )
    report.figure(
        "total_usd_per_million",
        priced["onnx_total_usd_per_million"],
        "compute, counted calls and the reckoned label index",
    )
    report.figure(
        "share_of_rekognition",
        priced["share_of_rekognition"],
        "compute and counted calls, against DetectLabels' list price (the label index is the same for both)",
    )
    report.target(
        "first run: every image done once", run["done"] if not run["exit"] else -1, "==", args.images
    )
    report.target("first run: inferences", run["inferences"], "==", args.images)
    rerun = run["rerun"]
    report.target("rerun: inferences", rerun["inferences"] + (1 if rerun["exit"] else 0), "==", 0)
    report.target("rerun: image reads", rerun["image_reads"], "==", 0)
    report.target("rerun: images skipped as done", rerun["skipped_done"], "==", args.images)
    report.target(
        "cost: compute and counted calls, share of DetectLabels'",
        priced["share_of_rekognition"],
        "<=",
        TARGET_SHARE,
    )
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
