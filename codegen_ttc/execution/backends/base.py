"""The sandbox interface every backend implements (bwrap, docker, process).

Like an httpx transport: a small object you open once, send many batches
through, and close. ``run`` is blocking and thread-safe only per instance; a pool
holds one instance per worker. A backend returns outcomes for every probe of
the batch, or raises ``InfraError`` when the *infrastructure* failed (the sandbox
would not start, the runner vanished for a reason not attributable to the
candidate): the caller retries those and never counts them as a candidate's fail.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import ClassVar

from codegen_ttc.errors import InfraError, SandboxUnavailable
from codegen_ttc.execution.batch import Batch, BatchResult

__all__ = ["InfraError", "Sandbox", "SandboxUnavailable"]


class Sandbox(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, batch: Batch) -> BatchResult:
        """Run every probe of ``batch``; an Outcome per probe key."""

    def run_many(self, batches: Iterable[Batch]) -> Iterator[BatchResult]:
        """``run`` for each batch, results in order. A backend may overlap them (send the
        next batch before the last one is answered); ``batches`` is consumed lazily, one
        or two ahead of the results."""
        for batch in batches:
            yield self.run(batch)

    def close(self) -> None:  # noqa: B027  (optional: a backend holding nothing has nothing to release)
        """Release processes/containers. Idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
