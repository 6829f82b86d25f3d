"""The onnx labeler's pure path: labels files, model checks, preprocessing, classification and batching,
on classifiers built by tests/onnx_models.py."""

import json
import threading

import numpy as np
import pytest
from PIL import Image

from job.core.errors import ConfigError
from job.worker import convert, onnx_labels
from job.worker.onnx_labels import ModelError, Settings
from tests.job.worker_helpers import BLUE, RED, image_bytes
from tests.onnx_models import COLOURS, flat_input, red_blue

SETTINGS = Settings()


@pytest.fixture(scope="module")
def model() -> onnx_labels.Model:
    return onnx_labels.load(red_blue(), COLOURS, "colours", SETTINGS)


def _pixels(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> np.ndarray:
    return onnx_labels.preprocess(Image.new("RGB", size, colour), SETTINGS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (json.dumps(["red", "blue"]), ("red", "blue")),
        (json.dumps({"1": "blue", "0": "red"}), ("red", "blue")),  # torchvision/timm style index maps
        ("red\n\n  blue  \n", ("red", "blue")),
        ("\ufeffred\r\nblue\r\n", ("red", "blue")),  # a BOM and Windows line ends
    ],
)
def test_labels_files_in_every_published_form_give_the_classes_by_index(text, expected):
    assert onnx_labels.parse_labels(text.encode()) == expected


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "no class names"),
        (b"[1, 2]", "non-empty string"),
        (b'{"0": "red", "2": "blue"}', "without a gap"),
        (b"[broken", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_a_bad_labels_file_is_a_configuration_error_that_says_why(data, says):
    with pytest.raises(ModelError, match=says) as caught:
        onnx_labels.parse_labels(data, "s3://models/labels.json")
    assert isinstance(caught.value, ConfigError)  # exit 78: no retry helps
    assert "s3://models/labels.json" in str(caught.value)


def test_a_good_model_loads_with_its_digest_and_source(model):
    assert model.input_name == "image"
    assert model.labels == COLOURS
    assert len(model.digest) == 64
    assert model.source == f"colours@{model.digest[:12]}"


@pytest.mark.parametrize(
    ("data", "labels", "settings", "says"),
    [
        (flat_input(), COLOURS, SETTINGS, r"shape \['N', 150528\]; expected \(N, 3, H, W\)"),
        (red_blue(size=192), COLOURS, SETTINGS, "input height is 192, the setting is 224.*MODEL_SIZE=192"),
        (red_blue(), ("red", "green", "blue"), SETTINGS, "2 output classes, but the labels file names 3"),
        (b"not a model at all", COLOURS, SETTINGS, "onnxruntime cannot load it"),
        (b"", COLOURS, SETTINGS, "onnxruntime cannot load it"),
    ],
    ids=["wrong-input-rank", "wrong-input-size", "labels-wrong-length", "not-onnx", "empty-file"],
)
def test_a_model_that_does_not_fit_is_refused_before_any_image(data, labels, settings, says):
    with pytest.raises(ModelError, match=says):
        onnx_labels.load(data, labels, "m", settings)


def test_a_model_of_another_input_size_loads_when_the_setting_says_so():
    loaded = onnx_labels.load(red_blue(size=192), COLOURS, "m", Settings(size=192))
    assert loaded.labels == COLOURS


def test_preprocessing_is_the_imagenet_evaluation_transform():
    # given a wide image, left half red, right half blue
    image = Image.new("RGB", (600, 300), BLUE)
    image.paste(RED, (0, 0, 300, 300))
    # when it is prepared
    pixels = onnx_labels.preprocess(image, SETTINGS)
    # then it is CHW float32 at the model's size, the centre crop keeps both halves, and it is normalised
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32
    red_left = (RED[0] / 255 - SETTINGS.mean[0]) / SETTINGS.std[0]
    assert pixels[0, 112, 0] == pytest.approx(red_left, abs=1e-5)
    blue_right = (BLUE[2] / 255 - SETTINGS.mean[2]) / SETTINGS.std[2]
    assert pixels[2, 112, 223] == pytest.approx(blue_right, abs=1e-5)


def test_the_red_image_is_red_and_the_blue_one_blue_with_rekognitions_shape(model):
    # when a batch of one red and one blue image is classified
    answers = onnx_labels.classify(model, np.stack([_pixels(RED), _pixels(BLUE)]), SETTINGS)
    # then each image's best class is its colour, in percent, with the model as source
    red, blue = answers
    assert red[0].name == "red" and red[0].confidence > 99
    assert blue[0].name == "blue" and blue[0].confidence > 99
    assert red[0].to_dict() == {"name": "red", "confidence": red[0].confidence, "source": model.source}


def test_top_k_and_the_confidence_floor_limit_what_is_kept(model):
    # given the ImageNet mean colour, where red and blue weigh the same: both classes near 50 %
    pixels = np.stack([_pixels((124, 116, 104))])
    both = onnx_labels.classify(model, pixels, SETTINGS)[0]
    assert {label.name for label in both} == {"red", "blue"}
    assert all(45 < label.confidence < 55 for label in both)
    assert sum(label.confidence for label in both) == pytest.approx(100, abs=0.01)
    assert len(onnx_labels.classify(model, pixels, Settings(top_k=1))[0]) == 1
    assert onnx_labels.classify(model, pixels, Settings(min_confidence=60))[0] == ()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"])
def test_every_format_the_worker_reads_is_prepared(model, fmt):
    (pixels,) = onnx_labels.prepare(image_bytes(fmt, (500, 400), RED), SETTINGS)
    assert onnx_labels.classify(model, pixels[None], SETTINGS)[0][0].name == "red"


def test_a_file_that_does_not_decode_is_a_bad_image():
    with pytest.raises(convert.BadImage):
        onnx_labels.prepare(b"definitely not a picture", SETTINGS)


def test_the_batcher_serves_many_threads_in_few_inferences_each_its_own_answer(model):
    # given a batcher of 8 and 24 threads, each holding a red or a blue image
    batcher = onnx_labels.Batcher(model, Settings(batch=8), linger_s=0.5)
    colours = [RED if n % 3 else BLUE for n in range(24)]
    answers: dict[int, str] = {}
    start = threading.Barrier(24)

    def ask(n: int) -> None:
        pixels = _pixels(colours[n])
        start.wait()
        answers[n] = batcher.labels(pixels)[0].name

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    batcher.close()
    # then every thread got its own image's class, from at most a third as many inferences as images
    assert answers == {n: "red" if colours[n] == RED else "blue" for n in range(24)}
    assert 3 <= batcher.batches <= 8


def test_an_inference_failure_reaches_every_caller_of_that_batch(model):
    batcher = onnx_labels.Batcher(model, Settings(batch=4), linger_s=0.01)
    wrong = np.zeros((3, 10, 10), dtype=np.float32)  # not the model's input size
    with pytest.raises(Exception, match="(?i)dimension|shape|invalid"):
        batcher.labels(wrong)
    batcher.close()
    assert batcher.batches == 0


def test_the_feature_key_names_the_whole_model_digest(model):
    key = onnx_labels.feature_key("labels", model)
    assert key == f"labels@onnx:{model.digest}"
    other = onnx_labels.load(red_blue(strength=3.0), COLOURS, "colours", SETTINGS)
    assert onnx_labels.feature_key("labels", other) != key


@pytest.mark.parametrize("fixed", [1, 3])
def test_a_model_of_a_fixed_batch_size_labels_every_image_in_batches_of_that_size(fixed):
    # given a model exported with a fixed batch dimension (torch.onnx.export without dynamic_axes gives 1),
    # and a batcher set to 8
    model = onnx_labels.load(red_blue(batch=fixed), COLOURS, "colours", SETTINGS)
    assert model.fixed_batch == fixed
    colours = [RED, BLUE, RED, RED, BLUE]
    # when five images are classified at once / then each gets its own colour (the last inference padded)
    batch = np.stack([_pixels(c) for c in colours])
    names = [labels[0].name for labels in onnx_labels.classify(model, batch, SETTINGS)]
    assert names == ["red" if c == RED else "blue" for c in colours]
    # and the batcher never sends the model more than it declares
    batcher = onnx_labels.Batcher(model, Settings(batch=8), linger_s=0.05)
    futures = [batcher.submit(_pixels(c)) for c in colours]
    assert [f.result(timeout=30)[0].name for f in futures] == names
    batcher.close()
    assert batcher.batches >= -(-len(colours) // fixed)


def test_a_model_declaring_no_image_per_batch_is_refused_at_load():
    # given a model whose batch dimension is 0 / when loaded / then it is refused, with the reason
    with pytest.raises(onnx_labels.ModelError, match="declares a batch of 0 images"):
        onnx_labels.load(red_blue(batch=0), COLOURS, "colours", SETTINGS)


@pytest.mark.parametrize(
    ("available", "device", "chosen"),
    [
        (["CPUExecutionProvider"], "auto", ["CPUExecutionProvider"]),
        (
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            "auto",
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
        ),
        (["CUDAExecutionProvider", "CPUExecutionProvider"], "cpu", ["CPUExecutionProvider"]),
        (["CUDAExecutionProvider", "CPUExecutionProvider"], "cuda", ["CUDAExecutionProvider"]),
    ],
)
def test_the_execution_providers_follow_the_device(available, device, chosen):
    # given what an onnxruntime build offers / when the device is chosen / then these providers, in order
    assert onnx_labels.choose_providers(available, device) == chosen


def test_cuda_asked_where_there_is_none_or_where_it_falls_back_to_the_cpu_is_refused():
    # given this machine's onnxruntime (CPU only) / when the GPU is required / then the model is refused
    with pytest.raises(onnx_labels.ModelError, match="no CUDA"):
        onnx_labels.load(red_blue(), COLOURS, "colours", Settings(device="cuda"))
    # and when onnxruntime is asked for CUDA and runs the CPU instead (with a warning only), that is refused
    with (
        pytest.warns(UserWarning, match="CUDAExecutionProvider"),
        pytest.raises(onnx_labels.ModelError, match="CUDA did not load"),
    ):
        onnx_labels.load(
            red_blue(),
            COLOURS,
            "colours",
            Settings(device="cuda"),
            providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
        )
