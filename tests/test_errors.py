"""One base for every error the tool raises on purpose, as the tree in ``codegen_ttc.errors`` draws it."""

from __future__ import annotations

import pytest

from codegen_ttc import errors
from codegen_ttc.execution.backends import InfraError, SandboxUnavailable
from codegen_ttc.sampling.errors import ModelError
from codegen_ttc.sampling.local_model import LocalModelError


@pytest.mark.parametrize("error", [errors.InputError, errors.IncompleteRun, SandboxUnavailable, InfraError,
                                   ModelError, LocalModelError])
def test_every_error_derives_from_the_projects_base(error):
    assert issubclass(error, errors.CodegenTTCError)
    assert error.__name__ in errors.__doc__  # drawn in the tree


def test_errors_that_were_runtime_errors_still_are():
    # callers catching RuntimeError (a failed image build, a failed check) keep catching them
    assert all(issubclass(e, RuntimeError) for e in (SandboxUnavailable, InfraError, ModelError))
