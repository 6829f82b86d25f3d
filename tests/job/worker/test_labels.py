import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from job.core import clients
from job.worker import labels

IMAGE = labels.s3_image("bkt", "k.jpg", "v1")
RESPONSE = {
    "Labels": [
        {
            "Name": "Car",
            "Confidence": 98.123456,
            "Parents": [{"Name": "Vehicle"}, {"Name": "Transportation"}],
            "Categories": [{"Name": "Vehicles and Automotive"}],
        },
        {"Name": "Person", "Confidence": 75.0, "Parents": [], "Categories": []},
    ],
    "LabelModelVersion": "3.0",
}


def _no_wait() -> float:
    return 0.0


def test_s3_image_pins_the_version():
    # given/when/then: a known version is passed, the "null" version of unversioned buckets is not
    assert IMAGE == {"S3Object": {"Bucket": "bkt", "Name": "k.jpg", "Version": "v1"}}
    assert labels.s3_image("b", "k", "null") == {"S3Object": {"Bucket": "b", "Name": "k"}}


def test_labels_are_normalized_with_parents_and_categories():
    # given a DetectLabels answer / when normalized
    result = labels.normalize_labels(RESPONSE)
    # then names, rounded confidences, parents and categories remain
    assert result.model_version == "3.0"
    assert result.labels[0] == labels.Label(
        "Car", 98.123, ("Vehicle", "Transportation"), ("Vehicles and Automotive",)
    )
    assert result.labels[0].to_dict()["parents"] == ["Vehicle", "Transportation"]


def test_text_keeps_lines_above_the_floor():
    # given lines and words at different confidences
    response = {
        "TextDetections": [
            {"DetectedText": "ACME TRUCKS", "Type": "LINE", "Confidence": 99.0},
            {"DetectedText": "ACME", "Type": "WORD", "Confidence": 99.0},
            {"DetectedText": "blur", "Type": "LINE", "Confidence": 40.0},
        ]
    }
    # when normalized / then only confident lines remain
    assert labels.normalize_text(response, 70) == (labels.TextLine("ACME TRUCKS", 99.0),)


@pytest.mark.parametrize(
    ("name", "conf", "expected"),
    [("car", 90, True), ("Vehicle", 90, True), ("Car", 99, False), ("Boat", 10, False)],
)
def test_text_if_matches_labels_and_parents(name, conf, expected):
    # given normalized labels / when the --text-if rule is tested / then names and parents count
    assert labels.labels_match(labels.normalize_labels(RESPONSE).labels, name, conf) is expected


def test_calls_send_the_options_and_take_a_token_each():
    # given a stubbed Rekognition client expecting exact parameters
    client = clients.client("rekognition")
    taken = []
    with Stubber(client) as stub:
        stub.add_response("detect_labels", RESPONSE, {"Image": IMAGE, "MinConfidence": 80.0, "MaxLabels": 5})
        stub.add_response(
            "detect_text",
            {"TextDetections": [{"DetectedText": "STOP", "Type": "LINE", "Confidence": 97.0}]},
            {"Image": IMAGE},
        )
        stub.add_response(
            "detect_custom_labels",
            {"CustomLabels": [{"Name": "Logo", "Confidence": 91.5}]},
            {
                "ProjectVersionArn": "arn:aws:rekognition:pv",
                "Image": IMAGE,
                "MinConfidence": 80.0,
                "MaxResults": 5,
            },
        )
        # when all three features run
        got = labels.detect_labels(client, IMAGE, 80.0, 5, lambda: taken.append(1))
        text = labels.detect_text(client, IMAGE, 80.0, lambda: taken.append(1))
        custom = labels.detect_custom_labels(
            client, "arn:aws:rekognition:pv", IMAGE, 80.0, 5, lambda: taken.append(1)
        )
        stub.assert_no_pending_responses()
    # then each answer is normalized and each call took one rate-limit token
    assert [lb.name for lb in got.labels] == ["Car", "Person"]
    assert text == (labels.TextLine("STOP", 97.0),)
    assert custom == (labels.CustomLabel("Logo", 91.5),)
    assert len(taken) == 3


@pytest.mark.parametrize(
    "code", ["InvalidImageFormatException", "ImageTooLargeException", "InvalidS3ObjectException"]
)
def test_rejected_images_become_image_rejected(code):
    # given Rekognition refusing the image
    client = clients.client("rekognition")
    with Stubber(client) as stub:
        stub.add_client_error(
            "detect_labels", service_error_code=code, service_message="no", http_status_code=400
        )
        # when labels are asked for / then the refusal is an ImageRejected carrying the code
        with pytest.raises(labels.ImageRejected) as info:
            labels.detect_labels(client, IMAGE, 70, 10, _no_wait)
    assert info.value.code == code


def _throttle() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DetectLabels")


def test_throttled_calls_are_retried_each_through_the_limiter():
    # given a call throttled twice, then answered
    answers = [_throttle(), _throttle(), RESPONSE]
    taken, slept = [], []

    def fn(**_kw):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    # when called
    got = labels._call(fn, lambda: taken.append(1), sleep=slept.append, Image=IMAGE)
    # then it answered on the third attempt, each attempt took a token, and it backed off twice
    assert got is RESPONSE
    assert len(taken) == 3 and len(slept) == 2
    assert all(0 <= s <= labels.RETRY_CAP for s in slept)


def test_throttling_past_every_attempt_surfaces_and_is_not_a_rejection():
    # given Rekognition throttling every attempt
    taken = []

    def fn(**_kw):
        raise _throttle()

    # when called with 3 attempts / then the ClientError surfaces for the run loop, after 3 tokens
    with pytest.raises(ClientError) as info:
        labels._call(fn, lambda: taken.append(1), attempts=3, sleep=lambda _s: None)
    assert labels.is_throttle(info.value) and labels.is_transient(info.value)
    assert len(taken) == 3


def test_other_client_errors_are_not_retried():
    # given an access error / when called / then it surfaces at once
    taken = []

    def fn(**_kw):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DetectLabels")

    with pytest.raises(ClientError):
        labels._call(fn, lambda: taken.append(1), sleep=lambda _s: None)
    assert len(taken) == 1


def test_a_model_that_is_not_running_is_model_not_running_at_once():
    # given a Custom Labels model that is stopped (Rekognition answers ResourceNotReadyException)
    client = clients.client("rekognition")
    arn = "arn:aws:rekognition:us-east-1:1:project/p/version/v/1"
    with Stubber(client) as stub:
        stub.add_client_error(
            "detect_custom_labels", service_error_code="ResourceNotReadyException", http_status_code=400
        )
        # when custom labels are asked for / then it is ModelNotRunning after one call, not an image error
        with pytest.raises(labels.ModelNotRunning):
            labels.detect_custom_labels(client, arn, IMAGE, 70, 10, _no_wait)
        stub.assert_no_pending_responses()
