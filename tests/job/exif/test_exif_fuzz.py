"""Mutated real headers never make the extractor raise, hang, or read past its byte bound."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from job import exif
from tests.job.exif.test_exif import camera_exif, encode, noise_image

BUDGET = 256 * 1024
SEEDS = [
    encode(noise_image(48, 32), "JPEG", exif=camera_exif().tobytes()),
    encode(noise_image(24, 16), "PNG", exif=camera_exif().tobytes()),
    encode(noise_image(24, 16), "WEBP", exif=camera_exif().tobytes()),
    encode(noise_image(12, 8), "TIFF", exif=camera_exif().tobytes()),
]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    header = min(len(data), 2048)  # the metadata lives here: mutate it, not the pixels
    for _ in range(draw(st.integers(1, 12))):
        action = draw(st.sampled_from(["flip", "byte", "cut", "dup", "u32"]))
        at = draw(st.integers(0, header - 1))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "byte":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
            header = max(1, min(header, len(data)))
            if not data:
                break
        elif action == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        else:  # a hostile offset or count
            value = draw(st.sampled_from([0, 1, 8, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, at]))
            data[at : at + 4] = value.to_bytes(4, draw(st.sampled_from(["little", "big"])))
    return bytes(data)


@settings(
    max_examples=400,
    deadline=timedelta(seconds=5),  # a hang detector, not a speed target
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(mutated())
def test_mutated_headers_never_raise_or_overread(data):
    # given a real image with a damaged header
    reads: list[tuple[int, int]] = []

    def read(start: int, end: int) -> bytes:
        reads.append((start, end))
        return data[start:end]

    # when it is extracted under a byte budget
    record = exif.extract(read, len(data), max_bytes=BUDGET)
    # then it returns a record within the budget, and reads only inside the object
    assert isinstance(record, exif.ExifRecord)
    assert record.bytes_read <= BUDGET
    assert all(0 <= start < end <= len(data) for start, end in reads)
    assert record.bytes_read == sum(end - start for start, end in reads)
