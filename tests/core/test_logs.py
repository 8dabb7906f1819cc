from __future__ import annotations

import json
import logging

from assay.core import logs
from assay.core.logs import request_id_var


def test_json_lines_carry_the_request_id_and_extras(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(fmt="json", level="INFO")
        token = request_id_var.set("req-42")
        logging.getLogger("assay.access").info("GET /x 200", extra={"status": 200, "mode": "test"})
        request_id_var.reset(token)
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "GET /x 200"
    assert (line["request_id"], line["status"], line["mode"]) == ("req-42", 200, "test")
    assert line["level"] == "info" and line["logger"] == "assay.access"
