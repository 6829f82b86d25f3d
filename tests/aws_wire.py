"""AWS answers as the service sends them on the wire, parsed by botocore's own parser (as an SDK call returns them)."""

from __future__ import annotations

from typing import Any

from botocore.parsers import create_parser


def parsed(client: Any, operation: str, body: bytes) -> dict:
    """The JSON body of `operation`'s answer, parsed for `client`'s service as botocore parses a real one."""
    model = client.meta.service_model
    parser = create_parser(model.metadata["protocol"])
    response = {"body": body, "headers": {}, "status_code": 200}
    return parser.parse(response, model.operation_model(operation).output_shape)


def example_output(service: str, operation: str, index: int = 0) -> dict:
    """The output of one of the examples AWS publishes for `operation` (botocore ships them as
    examples-1.json, the same examples as the API Reference's)."""
    import json
    from pathlib import Path

    import botocore

    data = Path(botocore.__file__).parent / "data" / service
    (path,) = data.glob("*/examples-1.json")
    return json.loads(path.read_text())["examples"][operation][index]["output"]
