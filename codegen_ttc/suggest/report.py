"""How a ``suggest`` result is shown: plain text (diff and why) or JSON. Pure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from codegen_ttc.suggest.run import SuggestResult


def _why(result: SuggestResult) -> list[str]:
    chosen = result.chosen
    assert chosen is not None
    run = result.runs[chosen.index]
    s = chosen.score
    tested = sum(len(r.samples) for r in result.runs)
    probed = ""
    if result.probed:
        names = ", ".join(f"{p.function}()" for p in result.probed)
        probed = f" on the tests and on {sum(len(p.inputs) for p in result.probed)} synthesised inputs of {names}"
    lines = [
        f"fixes {len(s.fixed)}/{len(result.targets)} failing tests"
        + (f" (still failing: {', '.join(s.still_failing)})" if s.still_failing else ""),
        f"regressions: {len(s.regressions)}" + (f"; new failures: {', '.join(s.new_failures)}" if s.new_failures else ""),
        f"support: {chosen.support} of {tested} tested samples behave the same{probed} "
        f"(cluster size; {len(run.samples)} gave this exact patch)",
        f"size: {chosen.changed_lines} changed lines in {', '.join(run.patch.paths)}",
    ]
    return lines


def rejected_counts(result: SuggestResult) -> dict[str, int]:
    return dict(Counter(c.rejected.reason for c in result.candidates if c.rejected is not None))


def render_text(result: SuggestResult, *, show_diff: bool = True) -> str:
    out: list[str] = []
    if result.status in ("clean", "no_tests"):
        return f"codegen-ttc suggest: nothing to do ({result.message})\n"
    n = len(result.targets)
    out.append(f"codegen-ttc suggest: {n} failing test{'' if n == 1 else 's'}: " + ", ".join(result.targets[:10]))
    if result.candidates:
        rej = rejected_counts(result)
        out.append(f"{len(result.candidates)} samples; rejected before running: "
                   + (", ".join(f"{k} {v}" for k, v in sorted(rej.items())) if rej else "none")
                   + f"; {len(result.runs)} distinct patches tested")
    if result.repair is not None and result.repair.rounds:
        r = result.repair
        out.append(f"repair: {r.requested} requests in {r.rounds} rounds, {r.new_patches} new patches tested")
    if result.chosen is None:
        out.append(f"no patch: {result.message}")
        return "\n".join(out) + "\n"
    origin = _chosen_origin(result)
    out.append("chosen patch:" if origin == "sample" else f"chosen patch ({origin}):")
    out += [f"  {line}" for line in _why(result)]
    if show_diff:
        out.append("")
        out.append(result.runs[result.chosen.index].patch.diff().rstrip("\n"))
        out.append("")
    if result.status == "applied":
        out.append("applied to the working tree (not committed)")
    elif result.status == "conflict":
        out.append("NOT applied: the patch conflicts with your changes:")
        out += [f"  {c}" for c in result.applied.conflicts] if result.applied else []
    else:
        out.append("not applied (rerun with --apply to write it)")
    return "\n".join(out) + "\n"


def to_json(result: SuggestResult) -> dict[str, Any]:
    def score(r) -> dict[str, Any]:
        run = result.runs[r.index]
        s = r.score
        return {
            "samples": run.samples,
            "fixed": list(s.fixed),
            "still_failing": list(s.still_failing),
            "regressions": list(s.regressions),
            "new_failures": list(s.new_failures),
            "ran": s.ran,
            "eligible": s.eligible,
            "outcome_cluster": r.outcome_cluster,
            "behaviour_cluster": r.behaviour_cluster,
            "support": r.support,
            "changed_lines": r.changed_lines,
            "files": list(run.patch.paths),
            "seconds": round(run.run.seconds, 3) if run.run else None,
            "timed_out": bool(run.run and run.run.timed_out),
        }

    return {
        "status": result.status,
        "exit_code": result.exit_code,
        "message": result.message,
        "repo": str(result.repo),
        "test_cmd": result.test_cmd,
        "baseline": {
            "tests": len(result.baseline.outcomes or {}),
            "failing": result.targets,
            "seconds": round(result.baseline.seconds, 3),
        },
        "context": result.context.summary() if result.context else None,
        "samples": len(result.candidates),
        "rejected": rejected_counts(result),
        "rejections": [{"sample": c.sample, "reason": c.rejected.reason, "detail": c.rejected.detail,
                        "text": c.text[:500]}
                       for c in result.candidates if c.rejected is not None],
        "ranking": [score(r) for r in result.ranking],
        "chosen": score(result.chosen) if result.chosen else None,
        "diff": result.runs[result.chosen.index].patch.diff() if result.chosen else None,
        "applied": result.applied.applied if result.applied else False,
        "conflicts": list(result.applied.conflicts) if result.applied else [],
        "accounting": result.accounting.to_json() if result.accounting else None,
        "probed": [p.to_json() for p in result.probed],
        "repair": result.repair.to_json() if result.repair else None,
        "chosen_origin": _chosen_origin(result),
    }


def _chosen_origin(result: SuggestResult) -> str | None:
    """Where the chosen patch came from: "sample", or the repair round that gave it first."""
    if result.chosen is None:
        return None
    samples = set(result.runs[result.chosen.index].samples)
    origins = [c.origin for c in result.candidates if c.sample in samples]
    return "sample" if "sample" in origins else (origins[0] if origins else None)
