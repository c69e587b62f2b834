"""``default``: our selection rule.

1. Provided tests come first: they are the user's own examples, so a cluster
   that fails one ranks below every cluster that passes more of them.
2. Clusters are by behaviour on every shared input (the tests' inputs and the
   synthesised ones, less those some candidate ran out of time on:
   ``selection.evidence.without_slow_inputs``) and by test verdicts, with every
   kind of failure counted as one behaviour (``clustering.behaviour.signatures``).
3. Among clusters tied on provided tests, each cluster is a hypothesis, "this is the
   right behaviour", scored by how well it explains the generated tests' verdicts
   (``log_likelihoods``: if it is right, the tests it passes are the right ones, every
   other program is wrong, and wrong programs pass right and wrong tests at rates of
   their own). Programs are counted as *distinct programs*, not samples: an LLM repeats
   its most likely program verbatim, and such repeats are not independent witnesses.
   Samples only break ties.
4. When no generated test passes anywhere (none were written, or all are wrong),
   candidates are ranked by their agreement with the other samples, input by input
   (``clustering.behaviour.agreement``), still below the provided tests.

``dual``, the rule step 3 replaced, and ``likelihood``, this rule counting samples, are
in ``selection.baselines``. Why this rule, with the measurements that chose it:
docs/decisions/001-default-selection-rule.md.
"""

from __future__ import annotations

import numpy as np

from codegen_ttc.clustering.behaviour import Clusters, agreement, cluster_rows, signatures
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup

EPS_TESTS = 0.01  # keeps cluster size the tie-breaker in the support score where some test passes
BETA_PER_SAMPLE = 0.1  # log-odds per program and per test passed that a written test is right


def clusters_of(ev: Evidence) -> Clusters:
    return cluster_rows(signatures(ev.behaviour, ev.failed, ev.provided, ev.generated))


def log_likelihoods(sizes: np.ndarray, passed: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per cluster: the log probability of all verdicts if that cluster is the right behaviour.

    sizes:  (k,) programs per cluster;  passed: (k, G) bool, the cluster's verdicts;
    weight: (G,) how often each test was written. Pure.

    With a uniform prior on how often wrong programs pass right tests, and on how often
    they pass wrong ones, the verdicts' probability is a product of two Beta functions
    (the question B4, Chen et al. 2024, models), counted with test duplicates; plus
    ``BETA_PER_SAMPLE`` x programs x (weight of the tests the cluster passes), the prior
    that a written test is right, which grows with the programs because the first two
    terms grow with programs x tests.
    """
    # scipy is of the full extra; ``suggest`` (core dependencies only) imports the strategy
    # table, so it is imported where it is used
    from scipy.special import betaln

    passed = passed.astype(float)
    n = sizes.sum()
    passes = sizes[:, None] * passed  # programs of each cluster passing each test
    by_others = passes.sum(axis=0)[None, :] - passes  # under hypothesis k: wrong programs' passes
    fails_by_others = (n - sizes)[:, None] - by_others
    right_tests = passed * weight
    wrong_tests = (1.0 - passed) * weight
    return (
        betaln((by_others * right_tests).sum(1) + 1, (fails_by_others * right_tests).sum(1) + 1)
        + betaln((by_others * wrong_tests).sum(1) + 1, (fails_by_others * wrong_tests).sum(1) + 1)
        + BETA_PER_SAMPLE * n * right_tests.sum(1)
    )


def hypotheses(ev: Evidence, count_samples: bool = False) -> tuple[Clusters, np.ndarray, np.ndarray, np.ndarray]:
    """(clusters, their representatives, programs counted per cluster, log-likelihood of each).

    Programs are distinct programs (rows of ``ev``), or samples with ``count_samples``
    (the opt-in ``likelihood`` strategy).
    """
    clusters = clusters_of(ev)
    reps = np.array([m[0] for m in clusters.members])
    sizes = clusters.sizes(ev.multiplicity if count_samples else np.ones(ev.n_candidates))
    return clusters, reps, sizes, log_likelihoods(sizes, ev.generated[reps], ev.generated_weight)


def rank(ev: Evidence, count_samples: bool = False) -> list[RankedGroup]:
    if ev.n_candidates == 0:
        return []
    if not ev.generated.any():
        return by_agreement(ev)
    clusters, reps, _, scores = hypotheses(ev, count_samples)
    scores = scores - scores.min()  # non-negative, so provided tests can tier above
    # a behaviour passing no generated test is no hypothesis while another passes one: with
    # few programs the model would otherwise call every test wrong and pick a program failing all
    passing = ev.generated[reps].any(axis=1)
    scores = np.where(passing, scores + scores.max() + 1.0, scores)
    # samples break exact ties, far below any difference of log-likelihoods
    samples = clusters.sizes(ev.multiplicity)
    scores = scores + 1e-9 * samples / samples.sum()
    return tiered(clusters.members, scores, provided_passed(ev, reps))


def by_agreement(ev: Evidence) -> list[RankedGroup]:
    """No generated test passes: each distinct behaviour scored by its agreement with the samples.

    Candidates with equal rows of behaviour ids (and provided verdicts) score alike,
    so they form one group. The raw behaviour ids are used, failure kinds apart:
    agreeing with the majority on *how* out-of-domain inputs fail is agreement too.
    Samples, not distinct programs, are counted here: with only inputs to go by, how
    often a behaviour was sampled is the evidence (docs/decisions/001).
    """
    clusters = cluster_rows(np.concatenate([ev.behaviour, ev.provided.astype(np.int64)], axis=1))
    reps = np.array([m[0] for m in clusters.members])
    evidence = agreement(ev.behaviour, ev.multiplicity)[reps]
    return tiered(clusters.members, evidence, provided_passed(ev, reps))


def agreement_confidence(ev: Evidence, ranking) -> tuple[str, float] | None:
    """When ranked by agreement: (basis, the top group's own agreement), in [0, 1]; else None.

    Its share of all groups' agreement tells right picks from wrong ones much less well
    than the agreement itself (docs/decisions/001).
    Tests written and all failed is a harder situation than no tests (picks of equal
    agreement were right less often), so it is a basis of its own, calibrated apart.
    """
    if ev.generated.any() or not ranking:
        return None
    value = float(agreement(ev.behaviour, ev.multiplicity, rows=[ranking[0].members[0]])[0])
    return ("agreement" if ev.generated.shape[1] == 0 else "agreement-tests-failed", value)


def confidence(ev: Evidence, ranking) -> tuple[str, float] | None:
    """(basis, value): the agreement when ranked by agreement, else ("support", the top
    group's share of the samples x generated-test weight passed, over every cluster).

    The hypotheses' posterior tells right picks from wrong ones less well than the support
    share (docs/decisions/001), so it is not what the answer reports.
    The shipped table (``selection.calibration``) maps the share to a probability.
    """
    if not ranking:
        return None
    if not ev.generated.any():
        return agreement_confidence(ev, ranking)
    clusters = clusters_of(ev)
    reps = np.array([m[0] for m in clusters.members])
    support = clusters.sizes(ev.multiplicity) * ((ev.generated[reps] * ev.generated_weight).sum(axis=1) + EPS_TESTS)
    top = set(ranking[0].members)
    in_top = np.array([bool(top.intersection(m)) for m in clusters.members])
    return "support", float(support[in_top].sum() / support.sum())


def provided_passed(ev: Evidence, reps: np.ndarray) -> np.ndarray:
    return ev.provided[reps].sum(axis=1) if ev.provided.shape[1] else np.zeros(len(reps))


def tiered(members, evidence: np.ndarray, passed: np.ndarray) -> list[RankedGroup]:
    # provided tests dominate: each one passed is worth more than all the evidence together
    # (a count, not a rate: with a rate, one test of n was worth only 1/n of the offset)
    tier = passed * (evidence.sum() + 1.0)
    return [RankedGroup(m, float(t + e)) for m, t, e in zip(members, tier, evidence)]
