"""Run untrusted user Python (the `data.code` node) in a separate, resource-limited process.

Layers, outermost first:
- the parent (`run_code`) inspects the AST and refuses imports outside the allow-list,
  names/attributes starting with `_`, frame/generator introspection attributes and class
  definitions; then it starts `python -I -S` on this very file with an empty environment,
  feeds `{"code", "input"}` as JSON on stdin, reads one bounded JSON reply from stdout and
  kills the child at the wall-clock deadline (or on cancellation);
- the child (`_child_main`) lowers its rlimits (CPU, address space, no file writes, no
  new processes, no core dumps), pre-imports the allowed modules, then lowers
  RLIMIT_NOFILE to the three standard streams so no file or socket can be opened at all,
  and runs the code with a tiny builtins table and a guarded `__import__` that hands out
  public views of the allowed modules (no submodules such as `json.codecs`).

This file doubles as the child script, so the parent-only import of `errors` is guarded:
run as `__main__` there is no package to import from, and the child never needs it.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import signal
import sys
import time
import types

if __name__ != "__main__":
    # Parent side only: the child script has no package to import `errors` from, and
    # skipping these imports there saves ~25 ms of its ~45 ms start-up.
    import ast
    import selectors
    import subprocess
    from typing import Any

    from .errors import ErrorCategory, NodeError

ALLOWED_MODULES = ("json", "math", "re", "datetime", "decimal")
# Imported from C by allowed modules through the caller's `__import__` (datetime's
# strftime/strptime). Handed out only at run time: an `import` statement naming them is
# refused by the AST check, and user code cannot call `__import__` itself.
_INTERNAL_IMPORTS = ("time", "_strptime")
ALLOWED_BUILTINS = (
    "abs all any bool dict divmod enumerate filter float int isinstance len list map max min "
    "range reversed round set sorted str sum tuple zip print"
).split()
# Introspection attributes without a leading underscore that still lead to frames, code
# objects and from there to real module globals (same idea as RestrictedPython's list).
FORBIDDEN_ATTRIBUTES = frozenset(
    "tb_frame tb_next f_back f_builtins f_code f_globals f_locals f_trace "
    "gi_frame gi_code gi_yieldfrom cr_await cr_frame cr_code cr_origin "
    "ag_await ag_code ag_frame".split()
)
DEFAULT_LIMITS: dict[str, Any] = {"cpu_s": 5, "memory_mb": 256, "wall_s": 10}
MAX_CODE_CHARS = 100_000
MAX_OUTPUT_BYTES = 10 * 1024 * 1024  # the child's reply (result + captured prints)
MAX_PRINT_CHARS = 64 * 1024
MAX_STDERR_BYTES = 16 * 1024
_FILENAME = "<code>"


class SandboxResult:
    """What the user code produced: `result` (JSON), whether it assigned it, its prints.

    A plain class rather than a dataclass: `dataclasses` is slow to import in the child.
    """

    __slots__ = ("result", "assigned", "stdout")

    def __init__(self, result: Any, assigned: bool, stdout: str = ""):
        self.result, self.assigned, self.stdout = result, assigned, stdout

    def __repr__(self) -> str:
        return f"SandboxResult(result={self.result!r}, assigned={self.assigned}, stdout={self.stdout!r})"


# --------------------------------------------------------------------------- parent side


def syntax_error(code: str) -> str | None:
    """Save-time check: a message with the line number if `code` is not valid Python."""
    if not isinstance(code, str):
        return "code must be a string"
    if len(code) > MAX_CODE_CHARS:
        return f"code is longer than {MAX_CODE_CHARS} characters"
    try:
        compile(code, _FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (RecursionError, MemoryError, ValueError) as exc:  # absurd nesting, NUL bytes
        return f"code cannot be compiled: {type(exc).__name__}"
    return None


def check_code(code: str) -> None:
    """Refuse code the sandbox policy forbids (raises NodeError CODE_ERROR)."""
    problem = syntax_error(code)
    if problem:
        raise NodeError(ErrorCategory.CODE_ERROR, f"invalid code: {problem}")
    for node in ast.walk(ast.parse(code, _FILENAME)):
        problem = _policy_problem(node)
        if problem:
            line = getattr(node, "lineno", None)
            where = f" (line {line})" if line else ""
            raise NodeError(ErrorCategory.CODE_ERROR, problem + where, {"line": line})


def _policy_problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES:
                return f"import of {alias.name!r} is not allowed (allowed: {', '.join(ALLOWED_MODULES)})"
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module not in ALLOWED_MODULES:
            return f"import from {node.module!r} is not allowed (allowed: {', '.join(ALLOWED_MODULES)})"
    if isinstance(node, ast.ClassDef):
        return "class definitions are not allowed"
    if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
        return f"attribute {node.attr!r} is not allowed"
    if isinstance(node, ast.Attribute) and node.attr in _FORMAT_METHODS:
        return _format_problem(node)
    for name in _identifiers(node):
        # A bare `_` is the usual throwaway variable and reaches nothing.
        if name.startswith("_") and name != "_":
            return f"name {name!r} is not allowed (names starting with '_' are forbidden)"
    return None


_FORMAT_METHODS = ("format", "format_map")


def _format_problem(node: ast.Attribute) -> str | None:
    """`str.format` resolves `{0.attr}` / `{0[key]}` inside the format string, where the
    syntax-tree check cannot see it (`"{0.__globals__[os]}".format(print)`). Only a literal
    format string is allowed, and only if none of its fields reads an attribute or an
    `_` key."""
    what = f".{node.attr}()"
    if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
        return f"{what} is only allowed on a string literal (use an f-string)"
    try:
        return _format_fields_problem(node.value.value, what, depth=0)
    except ValueError as exc:
        return f"{what}: invalid format string ({exc})"


def _format_fields_problem(template: str, what: str, depth: int) -> str | None:
    import _string  # the parser behind str.format itself

    if depth > 2:
        return f"{what}: format specs nested too deeply"
    for _literal, field, spec, _conversion in _string.formatter_parser(template):
        if field is None:
            continue
        _first, rest = _string.formatter_field_name_split(field)
        for is_attribute, key in rest:
            if is_attribute:
                return f"{what}: attribute access in a format field ({{{field}}}) is not allowed"
            if isinstance(key, str) and key.startswith("_"):
                return f"{what}: keys starting with '_' in a format field ({{{field}}}) are not allowed"
        if spec:
            problem = _format_fields_problem(spec, what, depth + 1)
            if problem:
                return problem
    return None


def _identifiers(node: ast.AST) -> list[str]:
    """Every identifier a node introduces or looks up (match patterns look up attributes)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword):
        return [node.arg] if node.arg else []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    if isinstance(node, ast.alias):
        return [n for n in (node.name, node.asname) if n]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return list(node.names)
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        return [node.name] if node.name else []
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    if isinstance(node, ast.MatchClass):
        return list(node.kwd_attrs)
    return []


def effective_timeout(timeout_ms: Any, remaining_s: float | None, limits: dict[str, Any]) -> float:
    """Seconds the code may run: config `timeout_ms` (default: the CPU limit) capped by the
    host's wall limit and the attempt's remaining time."""
    wall = float(limits.get("wall_s") or DEFAULT_LIMITS["wall_s"])
    default = min(wall, float(limits.get("cpu_s") or DEFAULT_LIMITS["cpu_s"]))
    try:
        wanted = float(timeout_ms) / 1000 if timeout_ms not in (None, "") else default
    except (TypeError, ValueError):
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR, f"timeout_ms must be a number, got {timeout_ms!r}"
        ) from None
    if wanted <= 0:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "timeout_ms must be positive")
    candidates = [wanted, wall] + ([remaining_s] if remaining_s is not None else [])
    return max(0.0, min(candidates))


def run_code(
    code: str,
    input_value: Any,
    *,
    timeout_s: float,
    limits: dict[str, Any] | None = None,
    cancelled: Any = None,
) -> SandboxResult:
    """Run `code` with `input` bound to `input_value` in a fresh sandbox process.

    Returns the `result` it assigned; raises NodeError: CODE_ERROR (policy, exception,
    memory/CPU bound, non-JSON result), TIMEOUT_ERROR (wall clock), CANCELLED.
    `cancelled` is an optional threading.Event checked while the child runs.
    """
    check_code(code)
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    if timeout_s <= 0:
        raise NodeError(ErrorCategory.TIMEOUT_ERROR, "no time left to run the code", {"timeout_s": 0})
    try:
        payload = json.dumps({"code": code, "input": input_value}, default=str).encode()
    except (TypeError, ValueError) as exc:
        raise NodeError(ErrorCategory.CODE_ERROR, f"input is not JSON-serializable: {exc}") from None
    cpu_s = max(1, int(limits["cpu_s"]))
    argv = [
        sys.executable,
        "-I",
        "-S",
        "-B",
        os.path.abspath(__file__),
        str(cpu_s),
        str(int(limits["memory_mb"])),
    ]
    # No preexec_fn (unsafe in a threaded worker): the child limits itself before reading
    # the code; a new session lets us kill the whole group.
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:  # out of processes/memory on the worker: not the code's fault
        raise NodeError(ErrorCategory.INTEGRATION_ERROR, f"could not start the code sandbox: {exc}") from None
    try:
        out, err, stop = _exchange(proc, payload, time.monotonic() + timeout_s, cancelled)
    finally:
        _kill(proc)
    return _interpret(
        proc.returncode, out, err, stop, timeout_s=timeout_s, cpu_s=cpu_s, memory_mb=int(limits["memory_mb"])
    )


def _exchange(
    proc: subprocess.Popen, payload: bytes, deadline: float, cancelled: Any
) -> tuple[bytes, bytes, str]:
    """Feed stdin and drain stdout/stderr until EOF, the deadline, cancellation or overflow.

    Returns (stdout, stderr, stop) with stop in "", "timeout", "cancelled", "overflow".
    Our own loop (not communicate()) so the read is bounded and cancellation is seen.
    """
    buffers: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    caps = {proc.stdout.fileno(): MAX_OUTPUT_BYTES, proc.stderr.fileno(): MAX_STDERR_BYTES}
    view, offset = memoryview(payload), 0
    with selectors.DefaultSelector() as sel:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin, selectors.EVENT_WRITE)
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(buffers[proc.stdout.fileno()]), bytes(buffers[proc.stderr.fileno()]), "timeout"
            if cancelled is not None and cancelled.is_set():
                return b"", b"", "cancelled"
            for key, _events in sel.select(min(remaining, 0.1)):
                if key.fileobj is proc.stdin:
                    try:
                        offset += os.write(key.fd, view[offset : offset + 65536])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # the child died early; its exit status tells why
                        offset = len(view)
                    if offset >= len(view):
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                buf = buffers[key.fd]
                if len(buf) + len(data) > caps[key.fd]:
                    if key.fd == proc.stdout.fileno():
                        return b"", bytes(buffers[proc.stderr.fileno()]), "overflow"
                    data = data[: max(0, caps[key.fd] - len(buf))]  # stderr: keep the head only
                buf += data
    # Both pipes closed: the child is exiting; give it what is left of the deadline.
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return bytes(buffers[proc.stdout.fileno()]), bytes(buffers[proc.stderr.fileno()]), "timeout"
    return bytes(buffers[proc.stdout.fileno()]), bytes(buffers[proc.stderr.fileno()]), ""


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child's process group if still alive, reap it, close its pipes."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass


def _interpret(
    returncode: int | None, out: bytes, err: bytes, stop: str, *, timeout_s: float, cpu_s: int, memory_mb: int
) -> SandboxResult:
    code_error = ErrorCategory.CODE_ERROR
    if stop == "timeout":
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR,
            f"code did not finish within {timeout_s:g} s",
            {"timeout_ms": int(timeout_s * 1000)},
        )
    if stop == "cancelled":
        raise NodeError(ErrorCategory.CANCELLED, "code execution was cancelled")
    if stop == "overflow":
        raise NodeError(code_error, f"result is larger than {MAX_OUTPUT_BYTES} bytes")
    if returncode == -signal.SIGXCPU:
        # A time bound like timeout_ms, so the same category; reached only when the
        # configured timeout is above the host's CPU limit.
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR, f"code exceeded the CPU time limit of {cpu_s} s", {"cpu_s": cpu_s}
        )
    try:
        reply = json.loads(out) if out else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        tail = err.decode("utf-8", "replace")[-500:]
        why = (
            f"killed by signal {-returncode}"
            if returncode and returncode < 0
            else f"exit status {returncode}"
        )
        raise NodeError(
            code_error,
            f"the sandbox process died ({why}); the memory limit of {memory_mb} MB may have been exceeded",
            {"stderr": tail},
        )
    if reply.get("ok"):
        return SandboxResult(reply.get("result"), bool(reply.get("assigned")), reply.get("stdout") or "")
    kind, line = reply.get("kind"), reply.get("line")
    if kind == "memory":
        message = f"code exceeded the memory limit of {memory_mb} MB"
    elif kind == "serialize":
        message = f"result is not JSON-serializable: {reply.get('message')}"
    else:
        message = f"{reply.get('type')}: {reply.get('message')}"
    if line:
        message += f" (line {line})"
    details = {"type": reply.get("type"), "line": line}
    if reply.get("stdout"):
        details["stdout"] = reply["stdout"]
    raise NodeError(code_error, message, details)


# ---------------------------------------------------------------------------- child side


def _lower_limit(which: int, soft: int, hard: int | None = None) -> None:
    import resource

    _cur_soft, cur_hard = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if cur_hard != resource.RLIM_INFINITY:
        hard = min(hard, cur_hard)
    try:
        resource.setrlimit(which, (min(soft, hard), hard))
    except (ValueError, OSError):  # not supported here; the other layers still hold
        pass


def _public_view(module: types.ModuleType) -> types.ModuleType:
    """A module copy with only public, non-module attributes (no `json.codecs`, `datetime.sys`)."""
    view = types.ModuleType(module.__name__)
    for name, value in vars(module).items():
        if not name.startswith("_") and not isinstance(value, types.ModuleType):
            setattr(view, name, value)
    return view


def _safe_builtins(modules: dict[str, types.ModuleType], printed: io.StringIO) -> dict[str, Any]:
    table = {name: getattr(builtins, name) for name in ALLOWED_BUILTINS}
    table.update(
        {
            name: value
            for name, value in vars(builtins).items()
            if isinstance(value, type) and issubclass(value, BaseException)
        }
    )

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if not level and name in modules:
            return modules[name]
        if not level and name in _INTERNAL_IMPORTS:
            return sys.modules[name]
        raise ImportError(f"import of {name!r} is not allowed")

    def captured_print(*args, sep=" ", end="\n"):
        if printed.tell() < MAX_PRINT_CHARS:
            printed.write((str(sep).join(str(a) for a in args) + str(end))[:MAX_PRINT_CHARS])

    table["__import__"] = guarded_import
    table["print"] = captured_print
    return table


def _user_line(exc: BaseException) -> int | None:
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _run_user_code(code: types.CodeType, input_value: Any, modules: dict[str, types.ModuleType]) -> dict:
    """Exec the code; the reply dict carries the result already JSON-encoded (a str)."""
    printed = io.StringIO()
    namespace: dict[str, Any] = {"__builtins__": _safe_builtins(modules, printed), "input": input_value}
    try:
        exec(code, namespace)  # noqa: S102 - this is the sandbox
    except MemoryError:
        namespace.clear()  # free what the code built so the reply can be written
        return {"ok": False, "kind": "memory", "type": "MemoryError", "message": "memory limit exceeded"}
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is reported
        message = str(exc)
        if isinstance(exc, NameError) and getattr(exc, "name", None) in vars(builtins):
            message = f"builtin {exc.name!r} is not allowed"
        elif isinstance(exc, OSError) and exc.errno == 24:  # EMFILE: RLIMIT_NOFILE at work
            message = "file and network access is not allowed"
        return {
            "ok": False,
            "kind": "exception",
            "type": type(exc).__name__,
            "message": message[:2000],
            "line": _user_line(exc),
            "stdout": printed.getvalue(),
        }
    try:
        # Encoded here (not in the reply) so a bad result is a clear error, and spliced in
        # as text by the caller rather than decoded and encoded again.
        encoded = json.dumps(namespace.get("result"), allow_nan=False)
    except MemoryError:
        namespace.clear()
        return {"ok": False, "kind": "memory", "type": "MemoryError", "message": "memory limit exceeded"}
    except (TypeError, ValueError, RecursionError) as exc:
        return {"ok": False, "kind": "serialize", "type": type(exc).__name__, "message": str(exc)[:500]}
    return {"ok": True, "assigned": "result" in namespace, "stdout": printed.getvalue(), "result": encoded}


def _child_main() -> None:
    import importlib
    import resource

    cpu_s, memory_mb = int(sys.argv[1]), int(sys.argv[2])
    _lower_limit(resource.RLIMIT_CORE, 0)
    _lower_limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)  # SIGXCPU at soft, SIGKILL at hard
    _lower_limit(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    _lower_limit(resource.RLIMIT_FSIZE, 0)
    _lower_limit(resource.RLIMIT_NPROC, 0)
    request = json.loads(sys.stdin.buffer.read())
    modules = {name: _public_view(importlib.import_module(name)) for name in ALLOWED_MODULES}
    for name in _INTERNAL_IMPORTS:  # now: once NOFILE is lowered no module file can be read
        importlib.import_module(name)
    code = compile(request["code"], _FILENAME, "exec", dont_inherit=True)
    # stdin stays open: with fds 0-2 taken and the limit at 3, open() and socket() fail.
    _lower_limit(resource.RLIMIT_NOFILE, 3)
    try:
        reply = _run_user_code(code, request["input"], modules)
        encoded = reply.pop("result", None)
        data = json.dumps(reply).encode()
        if encoded is not None:
            data = data[:-1] + b', "result": ' + encoded.encode() + b"}"
    except MemoryError:
        data = b'{"ok": false, "kind": "memory", "type": "MemoryError", "message": "memory limit exceeded"}'
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _child_main()
