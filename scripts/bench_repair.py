#!/usr/bin/env python3
"""Repair rounds against more samples at equal tokens: ``score --generate`` three ways.

1. ``-n N`` without repair (the baseline at equal samples);
2. ``-n N --repair-rounds R --repair-width W``: its tokens, candidates plus repairs, are T;
3. ``-n M`` without repair, M the sample count whose tokens come closest to T (from the
   tokens a sample cost in run 1), so that repair and plain sampling are compared at
   about equal tokens.

Tokens are the charged ones (``sampling.budget``: prompt + completion tokens of every reply,
a reply from the cache at what it cost when fetched), so the figures do not depend on what
an earlier run left in the cache. Any OpenAI-compatible server works (``--base-url``,
``--model``); the default is the embedded model. Runs go to ``--out`` (resumable: the
samples are cached in ``--out``/cache), figures to stdout as one JSON record.

    python scripts/bench_repair.py --out runs/bench_repair
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# ten HumanEval tasks that a very small model solves now and then (one-line bodies)
EASY = ("HumanEval/53,HumanEval/23,HumanEval/45,HumanEval/42,HumanEval/30,HumanEval/34,HumanEval/35,"
        "HumanEval/52,HumanEval/60,HumanEval/28")


def run(args, out: Path, samples: int, rounds: int) -> dict:
    from codegen_ttc.execution.batch import Limits
    from codegen_ttc.reports.run import ScoreConfig, prepare_run, score
    from codegen_ttc.sampling.config import resolve_config

    llm = resolve_config(model=args.model, base_url=args.base_url, api_key=args.api_key, max_tokens=args.max_tokens)
    config = ScoreConfig(
        problems=args.problems, samples="", generate=llm, generate_samples=samples, task_ids=args.tasks.split(","),
        repair_rounds=rounds, repair_width=args.repair_width, strategies=["default"], sandbox=args.sandbox,
        seed=args.seed, ks=(1,), limits=Limits(),
    )
    started = time.perf_counter()
    prepared = prepare_run(config)
    result = score(config, out, prepared=prepared)
    summary = result.summary
    charged = summary["tokens"]["charged_tokens"]
    return {
        "samples_per_task": samples,
        "repair_rounds": rounds,
        "pool_per_task": summary["n_samples"] / summary["n_tasks"],
        "selected_pass@1": summary["strategies"]["default"]["pass@1"],
        "unbiased_pass@1": summary["pass_at_k"]["1"],
        "tokens": sum(charged.values()),
        "tokens_by_kind": charged,
        "repair_requests": (summary.get("repair") or {}).get("requested", 0),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench_repair"))
    parser.add_argument("--problems", default="humaneval")
    parser.add_argument("--tasks", default=EASY, help="comma-separated task ids (default: ten easy HumanEval tasks)")
    parser.add_argument("-n", "--samples", type=int, default=4)
    parser.add_argument("--repair-rounds", type=int, default=1)
    parser.add_argument("--repair-width", type=int, default=2)
    parser.add_argument("--model", default=None, help="default: $CODEGEN_TTC_MODEL, a config file's, else the embedded one")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from codegen_ttc.sampling.config import cache_dir, resolve_config

    if "CODEGEN_TTC_CACHE" not in os.environ:
        # samples cached apart from other runs; the embedded model's file shared, not fetched again
        own = (args.out / "cache").resolve()
        own.mkdir(exist_ok=True)
        models = cache_dir() / "models"
        if models.is_dir() and not (own / "models").exists():
            (own / "models").symlink_to(models, target_is_directory=True)
        os.environ["CODEGEN_TTC_CACHE"] = str(own)

    llm = resolve_config(model=args.model, base_url=args.base_url, api_key=args.api_key)
    n = args.samples
    plain = run(args, args.out / f"n{n}", n, 0)
    repaired = run(args, args.out / f"n{n}_repair{args.repair_rounds}", n, args.repair_rounds)
    per_sample = plain["tokens"] / max(n * len(args.tasks.split(",")), 1)
    m = max(n, round(repaired["tokens"] / max(per_sample * len(args.tasks.split(",")), 1)))
    equal = run(args, args.out / f"n{m}", m, 0)
    record = {
        "model": "embedded SmolLM2-135M-Instruct" if llm.is_local else llm.model,
        "tasks": args.tasks.split(","),
        "without_repair": plain,
        "with_repair": repaired,
        "without_repair_equal_tokens": equal,
    }
    json.dump(record, sys.stdout, indent=2)
    print()
    return 0 if all(math.isfinite(r["selected_pass@1"]) for r in (plain, repaired, equal)) else 1


if __name__ == "__main__":
    sys.exit(main())
