#!/usr/bin/env python3
"""evalplus's own evaluator and ``codegen-ttc score``, side by side on the same programs.

- HumanEval+ (v0.1.10, ``../shared/data/evalplus``): 164 tasks x the first 10 CodeGen-16B
  samples per task of ``../shared/data/codet-humaneval-codegen16b``, cleaned with CodeT's
  stop sequences as ``bench_selection.py`` does; both tools get the same full programs
  (an evalplus ``solution`` row each).
- MBPP+ (v0.2.0): per task the canonical solution and up to 4 planted bugs made from it
  deterministically (``planted_bugs``: an operator, a comparison, a constant, the result).

Each round runs, one after the other on the same machine: ``codegen-ttc score`` (a fresh
run directory, the sandbox of ``--sandbox``, hidden tests only; ``--synthesise 0`` by
default: no inputs synthesised for selection, so that it computes what evalplus computes,
the ground truth, while ``--synthesise 40`` adds ``score``'s default selection work) and evalplus's
``evalplus.evaluate`` (a fresh cache folder, so it also computes its expected outputs,
as ours does; ``--parallel`` = cores, as many processes as our sandboxes). ``--rounds 2``
interleaves them twice. Printed, with the CPU other jobs used while each ran (in cores; the
machine's busy CPU less this script's cpuacct group): base and base + plus pass@1 of each, every sample whose
verdict differs, and the wall time of each with the ratio.

``--warm`` adds, to every round, the two tools as they run for a researcher's second model on the
same release: each with the expected outputs it computed before. evalplus keeps the ground truth
of the round's cold run in its cache folder; ours gets ``--reuse`` of a run that scored one
placeholder sample per task (made once, untimed), so that only reference outcomes are taken.

evalplus runs from its own interpreter (``--evalplus-python``, default this one): install
it with ``pip install evalplus``; nothing is downloaded, the release files are given
through ``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH``.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from cpu_group import group_cpu, join_cpu_group, leave_cpu_group, machine_busy_cpu  # noqa: E402
from shared_data import SHARED  # noqa: E402

from codegen_ttc.execution.executor import Executor  # noqa: E402
from codegen_ttc.execution.store import ResultStore  # noqa: E402
from codegen_ttc.problems.model import Call  # noqa: E402
from codegen_ttc.reports.references import (  # noqa: E402
    reference_batches,
    reference_limits,
    run_truth,
    settle_references,
)
from codegen_ttc.reports.run import ScoreConfig, prepare_tasks  # noqa: E402
from codegen_ttc.sampling.files import load_samples  # noqa: E402

HUMANEVAL_PLUS = SHARED / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
MBPP_PLUS = SHARED / "evalplus" / "MbppPlus-v0.2.0.jsonl.gz"
CODET = SHARED / "codet-humaneval-codegen16b" / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"


# --------------------------------------------------------------------------- samples


def read_rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def humaneval_samples(problem_file: Path, per_task: int) -> list[dict]:
    """The first ``per_task`` CodeGen-16B samples of each task, as full programs."""
    from codegen_ttc.problems.loaders import load_problems

    problems = load_problems("humaneval", examples=False)  # the prompts CodeT's rows match (programs are theirs)
    programs = load_samples(CODET, problems, cleanup="codet")
    wanted = [row["task_id"] for row in read_rows(problem_file)]
    return [{"task_id": t, "solution": s} for t in wanted for s in programs.get(t, [])[:per_task]]


class _Mutation(ast.NodeTransformer):
    """Changes the first node of one kind it meets, then nothing more."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.done = False

    def _once(self, node, new):
        if self.done or new is None:
            return self.generic_visit(node)
        self.done = True
        return new

    def visit_BinOp(self, node):
        swap = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv}
        new = None
        if self.kind == "operator" and type(node.op) in swap:
            new = ast.BinOp(node.left, swap[type(node.op)](), node.right)
        return self._once(node, new)

    def visit_Compare(self, node):
        swap = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
        new = None
        if self.kind == "comparison" and type(node.ops[0]) in swap:
            new = ast.Compare(node.left, [swap[type(node.ops[0])](), *node.ops[1:]], node.comparators)
        return self._once(node, new)

    def visit_Constant(self, node):
        new = None
        if self.kind == "constant" and type(node.value) is int:
            new = ast.Constant(node.value + 1)
        return self._once(node, new)

    def visit_Return(self, node):
        new = None
        if self.kind == "result" and node.value is not None:
            new = ast.Return(ast.Constant(None))
        return self._once(node, new)


def planted_bugs(program: str) -> list[str]:
    """Up to 4 mutants of ``program``, one change each, distinct, deterministic."""
    out: list[str] = []
    for kind in ("operator", "comparison", "constant", "result"):
        tree = ast.parse(program)
        mutation = _Mutation(kind)
        tree = mutation.visit(tree)
        if not mutation.done:
            continue
        ast.fix_missing_locations(tree)
        text = ast.unparse(tree) + "\n"
        if text not in out:
            out.append(text)
    return out


def mbpp_samples(problem_file: Path) -> list[dict]:
    rows = []
    for row in read_rows(problem_file):
        program = row["prompt"] + row["canonical_solution"]
        rows.append({"task_id": row["task_id"], "solution": program})
        rows += [{"task_id": row["task_id"], "solution": bug} for bug in planted_bugs(program)]
    return rows


# --------------------------------------------------------------------------- the two evaluators


def run_ours(problem_file: Path, samples: Path, out: Path, sandbox: str, synthesise: int,
             reuse: Path | None = None) -> float:
    command = [sys.executable, "-m", "codegen_ttc.cli", "score", "--problems", str(problem_file), "--samples-file",
               str(samples), "--out", str(out), "--sandbox", sandbox, "--no-examples", "--strategies", "random",
               "--synthesise", str(synthesise), "--json"]
    if reuse is not None:
        command += ["--reuse", str(reuse)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


# a program no sample is: its pairs can never be taken for a real sample's by ``--reuse``
PLACEHOLDER = "# compare_evalplus.py --warm: a placeholder, so that a run computes the expected outputs\n"


def references_run(problem_file: Path, out: Path, sandbox: str, synthesise: int) -> Path:
    """A run directory holding the expected outputs of ``problem_file`` (and one placeholder
    sample's failures per task), made once for ``--warm``: what a researcher's first model leaves."""
    samples = out.with_name(out.name + "_samples.jsonl")
    samples.write_text("".join(json.dumps({"task_id": row["task_id"], "solution": PLACEHOLDER}) + "\n"
                               for row in read_rows(problem_file)))
    shutil.rmtree(out, ignore_errors=True)
    run_ours(problem_file, samples, out, sandbox, synthesise)
    return out


def our_verdicts(problem_file: Path, samples: Path, out: Path, sandbox: str, synthesise: int,
                 native: bool = False) -> tuple[dict[str, list[tuple[bool, bool]]], list[tuple]]:
    """(base, base + plus) per sample, in file order, from the run directory (nothing re-executes),
    and, with ``native``, the calls the run executed as ``native_calls.Job`` fields: the references'
    and the candidates' hidden tests, batch by batch, each with its limits."""
    config = ScoreConfig(problems=str(problem_file), samples=str(samples), examples=False, strategies=["random"],
                         sandbox=sandbox, synthesise=synthesise)
    tasks = prepare_tasks(config)
    jobs = [_job("references", b) for b in reference_batches(
        [t for t in tasks if t.problem.reference is not None and not t.problem.hidden_tests],
        reference_limits(config.limits), config.synthesised_limits, 1)] if native else []
    store = ResultStore(out / "results.jsonl")
    tasks, _ = settle_references(tasks, store, sandbox=sandbox, workers=None, limits=config.limits,
                                 synthesised_limits=config.synthesised_limits)
    with Executor(sandbox, store=store) as executor:
        def run(batches):
            if native:
                jobs.extend(_job("candidates", b) for b in batches)
            return executor.run(batches)

        truth = run_truth(tasks, run, config.limits)
        assert executor.executed_pairs == 0, "the run directory lacked outcomes"
    verdicts: dict[str, list[tuple[bool, bool]]] = {}
    by_program = {}
    for t in tasks:
        base, full = t.correct(truth, "base"), t.correct(truth)
        by_program[t.problem.task_id] = {p: (bool(b), bool(f)) for p, b, f in zip(t.candidates.programs, base, full)}
    for row in read_rows(samples):
        program = row["solution"] if row["solution"].endswith("\n") else row["solution"] + "\n"
        verdicts.setdefault(row["task_id"], []).append(by_program[row["task_id"]][program])
    return verdicts, jobs


def _job(label: str, batch) -> tuple:
    calls = tuple((p.args, dict(p.kwargs)) for p in batch.probes if isinstance(p, Call))
    limits = batch.limits
    return (label, batch.source, batch.entry_point, calls, limits.cpu_seconds, limits.max_timeouts,
            limits.wall_seconds, limits.load_cpu_seconds)


def native_floor(jobs: list[tuple]) -> dict:
    """The executed calls timed natively (``native_calls.py``, in a bwrap of its own), and the
    wall time they need at the least on this machine's cores."""
    from native_calls import confined_command

    done = subprocess.run(confined_command(), input=pickle.dumps(jobs), capture_output=True, check=True)
    totals = json.loads(done.stdout)
    cores = os.cpu_count() or 1
    cpu = sum(row["cpu_seconds"] for row in totals.values())
    return {**totals, "cores": cores, "floor_seconds": round(cpu / cores, 2)}


def run_evalplus(python: str, dataset: str, problem_file: Path, samples: Path, cache: Path, workers: int) -> float:
    variable = "HUMANEVAL_OVERRIDE_PATH" if dataset == "humaneval" else "MBPP_OVERRIDE_PATH"
    env = {**os.environ, variable: str(problem_file), "XDG_CACHE_HOME": str(cache)}
    env.pop("PYTHONPATH", None)
    result = samples.with_name(samples.stem + "_eval_results.json")
    result.unlink(missing_ok=True)
    command = [python, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples", str(samples),
               "--parallel", str(workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def evalplus_verdicts(samples: Path) -> dict[str, list[tuple[bool, bool]]]:
    results = json.loads(samples.with_name(samples.stem + "_eval_results.json").read_text())
    return {
        task_id: [(r["base_status"] == "pass", r["base_status"] == r["plus_status"] == "pass") for r in rows]
        for task_id, rows in results["eval"].items()
    }


# --------------------------------------------------------------------------- comparison


class OtherJobs:
    """The CPU other jobs use while one tool runs, in cores: the machine's busy CPU less this
    script's cpuacct group (it and every process it starts; a Docker sandbox's containers are
    dockerd's, so under ``--sandbox docker`` they count as other jobs). None without a group."""

    def __init__(self) -> None:
        self.group = join_cpu_group()

    def measure(self, run, *args):
        busy0, own0, started = machine_busy_cpu(), group_cpu(self.group), time.perf_counter()
        seconds = run(*args)
        busy1, own1 = machine_busy_cpu(), group_cpu(self.group)
        wall = time.perf_counter() - started
        if None in (busy0, busy1, own0, own1):
            return seconds, None
        return seconds, round(max(0.0, (busy1 - busy0 - (own1 - own0)) / wall), 3)

    def close(self) -> None:
        leave_cpu_group(self.group)


def pass1(verdicts: dict[str, list[tuple[bool, bool]]], which: int) -> float:
    per_task = [sum(v[which] for v in vs) / len(vs) for vs in verdicts.values() if vs]
    return sum(per_task) / len(per_task)


def other_text(cores: float | None) -> str:
    return f" (other jobs {cores:.2f} cores)" if cores is not None else ""


def compare(name: str, dataset: str, problem_file: Path, rows: list[dict], args, workdir: Path) -> dict:
    samples = workdir / f"{dataset}_samples.jsonl"
    with samples.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    times = {"ours": [], "evalplus": []}
    loads = {"ours": [], "evalplus": []}  # 1-minute load average as each one starts
    other = {"ours": [], "evalplus": []}  # cores other jobs used while each one ran
    ours_v = theirs_v = None
    warm = {"ours": [], "evalplus": []} if args.warm else None
    first_model = references_run(problem_file, workdir / f"{dataset}_references", args.sandbox,
                                 args.synthesise) if args.warm else None
    for round_no in range(args.rounds):
        out = workdir / f"{dataset}_run{round_no}"
        shutil.rmtree(out, ignore_errors=True)
        loads["ours"].append(os.getloadavg()[0])
        seconds, cores = args.other_jobs.measure(run_ours, problem_file, samples, out, args.sandbox, args.synthesise)
        times["ours"].append(seconds)
        other["ours"].append(cores)
        print(f"{name} round {round_no + 1}: codegen-ttc score {seconds:.1f} s{other_text(cores)}", flush=True)
        ours_v, jobs = our_verdicts(problem_file, samples, out, args.sandbox, args.synthesise, args.native)
        cache = workdir / f"evalplus_cache{round_no}"
        shutil.rmtree(cache, ignore_errors=True)
        loads["evalplus"].append(os.getloadavg()[0])
        seconds, cores = args.other_jobs.measure(run_evalplus, args.evalplus_python, dataset, problem_file, samples,
                                                 cache, args.workers)
        times["evalplus"].append(seconds)
        other["evalplus"].append(cores)
        print(f"{name} round {round_no + 1}: evalplus {seconds:.1f} s{other_text(cores)}", flush=True)
        theirs_v = evalplus_verdicts(samples)
        if warm is not None:
            warm_out = workdir / f"{dataset}_warm{round_no}"
            shutil.rmtree(warm_out, ignore_errors=True)
            seconds, cores = args.other_jobs.measure(run_ours, problem_file, samples, warm_out, args.sandbox,
                                                     args.synthesise, first_model)
            warm["ours"].append(seconds)
            print(f"{name} round {round_no + 1}: codegen-ttc score, expected outputs reused {seconds:.1f} s"
                  f"{other_text(cores)}", flush=True)
            if our_verdicts(problem_file, samples, warm_out, args.sandbox, args.synthesise)[0] != ours_v:
                raise SystemExit(f"compare_evalplus: {warm_out} judged some sample otherwise than {out}")
            seconds, cores = args.other_jobs.measure(run_evalplus, args.evalplus_python, dataset, problem_file,
                                                     samples, cache, args.workers)
            warm["evalplus"].append(seconds)
            print(f"{name} round {round_no + 1}: evalplus, ground truth cached {seconds:.1f} s{other_text(cores)}",
                  flush=True)
            if evalplus_verdicts(samples) != theirs_v:
                raise SystemExit("compare_evalplus: evalplus judged some sample otherwise with its cache")
    # our per-sample result line ("failed: <test>: <what it raised>") says why we judged so
    our_results = {(r["task_id"], r["sample"]): r["result"] for r in read_rows(out / "samples_results.jsonl")}
    differences = []
    for task_id, ours in ours_v.items():
        theirs = theirs_v.get(task_id, [])
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if a != b:
                differences.append({"task_id": task_id, "sample": i, "ours": {"base": a[0], "plus": a[1]},
                                    "evalplus": {"base": b[0], "plus": b[1]},
                                    "our_result": our_results.get((task_id, i))})
    ratio = sum(times["evalplus"]) / sum(times["ours"])
    report = {
        "tasks": len(ours_v),
        "samples": sum(len(v) for v in ours_v.values()),
        "ours": {"base_pass@1": pass1(ours_v, 0), "base+plus_pass@1": pass1(ours_v, 1), "seconds": times["ours"]},
        "evalplus": {"base_pass@1": pass1(theirs_v, 0), "base+plus_pass@1": pass1(theirs_v, 1),
                     "seconds": times["evalplus"]},
        "speedup": round(ratio, 2),
        "synthesise": args.synthesise,
        "load_at_start": loads,
        "other_jobs_cores": other,
        "differences": differences,
    }
    if warm is not None:
        report["warm"] = {**warm, "speedup": round(sum(warm["evalplus"]) / sum(warm["ours"]), 2)}
    if args.native:
        report["native"] = native = native_floor(jobs)
        # the ratio an evaluator with no cost of its own would reach against evalplus's median
        report["native"]["evalplus_over_floor"] = round(median(times["evalplus"]) / native["floor_seconds"], 2)
    print(f"{name}: {report['tasks']} tasks, {report['samples']} samples")
    for who in ("ours", "evalplus"):
        r = report[who]
        secs = ", ".join(f"{s:.1f}" for s in r["seconds"])
        print(f"  {who:9s} base pass@1 {r['base_pass@1']:.4f}  base+plus pass@1 {r['base+plus_pass@1']:.4f}  "
              f"wall seconds {secs}")
    print(f"  ours is {ratio:.2f}x faster (sandbox {args.sandbox}); {len(differences)} samples judged differently")
    if warm is not None:
        print(f"  with the expected outputs of an earlier run: ours {', '.join(f'{s:.1f}' for s in warm['ours'])} s, "
              f"evalplus {', '.join(f'{s:.1f}' for s in warm['evalplus'])} s: {report['warm']['speedup']:.2f}x")
    if args.native:
        n = report["native"]
        parts = ", ".join(f"{label} {n[label]['cpu_seconds']:.1f} CPU s ({n[label]['calls']} calls, "
                          f"{n[label]['at_limit']} at their limit)" for label in ("references", "candidates") if label in n)
        print(f"  the executed calls natively: {parts}; at least {n['floor_seconds']:.1f} s of wall on "
              f"{n['cores']} cores, so no evaluator of them beats evalplus's median by more than "
              f"{n['evalplus_over_floor']:.2f}x here")
    for d in differences:
        print(f"    {d['task_id']} sample {d['sample']}: ours {d['ours']}, evalplus {d['evalplus']}; "
              f"ours: {d['our_result']}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["humaneval", "mbpp", "both"], default="both")
    parser.add_argument("--per-task", type=int, default=10, help="CodeGen-16B samples per HumanEval+ task")
    parser.add_argument("--limit", type=int, default=None, help="first N tasks only (a cut release file for both)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of ours then evalplus")
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--synthesise", type=int, default=0,
                        help="score's --synthesise: 0 = the ground truth alone, as evalplus; 40 = score's default")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="evalplus --parallel")
    parser.add_argument("--evalplus-python", default=sys.executable, help="an interpreter with evalplus installed")
    parser.add_argument("--workdir", type=Path, default=None, help="keep samples, runs and results here")
    parser.add_argument("--json", type=Path, help="write the comparison here")
    parser.add_argument("--warm", action="store_true",
                        help="also time each tool with the expected outputs an earlier run computed (evalplus's "
                             "cache, our --reuse of a placeholder run): a researcher's second model")
    parser.add_argument("--native", action="store_true",
                        help="also time the calls our run executed with no evaluator around them (native_calls.py, "
                             "in a bwrap): the wall time no evaluator of them can beat on these cores")
    args = parser.parse_args()
    check = subprocess.run([args.evalplus_python, "-c", "import evalplus"], capture_output=True)
    if check.returncode != 0:
        print(f"compare_evalplus: evalplus is not importable by {args.evalplus_python} (pip install evalplus)",
              file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="compare_evalplus_"))
    workdir.mkdir(parents=True, exist_ok=True)
    out = {}
    args.other_jobs = OtherJobs()
    try:
        run_all(args, workdir, out)
    finally:
        args.other_jobs.close()
    return 0


def run_all(args, workdir: Path, out: dict) -> None:
    for dataset, source in (("humaneval", HUMANEVAL_PLUS), ("mbpp", MBPP_PLUS)):
        if args.dataset not in (dataset, "both"):
            continue
        problem_file = source
        if args.limit:
            problem_file = workdir / f"{dataset}_first{args.limit}.jsonl"
            problem_file.write_text("".join(json.dumps(r) + "\n" for r in read_rows(source)[: args.limit]))
        rows = humaneval_samples(problem_file, args.per_task) if dataset == "humaneval" else mbpp_samples(problem_file)
        out[dataset] = compare(f"{dataset.upper()}+", dataset, problem_file, rows, args, workdir)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
