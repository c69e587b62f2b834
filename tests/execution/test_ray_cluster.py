"""The Ray executor on a two-node local cluster (``ray.cluster_utils.Cluster``): a node
removed mid-run loses the batches its actor held, which run again on the other node;
every pair is stored exactly once and none is lost."""

from __future__ import annotations

import collections
import json
import logging
import os

import pytest

from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.execution.distributed import DistributedExecutor
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.problems.model import Call

ray = pytest.importorskip("ray", reason="ray not installed (pip install 'codegen-ttc[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

from codegen_ttc.execution.ray_executor import RayEngine  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray-driver"))  # see test_ray_executor: workers import their own install
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
        yield cluster, worker
    finally:
        os.chdir(here)
        ray.shutdown()
        cluster.shutdown()


def test_a_node_removed_mid_run_loses_nothing_and_stores_nothing_twice(cluster, tmp_path):
    cluster, worker = cluster
    work = [Batch(f"def f(x):\n    s = 0\n    for i in range(300_000):\n        s += i\n    return x * {i}\n", "f",
                  tuple(Call((j,)) for j in range(3)), Limits()) for i in range(20)]
    removed = []
    with ResultStore(tmp_path / "results.jsonl") as store, RayEngine("process", 2) as engine:
        assert len({node.rsplit("node ", 1)[1] for node in engine.nodes}) == 2  # one actor on each node

        def remove_once(_n):
            if not removed:
                removed.append(worker)
                cluster.remove_node(worker)

        ex = DistributedExecutor(engine, store=store, on_progress=remove_once)
        got = ex.run(work)
    assert removed and ex.infra_errors >= 1  # the removed node's actor held batches: lost, and run again
    assert ex.infra_failures == []
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    counts = collections.Counter((r["c"], r["p"]) for r in lines)
    assert len(counts) == 20 * 3 and set(counts.values()) == {1}
    for i, b in enumerate(work):
        assert sorted(o.decoded() for o in got[b.candidate_key].values()) == [0, i, 2 * i]
