"""The onnx labeler in a real run: the model read from S3 once, the whole-object read, batching, the stored
labels and their index, and the rerun guarantee (no inference, no full read) against moto."""

import pytest

from job.core import clients, errors, label_index
from job.worker import onnx_labels, run
from job.worker.config import from_args
from tests.job.worker_helpers import BLUE, BUCKET, RED, RESULTS, TABLE, image_bytes, items, run_summary, world
from tests.onnx_models import COLOURS, red_blue

MODEL_URI = f"s3://{RESULTS}/models/colours.onnx"
LABELS_URI = f"s3://{RESULTS}/models/colours.txt"
# red and blue in every format the worker decodes; a text file named .jpg is the image that is not one
IMAGES = {
    "in/red.jpg": image_bytes("JPEG", (640, 480), RED),
    "in/blue.png": image_bytes("PNG", (300, 500), BLUE),
    "in/red.heic": image_bytes("HEIF", (400, 300), RED),
    "in/blue.webp": image_bytes("WEBP", (400, 300), BLUE),
    "in/red.tiff": image_bytes("TIFF", (256, 256), RED),
    "in/blue.avif": image_bytes("AVIF", (320, 240), BLUE),
}


def _upload_model(model: bytes = red_blue(), labels: bytes = "\n".join(COLOURS).encode()) -> None:
    s3 = clients.client("s3")
    s3.put_object(Bucket=RESULTS, Key="models/colours.onnx", Body=model)
    s3.put_object(Bucket=RESULTS, Key="models/colours.txt", Body=labels)


def _config(**options):
    base = {
        "source": f"s3://{BUCKET}/in/",
        "table": TABLE,
        "results_uri": f"s3://{RESULTS}/runs",
        "labeler": "onnx",
        "model_uri": MODEL_URI,
        "model_labels_uri": LABELS_URI,
    }
    return from_args({**base, **options}, env={})


def test_the_red_images_are_labelled_red_and_the_blue_ones_blue_and_indexed(aws):
    # given red and blue images in six formats and the colour model in S3
    world({**IMAGES, "in/not-really.jpg": b"plain text"})
    _upload_model()
    # when a child runs with the onnx labeler
    assert run.run(_config()) == errors.EXIT_OK
    # then every image's best label is its colour, stored like Rekognition's with the model as source
    stored = items()
    digest = stored["in/red.jpg"]["features"].removeprefix("labels@onnx:")
    assert len(digest) == 64
    for key in IMAGES:
        item = stored[key]
        assert item["status"] == "done", item
        assert item["labels"][0]["name"] == key.split("/")[1].split(".")[0]
        assert item["labels"][0]["confidence"] > 99
        assert item["labels"][0]["source"] == f"colours@{digest[:12]}"
        assert item["label_model_version"] == f"colours@{digest[:12]}"
        assert item["rekognition_input"] == "onnx"
    # and the file that is no image is a recorded error, as with Rekognition
    assert stored["in/not-really.jpg"]["status"] == "error"
    # and the label index finds them, so search and the report work unchanged
    ddb = clients.client("dynamodb")
    found = {row["key"] for row in label_index.query(ddb, label_index.table_name(TABLE), "red", 90)}
    assert found == {"in/red.jpg", "in/red.heic", "in/red.tiff"}
    # and the images were batched: fewer inferences than images is not guaranteed on a busy machine,
    # but every image was classified exactly once
    assert run_summary()["calls"]["onnx.Classify"] == len(IMAGES)


def test_a_rerun_makes_no_inference_and_no_full_read_and_a_new_model_relabels(fault_server):
    # given a finished onnx run (through the counting fault layer)
    world(IMAGES)
    _upload_model()
    assert run.run(_config()) == errors.EXIT_OK
    layer = fault_server.layer
    layer.reset_counts()
    layer.record("S3.GetObject")
    # when it runs again with the same model
    assert run.run(_config()) == errors.EXIT_OK
    # then no image was read and none classified, and this process, which loaded the model already, only
    # checked that its two files are unchanged (a HEAD each) instead of reading them again
    reads = [path for path, _ in layer.recorded("S3.GetObject")]
    assert [path for path in reads if path.startswith(f"/{BUCKET}/")] == []
    assert [path for path in reads if "/models/" in path] == [] and layer.count("S3.HeadObject") == 2
    summary = run_summary()
    assert "onnx.Classify" not in summary["calls"]
    assert summary["outcomes"]["skipped_done"] == len(IMAGES)
    assert layer.count("DynamoDB.PutItem") == 0
    # when the model is replaced by another version
    _upload_model(red_blue(strength=3.0))
    assert run.run(_config()) == errors.EXIT_OK
    # then every image is labelled again, by the new model
    assert run_summary()["calls"]["onnx.Classify"] == len(IMAGES)
    new_digest = items()["in/red.jpg"]["features"].removeprefix("labels@onnx:")
    assert all(item["labels"][0]["source"] == f"colours@{new_digest[:12]}" for item in items().values())


@pytest.mark.parametrize(
    ("model", "labels", "says"),
    [
        (None, None, "--model-uri s3://bl-results-bucket/models/colours.onnx: NoSuchKey"),
        (red_blue(), b"red\ngreen\nblue\n", "2 output classes, but the labels file names 3"),
        (b"\x08\x01garbage", b"red\nblue\n", "onnxruntime cannot load it"),
    ],
    ids=["no-model-file", "labels-wrong-length", "not-a-model"],
)
def test_a_model_that_cannot_be_used_ends_the_run_as_configuration_before_any_image(aws, model, labels, says):
    # given images and a missing or unusable model
    world(IMAGES)
    if model is not None:
        _upload_model(model, labels)
    # when the child runs
    code = run.run(_config())
    # then it exits 78 with the reason in its summary, and no image was touched
    assert code == errors.EXIT_CONFIG
    assert says in run_summary()["fatal"]
    assert items() == {}


def test_onnx_settings_are_checked_before_any_aws_call():
    from job.core.errors import ConfigError

    with pytest.raises(ConfigError, match="--model-uri"):
        from_args({"source": "s3://b/", "labeler": "onnx"}, env={})
    with pytest.raises(ConfigError, match="labels only"):
        _config(features="labels,text")
    with pytest.raises(ConfigError, match="--labeler must be one of"):
        _config(labeler="rekognition-v2")
    with pytest.raises(ConfigError, match="three numbers"):
        _config(model_mean="0.5,0.5")
    with pytest.raises(ConfigError, match="--model-top-k must be between 1 and 100"):
        _config(model_top_k="0")
    with pytest.raises(ConfigError, match="--model-std must be positive"):
        _config(model_std="0.2,0,0.2")
    with pytest.raises(ConfigError, match="--model-device must be one of auto, cpu, cuda"):
        _config(model_device="gpu")
    # and what is not given keeps the ImageNet defaults
    assert _config().model_settings == onnx_labels.Settings()
    # and the environment names of the issue reach the same settings
    env = {
        "BUCKETLENS_LABELER": "onnx",
        "BUCKETLENS_MODEL_URI": MODEL_URI,
        "BUCKETLENS_MODEL_LABELS_URI": LABELS_URI,
        "BUCKETLENS_MODEL_SIZE": "192",
        "BUCKETLENS_MODEL_MEAN": "0.5,0.5,0.5",
        "BUCKETLENS_MODEL_TOP_K": "3",
    }
    cfg = from_args({"source": f"s3://{BUCKET}/"}, env=env)
    assert (cfg.labeler, cfg.model_uri, cfg.model_labels_uri) == ("onnx", MODEL_URI, LABELS_URI)
    assert cfg.model_settings.size == 192 and cfg.model_settings.mean == (0.5, 0.5, 0.5)
    assert cfg.model_settings.top_k == 3


def test_a_job_for_the_gpu_that_finds_no_cuda_ends_as_configuration_before_any_image(aws):
    # given images, a usable model, and the GPU job definition's BUCKETLENS_MODEL_DEVICE=cuda on a machine
    # whose onnxruntime has no CUDA (a GPU job placed where CUDA does not load)
    world(IMAGES)
    _upload_model(red_blue(), b"red\nblue\n")
    # when the child runs
    code = run.run(_config(model_device="cuda"))
    # then it exits 78, saying so, and no image was labelled on the CPU at GPU prices
    assert code == errors.EXIT_CONFIG
    assert "--model-device cuda: this onnxruntime has no CUDA" in run_summary()["fatal"]
    assert items() == {}
