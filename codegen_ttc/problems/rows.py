"""Checked access to the fields of a dataset row, shared by the loaders of every format."""

from __future__ import annotations

import ast
from typing import Any

from codegen_ttc.errors import InputError


def required_field(obj: dict, name: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    """``obj[name]``, which must be present and of ``kind`` (never a bool), else ``InputError``."""
    if name not in obj:
        raise InputError(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise InputError(f"{where}: field {name!r} must be {' or '.join(k.__name__ for k in kinds)}")
    return value


def row_task_id(obj: dict, where: str) -> str:
    """The row's non-empty ``task_id`` (a string or an integer) as a string."""
    value = required_field(obj, "task_id", where, (str, int))
    if not str(value).strip():
        raise InputError(f"{where}: empty task_id")
    return str(value)


def defined_functions(tree: ast.Module) -> list[str]:
    """Names of the module's top-level functions, in order."""
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
