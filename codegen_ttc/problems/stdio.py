"""Whole programs that read stdin and write stdout: how they run, and how their output is judged.

A *program* problem (``Problem.kind == "program"``) has tests ``(stdin, expected stdout)``.
Each test is a ``Call`` of one argument, the stdin text, on the entry point ``ENTRY_POINT``,
which a harness defines around the candidate's program (``wrap``): the candidate's text is a
string literal of the harness, compiled once when the sandbox loads the candidate, and every
call runs it afresh as ``__main__`` (new globals, a new ``__main__`` module) with fd 0 a
memory file holding the test's stdin and fd 1 a memory file collecting its stdout. So the
warm-runner design serves programs as it serves functions: one loaded process per candidate,
its tests run in sequence in a fork of it (as LiveCodeBench's harness runs all tests in one
process), a crash or timeout costs only that test. Real file descriptors, not ``StringIO``:
``open(0).read()``, ``sys.stdin.buffer`` and fast-I/O templates that ``os.read(0)`` /
``os.write(1)`` work as on a judge.

What comes back is plain data, the *normalised* stdout (``normalised_output``), never a
verdict; expected outputs stay on the trusted side, which judges with ``outputs_match``.
A program fails a test, with its reason (``failure_reason``), when it raises (runtime
error), exits with a non-zero status (``ProgramExit``), writes more than ``OUTPUT_CAP``
bytes to stdout (``OutputLimitExceeded``; beyond the sandbox's file-size limit it is
killed), runs out of time, goes over the memory limit ("memory limit": killed by the
sandbox's memory bound, or a ``MemoryError``), or crashes.

The comparison (``outputs_match``), as LiveCodeBench and CodeContests judge:

- blank lines are ignored wherever they are, and so is whitespace at either end of a line
  and its amount between tokens: ``"1  2 \\n\\n"`` matches ``"1 2"``;
- lines are compared in order, token by token (a token is a run of non-whitespace):
  ``"1 2"`` does not match ``"1\\n2"``, nor ``"2 1"``;
- two tokens match when they are the same text, or both are decimal numbers
  (``[+-]digits[.digits][e[+-]digits]``; not ``nan``, ``inf`` or ``1_000``) of equal value:
  integers exactly (``"007"`` matches ``"7"``, ``"1000001"`` never matches ``"1000000"``),
  otherwise within ``FLOAT_TOLERANCE`` absolute or relative to the expected value
  (``"0.3333333"`` matches ``"0.333333333"``, ``"1"`` matches ``"1.0"``);
- letter case counts (``"yes"`` does not match ``"YES"``).

An output longer than the trusted side keeps whole (``wire.MAX_KEPT_CHARS``) is kept as a
digest of its normalised text: it matches an expected output whose normalised text is the
same, token for token (numbers are not compared as numbers there).
"""

from __future__ import annotations

import ast
import inspect
import math
import re

from codegen_ttc.runtime import wire

ENTRY_POINT = "stdin_stdout"
OUTPUT_CAP = 4 << 20  # bytes of stdout per test; the harness refuses more (OutputLimitExceeded)
FLOAT_TOLERANCE = 1e-6
# the error of a "crashed" outcome the sandbox's memory bound ended (the host's
# ``RunnerSandbox._over_memory``, from the kernel's OOM-kill counter: never the candidate's word)
MEMORY_KILLED = "memory"

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


# ------------------------------------------------------------------ judging (trusted side)


def normalised_output(text: str) -> str:
    """``text`` as it is compared: its non-blank lines, each with its tokens joined by one space.

    Runs inside the sandbox too (embedded in the harness), so the value a program returns
    is already normalised; the trusted side normalises expected outputs with it. Pure.
    """
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _integer_text(token: str) -> str:
    sign = "-" if token.startswith("-") else ""
    digits = token.lstrip("+-").lstrip("0") or "0"
    return ("" if digits == "0" else sign) + digits


def tokens_match(actual: str, expected: str) -> bool:
    """One token against one expected token (module docstring). Pure."""
    if actual == expected:
        return True
    if not (_NUMBER.fullmatch(actual) and _NUMBER.fullmatch(expected)):
        return False
    if _INTEGER.fullmatch(actual) and _INTEGER.fullmatch(expected):
        return _integer_text(actual) == _integer_text(expected)
    a, e = float(actual), float(expected)
    if not (math.isfinite(a) and math.isfinite(e)):
        return False
    return abs(a - e) <= FLOAT_TOLERANCE * max(1.0, abs(e))


def outputs_match(actual: str, expected: str) -> bool:
    """Whether the program's stdout ``actual`` is accepted for ``expected`` (module docstring). Pure."""
    a_lines = normalised_output(actual).split("\n")
    e_lines = normalised_output(expected).split("\n")
    if len(a_lines) != len(e_lines):
        return False
    for a_line, e_line in zip(a_lines, e_lines):
        if a_line == e_line:
            continue
        a_tokens, e_tokens = a_line.split(" "), e_line.split(" ")
        if len(a_tokens) != len(e_tokens) or not all(map(tokens_match, a_tokens, e_tokens)):
            return False
    return True


def output_passes(value, expected: str) -> bool:
    """The verdict on a decoded returned value: a str (the normalised stdout) compared with
    ``outputs_match``, or a ``wire.Reduced`` one compared by digest; anything else fails."""
    if type(value) is str:
        return outputs_match(value, expected)
    if type(value) is wire.Reduced:
        return wire.values_equal(value, normalised_output(expected))
    return False


def failure_reason(outcome) -> str:
    """Why a program's run on one test is not an answer, in words ("" when it returned)."""
    if outcome is None:
        return "not run"
    if outcome.status == "returned":
        return ""
    detail = f": {outcome.message}" if outcome.message else ""
    if outcome.status == "raised":
        if outcome.error == "ProgramExit":
            return outcome.message or "non-zero exit status"
        if outcome.error == "OutputLimitExceeded" or (outcome.error == "OSError" and "File too large" in outcome.message):
            return f"output over the cap{detail}"  # past the sandbox's file-size limit, a write fails
        if outcome.error == "MemoryError":  # an allocation the address-space limit refused
            return f"memory limit (MemoryError){detail}"
        return f"runtime error {outcome.error}{detail}"
    if outcome.status == "timeout":
        return f"time limit exceeded ({outcome.error or 'cpu'})"
    if outcome.status == "output_limit":
        return "too much output on stderr"
    if outcome.error == MEMORY_KILLED:  # the sandbox's memory bound killed it (judged on the host)
        return f"memory limit{detail}"
    return f"crashed ({outcome.error or 'killed'}){detail}"


# ------------------------------------------------------------------ running (inside the sandbox)


class ProgramExit(Exception):
    """The program ended with a non-zero exit status (raised in the sandbox: a failure)."""


class OutputLimitExceeded(Exception):
    """The program wrote more than the cap to stdout (raised in the sandbox: a failure)."""


def exit_status(exc: SystemExit) -> int:
    """The process status ``exc`` would end Python with (a message means 1, as Python prints it)."""
    code = exc.code
    if code is None:
        return 0
    if type(code) is int:
        return code & 0xFF
    import sys

    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def run_program(code, stdin: str, cap: int) -> str:
    """Run the compiled program ``code`` as ``__main__`` on ``stdin``; its normalised stdout.

    fd 0 and fd 1 are memory files for the run (restored after it), ``sys.stdin`` /
    ``sys.stdout`` text streams over them; threads the program started are joined (as
    Python does at exit) and ``os._exit`` ends the program as ``exit`` would, keeping its
    output. Raises ``ProgramExit`` on a non-zero status, ``OutputLimitExceeded`` past ``cap``
    bytes, and whatever the program raised.
    """
    import builtins
    import os
    import sys
    import threading
    import types

    data = stdin.encode("utf-8", "surrogateescape")
    try:
        in_fd, out_fd = memory_files()
        os.ftruncate(in_fd, 0)
        os.ftruncate(out_fd, 0)
    except OSError:  # an earlier test closed or replaced them: new ones
        in_fd, out_fd = memory_files(renew=True)
    view = memoryview(data)
    while view:
        view = view[os.pwrite(in_fd, view, len(data) - len(view)) :]
    os.lseek(in_fd, 0, os.SEEK_SET)
    os.lseek(out_fd, 0, os.SEEK_SET)
    saved_fds = os.dup(0), os.dup(1)
    saved_stdin, saved_stdout, saved_main, saved_exit = sys.stdin, sys.stdout, sys.modules.get("__main__"), os._exit
    threads_before = set(threading.enumerate())
    status = 0
    ours = None

    def leave(status=0):  # os._exit: end the program, as exit() would
        raise SystemExit(status)

    try:
        os.dup2(in_fd, 0)
        os.dup2(out_fd, 1)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        ours = sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        os._exit = leave
        try:
            exec(code, module.__dict__)
            for thread in set(threading.enumerate()) - threads_before:
                if not thread.daemon:
                    thread.join()
        except SystemExit as exc:
            status = exit_status(exc)
        finally:
            for stream in {id(sys.stdout): sys.stdout, id(ours): ours}.values():  # the program's, then ours
                try:
                    stream.flush()
                except BaseException:  # a stream the program closed: what it flushed is kept
                    pass
    finally:
        os._exit = saved_exit
        sys.stdin, sys.stdout = saved_stdin, saved_stdout
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        os.dup2(saved_fds[0], 0)
        os.dup2(saved_fds[1], 1)
        for fd in saved_fds:
            os.close(fd)
    if status:
        raise ProgramExit(f"exit status {status}")
    size = os.fstat(out_fd).st_size
    if size > cap:
        raise OutputLimitExceeded(f"{size} bytes written, at most {cap}")
    written = b""
    while len(written) < size:  # pread may return less than asked
        chunk = os.pread(out_fd, size - len(written), len(written))
        if not chunk:
            break
        written += chunk
    return normalised_output(written.decode("utf-8", "replace"))


def memory_files(cache={}, renew=False):  # noqa: B006  (one pair per process, reused test after test)
    """This process's two memory files (stdin, stdout), made at its first test. A batch child
    inherits none: the server never runs a test, and each child makes its own."""
    import os

    pid = os.getpid()
    if cache.get("pid") != pid or renew:
        cache.update(pid=pid, fds=(os.memfd_create("stdin", os.MFD_CLOEXEC), os.memfd_create("stdout", os.MFD_CLOEXEC)))
    return cache["fds"]


_HEADER = "# codegen-ttc: the candidate's program, run on each test's stdin (problems.stdio)\n"
_SOURCE_NAME = "_codegen_ttc_program"


def _harness_tail() -> str:
    functions = (ProgramExit, OutputLimitExceeded, exit_status, normalised_output, run_program, memory_files)
    return (
        "\n\n" + "\n\n".join(inspect.getsource(f) for f in functions) + "\n\n"
        # under the file name the runner gave the harness: with Limits.coverage its meter then
        # measures the program's branches too
        f"_codegen_ttc_code = compile({_SOURCE_NAME}, (lambda: 0).__code__.co_filename, 'exec')\n\n\n"
        f"def {ENTRY_POINT}(stdin):\n"
        f"    return run_program(_codegen_ttc_code, stdin, {OUTPUT_CAP})\n"
    )


_TAIL = _harness_tail()


def wrap(program: str) -> str:
    """The source the sandbox loads for a candidate ``program``: the harness, with the program
    as a string literal in it (compiled at load: a syntax error fails every test)."""
    return f"{_HEADER}{_SOURCE_NAME} = {program!r}\n{_TAIL}"


def unwrap(source: str) -> str:
    """The candidate's program inside ``wrap(program)``; ``source`` itself when it is not one."""
    if not source.startswith(_HEADER) or not source.endswith(_TAIL):
        return source
    first = source[len(_HEADER) :].split("\n", 1)[0]
    prefix = f"{_SOURCE_NAME} = "
    if not first.startswith(prefix):
        return source
    try:
        program = ast.literal_eval(first[len(prefix) :])
    except (ValueError, SyntaxError):
        return source
    return program if type(program) is str else source
