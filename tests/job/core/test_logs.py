"""Structured logs: one JSON object a line, and the demo's log file that nothing configured later takes back."""

from __future__ import annotations

import json
import logging

from job.core import logs


def test_a_pinned_log_file_keeps_every_line_whatever_configures_later(tmp_path, capsys):
    # given the demo's log file pinned
    path = tmp_path / "demo.log"
    logs.pin_to_file(path, "INFO")
    try:
        # when the Lambda's handler is imported in the same process (it configures the Lambda's logging)
        # and logs its batch line
        logs.configure("INFO")
        logging.getLogger("lambda_submitter.handler").info("sqs batch done", extra={"records": 3})
    finally:
        logs.unpin()
    # then the line is in the file, as one JSON object, and the console got nothing
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["message"] == "sqs batch done" and json.loads(line)["records"] == 3
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    # and once unpinned, lines reach stderr again
    logging.getLogger("x").warning("back on the console")
    assert "back on the console" in capsys.readouterr().err
