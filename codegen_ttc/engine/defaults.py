"""The selection settings ``solve`` and ``score`` share, defined once.

``score`` measures what ``solve`` does only when both build the same evidence: the
same number of candidate programs and test-generation samples (with ``score
--generate``), the same number of inputs synthesised for clustering, and the same
budget per synthesised call. Both commands take their defaults from here, and
``scripts/bench_selection.py`` measures with ``SYNTHESISED_INPUTS`` too.

``SYNTHESISED_INPUTS`` is 40: the count the selection figures of docs/benchmarks.md were
measured with; more inputs did not pick better there and cost more sandbox time.
"""

from __future__ import annotations

from codegen_ttc.execution.batch import Limits

N_SAMPLES = 16  # candidate programs sampled per problem
N_TEST_SAMPLES = 8  # test-generation samples per problem, each up to 5 asserts
SYNTHESISED_INPUTS = 40  # inputs synthesised per problem for clustering
# whole programs: samples asking the model for input-generator programs (S*), 0 = none
INPUT_GENERATORS = 0


def synthesised_limits() -> Limits:
    """A synthesised input has no expected output, so a timeout there is only a behaviour:
    a short budget per call (0.2 CPU s) keeps a slow candidate from costing the run much."""
    return Limits(cpu_seconds=0.2, wall_seconds=2.0)
