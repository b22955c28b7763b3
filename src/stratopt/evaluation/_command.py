"""Running an external evaluator's command for one candidate: no shell, one JSON answer.

The command is an argument list: a placeholder argument (`{params_json}`, `{start}`, ...)
is replaced whole by its value, nothing is spliced into other text and no shell ever
reads it, so a parameter value such as ``"; rm -rf ~"`` reaches the program as data. The
request (parameters and context) also arrives as one JSON object on stdin. The program
runs in its own process group with the study folder (or `evaluator.cwd`) as working
directory; its stdout and stderr go to files in the run's folder. It answers with one JSON
object, on stdout or in the `{result}` file. A nonzero exit, an answer that is not one
JSON object, or running past the timeout (the whole process group is killed) fails the
candidate, quoting the program's last stderr lines or the answer's first bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stratopt.evaluation._contract import ExternalFailure

__all__ = ["STDERR_LINES", "run_command"]

STDERR_LINES = 5  # of a failed program's stderr, quoted in its trial's error
_QUOTED_BYTES = 200  # of an answer that is not JSON


def run_command(
    command: Sequence[str],
    request: Mapping[str, Any],
    *,
    folder: Path,
    cwd: Path,
    timeout: float | None,
) -> dict[str, Any]:
    """Run `command` for one candidate; its JSON answer.

    Args:
        command: The argument list, placeholders not yet substituted.
        request: The candidate's parameters and context (`params`, `start`, `end`,
            `data_start`, `symbols`, `data`, `timeframe`, `seed`, `scratch`, `result`).
        folder: The run's folder: stdout.txt, stderr.txt, params.json, result.json.
        cwd: The working directory.
        timeout: Seconds before the process group is killed (None: no limit).

    Raises:
        ExternalFailure: nonzero exit, timeout, or an answer that is not one JSON object.
    """
    result = Path(request["result"])
    result.unlink(missing_ok=True)
    params_file = folder / "params.json"
    params_file.write_text(json.dumps(request["params"]))
    argv = substitute(command, request, params_file)
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: a timeout kills it all
            )
        except OSError as exc:
            raise ExternalFailure(f"cannot start {argv[0]!r}: {exc}") from None
        try:
            proc.communicate(json.dumps(request).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise ExternalFailure(
                f"timed out after {timeout:g} s (process group killed){_tail(stderr)}"
            ) from None
        except BaseException:
            _kill(proc)
            raise
    if proc.returncode != 0:
        raise ExternalFailure(f"exit code {proc.returncode}{_tail(stderr)}")
    answer = result if result.is_file() and result.stat().st_size else stdout
    return parse_answer(answer.read_bytes(), answer.name)


def substitute(command: Sequence[str], request: Mapping[str, Any], params_file: Path) -> list[str]:
    """The argument list with each placeholder argument replaced by its value."""
    values = {
        "params_json": json.dumps(request["params"]),
        "params_file": str(params_file),
        "start": request["start"],
        "end": request["end"],
        "data_start": request["data_start"],
        "symbol": request["symbols"][0],
        "data": request["data"][0] if request["data"] else "",
        "seed": str(request["seed"]),
        "scratch": request["scratch"],
        "result": request["result"],
        "timeframe": request["timeframe"] or "",
    }
    argv = [values[a[1:-1]] if a.startswith("{") and a[1:-1] in values else a for a in command]
    if argv[0] == "python":  # the interpreter running stratopt, on every platform
        argv[0] = sys.executable
    return argv


def parse_answer(data: bytes, source: str) -> dict[str, Any]:
    """The one JSON object `data` holds; ExternalFailure quoting its first bytes otherwise."""
    quoted = repr(data[:_QUOTED_BYTES]) + (" ..." if len(data) > _QUOTED_BYTES else "")
    try:
        answer = json.loads(data)
    except (ValueError, RecursionError):
        raise ExternalFailure(f"{source} is not one JSON object; it starts {quoted}") from None
    if not isinstance(answer, dict):
        raise ExternalFailure(
            f"{source} holds a JSON {type(answer).__name__}, not an object: {quoted}"
        )
    return answer


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path) -> str:
    try:
        text = path.read_bytes()[-8192:].decode(errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()][-STDERR_LINES:]
    return "; last stderr: " + " | ".join(lines) if lines else "; stderr was empty"
