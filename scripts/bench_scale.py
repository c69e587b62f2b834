#!/usr/bin/env python3
"""Execution throughput against workers: local executor with 1 and 2 workers, a local Ray
with 2 workers, the driver's own cost per pair, and a projection for N nodes.

The work is the selection pairs of the first ``--tasks`` tasks of the shared CodeGen-16B
data (``--samples`` samples each, CodeT's tests: the strict setting of
``scripts/bench_selection.py``), executed from scratch (an in-memory store) by each
configuration in turn. Ray's start (``ray.init``) and its actors' start (one warm sandbox
each) are timed apart from the run. The driver's cost is the CPU time of this process
during the Ray run, per pair: planning, shipping batches as JSON, taking replies, storing.

The projection assumes that a pair costs a worker what it cost here (the Ray run's wall
time x workers / pairs) and that the driver, a single process, caps the throughput at
1 / (its CPU seconds per pair); it ignores the network and a shared store's file system.
It is a projection from the measured costs, not a measurement on N nodes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_selection import DATA, PROBLEMS, SAMPLES, TESTS  # noqa: E402  (the bench's data, one place)

from codegen_ttc.execution.distributed import DistributedExecutor  # noqa: E402
from codegen_ttc.execution.executor import Executor  # noqa: E402
from codegen_ttc.execution.store import ResultStore  # noqa: E402
from codegen_ttc.reports.run import ScoreConfig, prepare_tasks  # noqa: E402


def workload(args) -> list:
    config = ScoreConfig(problems=str(args.data / PROBLEMS), samples=str(args.data / SAMPLES),
                         tests=str(args.data / TESTS), cleanup="codet", examples=False, limit=args.tasks)
    batches = []
    for task in prepare_tasks(config):
        task_batches = task.batches(config.limits, synthesised_limits=config.synthesised_limits)
        batches += task_batches[: args.samples]  # one batch per distinct candidate program
    return batches


def measure(name: str, run, pairs: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    executor = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert executor.executed_pairs == pairs and not executor.infra_failures, name
    return {"pairs": pairs, "seconds": round(wall, 2), "pairs_per_second": round(pairs / wall, 1),
            "driver_cpu_seconds": round(cpu, 2), "infra_errors": executor.infra_errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--tasks", type=int, default=10, help="first N tasks")
    parser.add_argument("--samples", type=int, default=10, help="distinct programs per task")
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--cores-per-node", type=int, default=32, help="cores of a node in the projection")
    args = parser.parse_args()
    if not (args.data / SAMPLES).exists():
        print(f"bench_scale: no data at {args.data}", file=sys.stderr)
        return 2
    batches = workload(args)
    pairs = sum(len(b.probes) for b in batches)
    report: dict = {"tasks": args.tasks, "programs": len(batches), "pairs": pairs, "sandbox": args.sandbox, "runs": {}}

    def local(workers: int):
        def run():
            with Executor(args.sandbox, workers=workers, store=ResultStore(None)) as executor:
                executor.run(batches)
            return executor
        return run

    for workers in (1, 2):
        report["runs"][f"local, {workers} worker{'s' * (workers > 1)}"] = measure("local", local(workers), pairs)

    import ray

    from codegen_ttc.execution.ray_executor import RayEngine

    started = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    ray_start = time.perf_counter() - started
    try:
        started = time.perf_counter()
        with RayEngine(args.sandbox, 2) as engine:
            actors_start = time.perf_counter() - started

            def run():
                executor = DistributedExecutor(engine, store=ResultStore(None))
                executor.run(batches)
                return executor

            row = measure("ray", run, pairs)
    finally:
        ray.shutdown()
    row["ray_init_seconds"] = round(ray_start, 1)
    row["actors_start_seconds"] = round(actors_start, 1)
    report["runs"]["local Ray, 2 workers"] = row

    # the projection: measured costs per pair, extrapolated
    worker_seconds_per_pair = row["seconds"] * 2 / pairs
    driver_seconds_per_pair = row["driver_cpu_seconds"] / pairs
    cap = 1 / driver_seconds_per_pair
    report["per_pair"] = {"worker_core_seconds": round(worker_seconds_per_pair, 6),
                          "driver_cpu_seconds": round(driver_seconds_per_pair, 6),
                          "driver_cap_pairs_per_second": round(cap)}
    report["projection"] = {
        "note": f"projected from the measured per-pair costs, {args.cores_per_node}-core nodes, network and storage ignored",
        "pairs_per_second_by_nodes": {
            n: round(min(n * args.cores_per_node / worker_seconds_per_pair, cap)) for n in (1, 2, 4, 8, 16, 32, 64)
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
