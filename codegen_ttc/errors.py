"""Errors the user can act on.

``InputError`` is bad input (a missing file, a malformed JSONL line, an unknown
task id): the CLI prints its message as one line and exits with code 2, without
a traceback and without writing half an output.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user; the message names the file/line/field at fault."""
