"""Options several operator commands share: the tables, and the embedding model with its vector bucket,
read as the jobs read them (the same environment variables), so a command run where the jobs run needs none."""

from __future__ import annotations

import argparse
import os
from typing import Any

from job.core import label_index

EMBEDDING = ("embed_image_uri", "embed_text_uri", "embed_tokenizer_uri")


def add_tables(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--table",
        default=os.environ.get("BUCKETLENS_TABLE") or "bucketlens-results",
        help="results table [env BUCKETLENS_TABLE]",
    )
    p.add_argument(
        "--label-table",
        default=os.environ.get("BUCKETLENS_LABEL_TABLE"),
        help=f"label index (default <table>{label_index.SUFFIX}) [env BUCKETLENS_LABEL_TABLE]",
    )


def add_embedding(p: argparse.ArgumentParser) -> None:
    """The embedding model and its vector bucket (`search --meaning`, `relabel`)."""
    from job.worker.config import OPTIONS, env_name

    for name in ("vector_bucket", *EMBEDDING):
        env = env_name(name)
        p.add_argument(
            "--" + name.replace("_", "-"), default=os.environ.get(env), help=f"{OPTIONS[name][1]} [env {env}]"
        )


def load_embeddings(s3: Any, args: argparse.Namespace, purpose: str) -> Any:
    """The embedding model the vectors were made with (its digest names their index); ValueError naming the
    options missing for `purpose`."""
    from job.worker import config, model_source

    uris = {name: getattr(args, name) for name in EMBEDDING}
    missing = [name for name, uri in uris.items() if not uri]
    if missing or not args.vector_bucket:
        names = [*missing, *([] if args.vector_bucket else ["vector_bucket"])]
        raise ValueError(
            f"{purpose} needs the embedding model and its vector bucket: "
            + ", ".join("--" + n.replace("_", "-") for n in names)
        )
    return model_source.open_embeddings(s3, *uris.values(), config.embed_settings())
