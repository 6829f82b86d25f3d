"""The bucketlens manifest format, shared by the submitter (writes) and the worker (reads).

A manifest is a folder of gzip JSON Lines shards plus a `manifest.json` that lists them:

    s3://<manifests-bucket>/<prefix>/<manifest-id>/manifest.json
    s3://<manifests-bucket>/<prefix>/<manifest-id>/shard-00000.jsonl.gz ...

Array child *i* of a job reads shard `shard_offset + i`. Only the standard library is used here so the
Lambda package can carry this module alone.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from urllib.parse import urlsplit

FORMAT = "bucketlens-manifest/1"
MANIFEST_NAME = "manifest.json"
DEFAULT_SHARD_SIZE = 1000


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object to process; version and etag pin the exact bytes when known."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    last_modified: str | None = None
    sequencer: str | None = None

    def to_json(self) -> str:
        # Byte-for-byte what json.dumps(asdict-without-None, ensure_ascii=False) gives, 5x faster: shards of
        # a million-row inventory are written in one Lambda (bench/inventory_bench.py).
        parts = []
        for name in _REF_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            kind = type(value)
            text = _quote(value) if kind is str else str(value) if kind is int else _ENCODER.encode(value)
            parts.append(f'"{name}": {text}')
        return "{" + ", ".join(parts) + "}"

    @classmethod
    def from_dict(cls, data: dict) -> ObjectRef:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


_REF_FIELDS = tuple(ObjectRef.__dataclass_fields__)
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_quote = encode_basestring  # the string escaping json.dumps(ensure_ascii=False) uses


@dataclass(frozen=True)
class Manifest:
    """What manifest.json says: the shards, in order, and what produced them."""

    manifest_id: str
    shards: tuple[str, ...]
    total: int
    source: dict = field(default_factory=dict)
    features: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "manifest_id": self.manifest_id,
                "total": self.total,
                "shards": list(self.shards),
                "source": self.source,
                "features": list(self.features),
            },
            indent=1,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(
                f"not a bucketlens manifest (format={data.get('format')!r}, expected {FORMAT!r})"
            )
        return cls(
            manifest_id=data["manifest_id"],
            shards=tuple(data["shards"]),
            total=int(data["total"]),
            source=data.get("source", {}),
            features=tuple(data.get("features", ())),
        )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> (`bucket`, `some/key`)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parts.netloc, parts.path.lstrip("/")


def is_manifest(data: bytes | str) -> bool:
    """True for a bucketlens manifest.json (as opposed to an S3 Inventory one)."""
    try:
        return json.loads(data).get("format") == FORMAT
    except (ValueError, AttributeError):
        return False


def encode_shard(refs: Iterable[ObjectRef]) -> bytes:
    """Gzip JSON Lines, deterministic bytes (mtime 0) so a rewrite of the same work is identical."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz:  # 9: 8x the CPU, 18% smaller
        gz.write("".join(ref.to_json() + "\n" for ref in refs).encode())  # one write: far fewer zlib calls
    return buf.getvalue()


def decode_shard(data: bytes) -> Iterator[ObjectRef]:
    for line in gzip.decompress(data).splitlines():
        if line.strip():
            yield ObjectRef.from_dict(json.loads(line))


def shard_name(number: int) -> str:
    return f"shard-{number:05d}.jsonl.gz"


def write_manifest(
    put: Callable[[str, bytes], None],
    folder: str,
    manifest_id: str,
    refs: Iterable[ObjectRef],
    shard_size: int = DEFAULT_SHARD_SIZE,
    source: dict | None = None,
    features: Iterable[str] = (),
) -> Manifest:
    """Stream refs into shards under `folder` (a key prefix), then write manifest.json last.

    Writing manifest.json last means a reader never sees a manifest whose shards are missing.
    """
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    folder = folder.rstrip("/")
    shards: list[str] = []
    batch: list[ObjectRef] = []
    total = 0

    def flush() -> None:
        name = shard_name(len(shards))
        put(f"{folder}/{name}", encode_shard(batch))
        shards.append(name)
        batch.clear()

    for ref in refs:
        batch.append(ref)
        total += 1
        if len(batch) >= shard_size:
            flush()
    if batch:
        flush()
    manifest = Manifest(manifest_id, tuple(shards), total, source or {}, tuple(features))
    put(f"{folder}/{MANIFEST_NAME}", manifest.to_json().encode())
    return manifest


def shard_key(manifest_key: str, manifest: Manifest, index: int) -> str | None:
    """The key of shard `index`, next to manifest.json; None when the index is past the last shard."""
    if index < 0 or index >= len(manifest.shards):
        return None
    folder = manifest_key.rsplit("/", 1)[0] if "/" in manifest_key else ""
    return f"{folder}/{manifest.shards[index]}" if folder else manifest.shards[index]
