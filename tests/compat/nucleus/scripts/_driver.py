"""Runs inside a `.venv-nucleus-<line>` interpreter (stdlib + scale-nucleus only; never
imports assay or tests). tests/support/nucleus_clients.py starts it and reads its stdout.

stdin: one JSON object {"endpoint", "api_key", "code" | "script", "args"}.
stdout: exactly one JSON line, {"ok": true, "value": …} or {"ok": false, "error": {"type",
"module", "message", "status"}}. Whatever the client or the snippet prints goes to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import traceback


def _plain(value):
    """JSON for what a snippet returns: client objects become their payload or fields."""
    for method in ("to_payload", "dict", "to_json"):
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                out = fn()
            except Exception:
                continue
            return json.loads(out) if isinstance(out, str) else out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | tuple):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def main() -> None:
    spec = json.loads(sys.stdin.read())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    import nucleus
    import nucleus.async_job

    # The tests' pacing, not the wire: the client sleeps JOB_POLLING_INTERVAL (5 s) after
    # every status poll, the first included, and the jobs here finish in well under a
    # second — 5 s of idle test worker per job waited on.
    nucleus.async_job.JOB_POLLING_INTERVAL = 0.1

    client = nucleus.NucleusClient(api_key=spec["api_key"], endpoint=spec["endpoint"])
    scope = {"nucleus": nucleus, "client": client, "args": spec.get("args") or {}}
    if spec.get("script"):
        with open(spec["script"]) as f:
            source, filename = f.read(), spec["script"]
    else:
        source, filename = spec["code"], "<snippet>"
    try:
        exec(compile(source, filename, "exec"), scope)
        result = {"ok": True, "value": scope.get("result")}
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        result = {
            "ok": False,
            "error": {
                "type": type(exc).__name__,
                "module": type(exc).__module__,
                "message": str(getattr(exc, "message", None) or exc),
                "status": getattr(exc, "status_code", None),
            },
        }
    real_stdout.write(json.dumps(result, default=_plain) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
