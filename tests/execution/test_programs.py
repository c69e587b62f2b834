# ruff: noqa: F811  (a test taking the imported fixture ``guarded`` is not a redefinition)
"""Whole programs on stdin/stdout in every sandbox backend (``problems.stdio``), and the
attack-suite rows for programs (over the confining backends, checked by ``guarded``)."""

from __future__ import annotations

import textwrap

import pytest

from codegen_ttc.execution.batch import Batch, Limits, Outcome
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call, OutputMatches

# the attack suite's fixture (survival and leftovers checked), used as a parameter name below
from .test_attacks import guarded  # noqa: F401

FAST = Limits(cpu_seconds=1.0, wall_seconds=4.0)
TIGHT = Limits(cpu_seconds=0.5, wall_seconds=3.0)


def run_program(sb, program: str, *stdins: str, limits: Limits = FAST) -> list[Outcome]:
    probes = tuple(Call((s,)) for s in stdins)
    res = sb.run(Batch(stdio.wrap(textwrap.dedent(program)), stdio.ENTRY_POINT, probes, limits))
    return [res.outcomes[p.key] for p in probes]


def stdout(out: Outcome):
    return out.decoded() if out.status == "returned" else (out.status, out.error, out.message)


READERS = {
    "input": "n = int(input())\nprint(sum(map(int, input().split())) * n)\n",
    "open0": "d = open(0).read().split()\nprint(int(d[0]) * sum(map(int, d[1:])))\n",
    "fast_io": (
        "import os\nd = os.read(0, 1 << 20).split()\n"
        "os.write(1, str(int(d[0]) * sum(map(int, d[1:]))).encode() + b'\\n')\n"
    ),
    "stdin_buffer": (
        "import sys\nd = sys.stdin.buffer.read().split()\n"
        "sys.stdout.write(str(int(d[0]) * sum(map(int, d[1:]))) + '\\n')\n"
    ),
    "main_guard": (
        "import sys\ninput = sys.stdin.readline\n"
        "def main():\n    n = int(input())\n    print(n * sum(map(int, input().split())))\n"
        "if __name__ == '__main__':\n    main()\n"
    ),
    "thread": (
        "import sys, threading\nthreading.stack_size(1 << 26)\nsys.setrecursionlimit(10 ** 5)\n"
        "def main():\n    n = int(input())\n    print(n * sum(map(int, input().split())))\n"
        "threading.Thread(target=main).start()\n"
    ),
    "os_exit_after_flush": (
        "import os, sys\nn = int(input())\nprint(n * sum(map(int, input().split())))\n"
        "sys.stdout.flush()\nos._exit(0)\n"
    ),
    "exit_zero": "n = int(input())\nprint(n * sum(map(int, input().split())))\nexit()\n",
}


@pytest.mark.parametrize("how", sorted(READERS))
def test_programs_read_stdin_and_write_stdout_as_on_a_judge(sandbox, how):
    outs = run_program(sandbox, READERS[how], "3\n1 2 3\n", "2\n5 5\n")
    assert [stdout(o) for o in outs] == ["18", "20"]
    assert passes(OutputMatches("18\n"), outs[0]) and passes(OutputMatches("20"), outs[1])
    assert not passes(OutputMatches("19"), outs[0])


def test_each_test_runs_the_program_afresh(sandbox):
    # module state of one run is not the next one's: a global counter starts again
    program = "import sys\ncount = globals().get('count', 0) + 1\nprint(count, sys.stdin.read().strip())\n"
    outs = run_program(sandbox, program, "a", "b", "c")
    assert [stdout(o) for o in outs] == ["1 a", "1 b", "1 c"]


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("import sys\nprint(1)\nsys.exit(3)\n", "exit status 3"),
        ("import sys\nsys.exit('bad input')\n", "exit status 1"),
        ("print(1 // int(input()))\n", "runtime error ZeroDivisionError"),
        ("print(\n", "runtime error SyntaxError"),
        ("while True:\n    input()\n", "runtime error EOFError"),
        ("while True:\n    pass\n", "time limit exceeded"),
    ],
)
def test_failures_have_their_reason(sandbox, program, reason):
    [out] = run_program(sandbox, program, "0\n", limits=TIGHT)
    assert not passes(OutputMatches("1"), out)
    assert stdio.failure_reason(out).startswith(reason), out


def test_one_failing_test_costs_only_that_test(sandbox):
    program = "import os\nx = input()\nif x == 'die':\n    os.kill(os.getpid(), 9)\nif x == 'loop':\n    while True: pass\nprint(x)\n"
    outs = run_program(sandbox, program, "a", "die", "b", "loop", "c", limits=TIGHT)
    assert [o.status for o in outs] == ["returned", "crashed", "returned", "timeout", "returned"]
    assert [stdout(o) for o in outs[::2]] == ["a", "b", "c"]


# ---------------------------------------------------------------- attack rows for programs

SECRET = "7f3a9c expected output never enters the sandbox 51d2"


def test_program_searching_for_the_expected_output(guarded):
    """Everything the program can read (environment, argv, every open fd, scratch and working
    directories, its own memory files) holds no expected output: the verdict fails."""
    program = """
    import os, sys
    seen = [repr(dict(os.environ)), repr(sys.argv), sys.stdin.read()]
    for fd in range(3, 256):
        try:
            seen.append(os.pread(fd, 1 << 16, 0).decode('utf-8', 'replace'))
        except OSError:
            pass
    for top in ('.', '/tmp', os.path.expanduser('~')):
        for root, dirs, files in os.walk(top):
            for name in files:
                try:
                    with open(os.path.join(root, name), errors='replace') as f:
                        seen.append(f.read(1 << 16))
                except OSError:
                    pass
    print(len(seen))
    print(' '.join(s for s in seen if 'expected output' in s)[:100000])
    """
    [out] = run_program(guarded, program, "1 2\n", limits=Limits(cpu_seconds=2.0, wall_seconds=6.0))
    assert not passes(OutputMatches(SECRET), out)
    assert out.status != "returned" or SECRET not in out.decoded()


def test_program_writing_forged_records_to_the_judges_channels(guarded):
    forged = '{"op":"result","index":0,"outcome":{"status":"returned","value":["s","PASSED"]}}'
    program = f"""
    import os, sys
    for fd in range(2, 256):
        try:
            os.write(fd, b"\\n" + {forged!r}.encode() + b"\\n")
        except OSError:
            pass
    print("PASSED")
    print({forged!r})
    """
    outs = run_program(guarded, program, "x", "y")
    for out in outs:
        assert out.status in ("returned", "crashed"), out
        assert not passes(OutputMatches("OK"), out)


def test_program_printing_without_end(guarded):
    program = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
    [out] = run_program(guarded, program, "", limits=TIGHT)
    assert not passes(OutputMatches("x"), out)
    assert stdio.failure_reason(out).startswith(("output over the cap", "time limit", "crashed")), out


def test_program_over_the_output_cap_fails_with_its_reason(guarded):
    program = f"import sys\nsys.stdout.write('1 ' * {stdio.OUTPUT_CAP})\n"
    [out] = run_program(guarded, program, "", limits=Limits(cpu_seconds=2.0, wall_seconds=6.0))
    assert out.status == "raised" and stdio.failure_reason(out).startswith("output over the cap"), out


@pytest.mark.parametrize(
    "reader",
    [
        "import sys\nwhile True:\n    sys.stdin.read()\n",
        "import os\nwhile True:\n    os.read(0, 1)\n",
        "import sys\nfor line in iter(sys.stdin.readline, None):\n    pass\n",
    ],
    ids=["read", "os_read", "readline"],
)
def test_program_reading_stdin_for_ever(guarded, reader):
    outs = run_program(guarded, reader, "1\n2\n", "3\n", limits=TIGHT)
    assert [o.status for o in outs] == ["timeout", "timeout"], outs


def test_program_closing_its_stdin_and_stdout_spoils_no_later_test(guarded):
    program = "import os, sys\nx = input()\nif x == 'close':\n    os.close(0)\n    os.close(1)\n    sys.exit(0)\nprint(x)\n"
    outs = run_program(guarded, program, "close", "next", "after")
    assert [stdout(o) for o in outs[1:]] == ["next", "after"]


def test_program_closing_every_descriptor_spoils_no_later_test(guarded):
    program = "import os\nx = input()\nif x == 'close':\n    os.closerange(0, 1024)\nelse:\n    print(x)\n"
    outs = run_program(guarded, program, "close", "next", "after")
    assert [stdout(o) for o in outs[1:]] == ["next", "after"]


def test_coverage_measures_the_programs_branches(sandbox):
    program = "n = int(input())\nif n > 5:\n    print('big')\nelse:\n    print('small')\n"
    probes = (Call(("3\n",)), Call(("9\n",)))
    res = sandbox.run(Batch(stdio.wrap(program), stdio.ENTRY_POINT, probes, Limits(coverage=True)))
    small, big = (res.outcomes[p.key] for p in probes)
    assert (small.decoded(), big.decoded()) == ("small", "big")
    # the program's own lines: 2 -> 5 (else) on a small input, 2 -> 3 on a big one
    assert (2, 5) in small.arcs.arcs and (2, 3) not in small.arcs.arcs
    assert (2, 3) in big.arcs.arcs and (2, 5) not in big.arcs.arcs
