"""Runs inside a `.venv-nucleus-<line>` interpreter (stdlib + scale-nucleus only; never
imports assay or tests). tests/support/nucleus_clients.py starts it and reads its stdout.

stdin: one JSON object {"endpoint", "api_key", "code" | "script", "args"}.
stdout: exactly one JSON line, {"ok": true, "value": …} or {"ok": false, "error": {"type",
"module", "message", "status"}}. Whatever the client or the snippet prints goes to stderr.

`_driver.py --fork-server` imports the client once and then runs each request in a process
of its own, forked from that one (interpreter start-up and `import nucleus` are most of a
call's time): stdin takes one JSON line per request, {"spec": <the object above>, "env":
<the child's environment>}; stdout answers one JSON line per request, {"returncode",
"stdout", "stderr"}, what that child exited with and wrote, as a one-shot driver's
process would have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import tempfile
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


def main(spec: dict | None = None) -> None:
    if spec is None:
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


def _import_client() -> None:
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        import nucleus
        import nucleus.async_job  # noqa: F401
    finally:
        sys.stdout = real_stdout


def _run_forked(request: dict, answers, requests) -> None:
    """One request in a child forked from this process, answered like a one-shot run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: a one-shot driver's process, the client already imported
            code = 1
            try:
                answers.close()
                requests.close()
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdin = open(0, closefd=False)  # noqa: SIM115
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                sys.argv = [__file__]
                os.environ.clear()
                os.environ.update(request["env"])
                numpy = sys.modules.get("numpy")
                if numpy is not None:  # a fresh process's numpy would have a seed of its own
                    numpy.random.seed()
                main(request["spec"])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        answer = {
            "returncode": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }
    answers.write(json.dumps(answer) + "\n")
    answers.flush()


def fork_server() -> None:
    # The protocol has fds 0 and 1 to itself; anything else writing to fd 1 goes to stderr.
    requests = os.fdopen(os.dup(0), "r")
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    _import_client()
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in requests:
        if line.strip():
            _run_forked(json.loads(line), answers, requests)


if __name__ == "__main__":
    if sys.argv[1:] == ["--fork-server"]:
        fork_server()
    else:
        main()
