"""The verification pipeline for one problem, shared by ``solve`` and ``score``.

A ``Task`` gathers what is known about a problem (its samples, the tests
generated for it, inputs synthesised for it), turns that into execution
batches, and turns the executed outcomes into ``Evidence`` for selection and,
when the problem has hidden tests, into ground truth for scoring. Only the
batches touch a sandbox; everything else here is pure.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from codegen_ttc.execution.batch import Batch, Limits, Outcome, Outcomes, candidate_key, for_problem
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems.model import Call, Probe, Problem, Script, TestCase
from codegen_ttc.selection.evidence import Evidence, without_slow_inputs

# A stand-in for the candidate that ends its process at its first call: the judge then ends
# the script uncatchably (a candidate's crash), so a script that *raises* on it raised before
# reaching the candidate, in the test's own code (an import of a missing helper, a typo).
_STAND_IN = "import os\n\n\ndef {name}(*args, **kwargs):\n    os._exit(86)\n"


@dataclass(frozen=True)
class Candidates:
    """Unique programs, in first-seen order, with how many samples produced each."""

    programs: tuple[str, ...]
    multiplicity: tuple[int, ...]

    @classmethod
    def from_samples(cls, samples: Sequence[str]) -> Candidates:
        counts = Counter(samples)
        return cls(tuple(counts), tuple(counts.values()))

    def __len__(self) -> int:
        return len(self.programs)

    @property
    def n_samples(self) -> int:
        return sum(self.multiplicity)


@dataclass(frozen=True)
class WeightedTests:
    """Unique test cases with how many times each was produced (LLMs repeat good tests)."""

    cases: tuple[TestCase, ...] = ()
    weights: tuple[int, ...] = ()

    @classmethod
    def from_cases(cls, cases: Sequence[TestCase]) -> WeightedTests:
        first: dict[str, TestCase] = {}
        counts: Counter[str] = Counter()
        for case in cases:
            first.setdefault(case.key, case)
            counts[case.key] += 1
        return cls(tuple(first.values()), tuple(counts[k] for k in first))

    def __len__(self) -> int:
        return len(self.cases)


def _unique_probes(probes: Sequence[Probe]) -> tuple[Probe, ...]:
    return tuple({p.key: p for p in probes}.values())


@dataclass(frozen=True)
class Task:
    problem: Problem
    candidates: Candidates
    generated: WeightedTests = field(default_factory=WeightedTests)
    synthesised: tuple[Call, ...] = ()  # inputs with no expected output, for clustering only
    # (position in the input, program) of each sample, for per-sample results in input order
    samples: tuple[tuple[int, str], ...] = ()

    @property
    def provided(self) -> tuple[TestCase, ...]:
        return self.problem.provided_tests

    @property
    def clustering_inputs(self) -> tuple[Call, ...]:
        """Shared inputs whose outputs define behaviour: every call any selection test makes."""
        calls = [c.probe for c in self.provided + self.generated.cases if isinstance(c.probe, Call)]
        return tuple(p for p in _unique_probes([*calls, *self.synthesised]) if isinstance(p, Call))

    @property
    def test_keys(self) -> frozenset[str]:
        """Probe keys of the provided and generated tests (run under the tests' limits)."""
        return frozenset(c.probe.key for c in self.provided + self.generated.cases)

    def probes(self, *, hidden: bool) -> tuple[Probe, ...]:
        selection = [c.probe for c in self.provided + self.generated.cases] + list(self.synthesised)
        truth = list(self.hidden_probes) if hidden else []
        return _unique_probes(selection + truth)

    @property
    def hidden_probes(self) -> tuple[Probe, ...]:
        """The hidden tests' probes; for a problem whose hidden tests a reference has still to
        make (evalplus), the reference's inputs, which become those tests' probes."""
        ref = self.problem.reference
        if ref is not None and not self.problem.hidden_tests:
            return ref.calls
        return _unique_probes([c.probe for c in self.problem.hidden_tests])

    def batches(
        self, limits: Limits, *, synthesised_limits: Limits | None = None, script_limits: Limits | None = None
    ) -> list[Batch]:
        """Batches for selection, per candidate: the tests' probes, then synthesised inputs.

        A synthesised input has no expected output: a timeout there is just a behaviour
        ("fails on this input"), so it runs on ``synthesised_limits``, a shorter budget
        than a test, where a false timeout would be a false failure. A judge script
        (a user's property: importing hypothesis and running a hundred examples) runs on
        ``script_limits`` when given, a budget of its own.
        """
        # a benchmark's memory limit holds for every run of the problem's candidates
        limits = for_problem(limits, self.problem)
        synthesised_limits = synthesised_limits and for_problem(synthesised_limits, self.problem)
        probes = self.probes(hidden=False)
        tests = self.test_keys
        if synthesised_limits is None:
            groups = [(probes, limits)]
        else:
            groups = [
                (tuple(p for p in probes if p.key in tests), limits),
                (tuple(p for p in probes if p.key not in tests), synthesised_limits),
            ]
        if script_limits is not None:
            first, rest = groups[0], groups[1:]
            groups = [
                (tuple(p for p in first[0] if not isinstance(p, Script)), first[1]),
                (tuple(p for p in first[0] if isinstance(p, Script)), script_limits),
                *rest,
            ]
        return [
            Batch(program, self.problem.entry_point, group, lim)
            for program in self.candidates.programs
            for group, lim in groups
            if group
        ]

    def truth_batches(self, limits: Limits) -> list[Batch]:
        """Batches of the hidden tests, for scoring only, executed and read apart from selection's.

        Apart, so that no outcome selection sees depends on the hidden tests (not even
        through a shared batch's timeout budget); each stops at its first timeout, since
        one failed hidden test already decides the verdict.
        """
        probes = _unique_probes([c.probe for c in self.problem.hidden_tests])
        if not probes:
            return []
        # tests with a CPU limit of their own (evalplus: from the reference's time) run in
        # a batch per limit
        limits = for_problem(limits, self.problem)
        by_limit: dict[float, list[Probe]] = {}
        for case in self.problem.hidden_tests:
            by_limit.setdefault(case.cpu_seconds or limits.cpu_seconds, []).append(case.probe)
        batches = []
        for cpu, group in sorted(by_limit.items()):
            truth_limits = dataclasses.replace(limits, max_timeouts=1)
            if cpu != limits.cpu_seconds:
                truth_limits = dataclasses.replace(
                    truth_limits, cpu_seconds=cpu, wall_seconds=max(limits.wall_seconds, 6 * cpu)
                )
            unique = _unique_probes(group)
            batches += [Batch(program, self.problem.entry_point, unique, truth_limits) for program in self.candidates.programs]
        return batches

    def stand_in_batches(self, limits: Limits) -> list[Batch]:
        """The hidden judge scripts run on ``_STAND_IN``: finds tests broken in themselves
        (``broken_hidden_tests``). Calls of the entry point with literal checks cannot be."""
        scripts = tuple(p for p in _unique_probes([c.probe for c in self.problem.hidden_tests]) if isinstance(p, Script))
        if not scripts:
            return []
        program = _STAND_IN.format(name=self.problem.entry_point)
        return [Batch(program, self.problem.entry_point, scripts, dataclasses.replace(limits, max_timeouts=1))]

    def broken_hidden_tests(self, outcomes: Outcomes) -> list[str]:
        """Why hidden tests fail whatever the candidate does, from ``stand_in_batches``' outcomes:
        each script that raised before its first call of the candidate (an error of the test)."""
        broken = []
        for batch in self.stand_in_batches(Limits()):
            row = outcomes.get(batch.candidate_key, {})
            for probe in batch.probes:
                outcome = row.get(probe.key)
                if outcome is not None and outcome.status == "raised":
                    detail = f"{outcome.error}: {outcome.message}" if outcome.message else outcome.error
                    broken.append(f"a hidden test raises {detail} before calling the candidate")
        return broken

    def candidate_keys(self) -> list[str]:
        return [candidate_key(p, self.problem.entry_point) for p in self.candidates.programs]

    def evidence(self, outcomes: Outcomes, *, keep_slow_inputs: bool = False) -> Evidence:
        """What selection sees; synthesised inputs some candidate ran out of time on are left
        out (``selection.evidence.without_slow_inputs``) unless ``keep_slow_inputs``."""
        keys = self.candidate_keys()
        rows = [outcomes.get(k, {}) for k in keys]
        provided = _verdicts(self.provided, rows)
        generated = _verdicts(self.generated.cases, rows)
        inputs = self.clustering_inputs
        behaviour, failed, timed_out = _behaviours(inputs, rows, self.test_keys)
        # an input most candidates reject (raise on) is probably outside the intended domain:
        # weight inputs by the share of samples that accept them
        mult = np.asarray(self.candidates.multiplicity, dtype=np.float64)
        accepted = (~failed * mult[:, None]).sum(axis=0) / max(mult.sum(), 1.0)
        column = {p.key: j for j, p in enumerate(inputs)}
        test_input = np.array(
            [column.get(c.probe.key, -1) for c in self.generated.cases], dtype=np.int64
        )
        ev = Evidence(
            multiplicity=np.asarray(self.candidates.multiplicity),
            provided=provided,
            generated=generated,
            generated_weight=np.asarray(self.generated.weights, dtype=np.float64),
            behaviour=behaviour,
            input_weight=accepted,
            failed=failed,
            test_input=test_input,
            timed_out=timed_out,
            input_keys=tuple(c.key for c in inputs),
        )
        return ev if keep_slow_inputs else without_slow_inputs(ev)

    def correct(self, outcomes: Outcomes, suite: str | None = None) -> np.ndarray:
        """Ground truth per unique candidate from ``truth_batches``' outcomes: passes every hidden
        test (of ``suite`` only, when given: evalplus's "base")."""
        hidden = self.problem.hidden_tests
        if suite is not None:
            hidden = tuple(c for c in hidden if c.suite == suite)
        rows = [outcomes.get(k, {}) for k in self.candidate_keys()]
        if not hidden:
            return np.zeros(len(rows), dtype=bool)
        # each candidate judged up to its first failed test: that decides it (an evalplus task
        # has hundreds of hidden tests)
        checks = [(c.probe.key, c.check) for c in hidden]
        return np.fromiter(
            (all(passes(check, row.get(key)) for key, check in checks) for row in rows), dtype=bool, count=len(rows)
        )


def _verdicts(cases: Sequence[TestCase], rows: Sequence[Mapping[str, Outcome]]) -> np.ndarray:
    out = np.zeros((len(rows), len(cases)), dtype=bool)
    for j, case in enumerate(cases):
        key = case.probe.key
        for i, row in enumerate(rows):
            out[i, j] = passes(case.check, row.get(key))
    return out


def _behaviours(
    inputs: Sequence[Call], rows: Sequence[Mapping[str, Outcome]], tests: frozenset[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(behaviour ids, failed, timed out on a synthesised input) per candidate and input."""
    behaviour = np.zeros((len(rows), len(inputs)), dtype=np.int64)
    failed = np.zeros((len(rows), len(inputs)), dtype=bool)
    timed_out = np.zeros((len(rows), len(inputs)), dtype=bool)
    for j, call in enumerate(inputs):
        ids: dict[str, int] = {}
        synthesised = call.key not in tests
        for i, row in enumerate(rows):
            outcome = row.get(call.key)
            text = outcome.behaviour if outcome is not None else "#missing"
            behaviour[i, j] = ids.setdefault(text, len(ids))
            failed[i, j] = outcome is None or outcome.status != "returned"
            # a "budget" timeout never ran (the batch had used its timeouts): it shows nothing
            timed_out[i, j] = (
                synthesised and outcome is not None and outcome.status == "timeout" and outcome.error != "budget"
            )
    return behaviour, failed, timed_out
