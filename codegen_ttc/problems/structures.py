"""Linked lists and binary trees as plain data, in LeetCode's serialisation.

A ``ListNode`` chain is the list of its values; a ``TreeNode`` is its level-order
values with ``None`` for a missing child and trailing ``None``s dropped (``[1, None, 2]``).
These functions are pure and standard-library only: the trusted side uses them to
normalise expected values, and ``harness_source`` embeds them in the wrapper that runs
inside the candidate's process, so that node objects never cross the sandbox boundary
(the wrapper builds nodes from the arguments' plain data with the candidate's own
classes, and turns returned nodes back into plain data).
"""

from __future__ import annotations

import inspect

# a chain or tree longer than this is refused (a cyclic list would never end)
MAX_NODES = 200_000


def list_from_values(values, make):
    """The head of a chain of ``make(value)`` nodes linked by ``.next`` (None when empty)."""
    head = None
    for value in reversed(list(values)):
        node = make(value)
        node.next = head
        head = node
    return head


def list_to_values(head):
    """The values of a chain from ``head``; ValueError when it is cyclic or too long."""
    out = []
    node = head
    while node is not None:
        if len(out) >= MAX_NODES:
            raise ValueError("linked list too long or cyclic")
        out.append(node.val)
        node = node.next
    return out


def tree_from_values(values, make):
    """The root of a binary tree of ``make(value)`` nodes from level-order ``values``."""
    values = list(values)
    if not values or values[0] is None:
        return None
    root = make(values[0])
    queue = [root]
    position = 0
    i = 1
    while position < len(queue) and i < len(values):
        node = queue[position]
        position += 1
        for side in ("left", "right"):
            if i < len(values) and values[i] is not None:
                child = make(values[i])
                setattr(node, side, child)
                queue.append(child)
            i += 1
    return root


def tree_to_values(root):
    """Level-order values of the tree at ``root``, None for missing children, trailing Nones
    dropped; ValueError when it is too large or shares nodes (a cycle would never end)."""
    if root is None:
        return []
    out = []
    seen = set()
    queue = [root]
    position = 0
    while position < len(queue):
        node = queue[position]
        position += 1
        if node is None:
            out.append(None)
            continue
        if id(node) in seen or len(out) >= MAX_NODES:
            raise ValueError("tree too large or not a tree")
        seen.add(id(node))
        out.append(node.val)
        queue.append(node.left)
        queue.append(node.right)
    while out and out[-1] is None:
        out.pop()
    return out


def normalised_tree(values):
    """``values`` as ``tree_to_values`` would give them back (canonical form of an expected tree)."""

    class _Node:
        def __init__(self, val):
            self.val, self.left, self.right = val, None, None

    return tree_to_values(tree_from_values(values, _Node))




def call_method(namespace, class_name, method, params, kinds, args, kwargs):
    """``class_name().method(*args, **kwargs)`` in the candidate's ``namespace``, arguments
    converted from plain data by ``kinds`` (parameter name -> "list", "tree", "lists",
    "trees", or ("class", name)), the result converted back to plain data (``kinds["return"]``
    says the result is a node, so that None, the empty list or tree, is ``[]``)."""

    def convert(kind, value):
        if kind is None or value is None:
            return value
        if kind == "list":
            return list_from_values(value, namespace["ListNode"])
        if kind == "tree":
            return tree_from_values(value, namespace["TreeNode"])
        if kind in ("lists", "trees"):
            return [convert(kind[:-1], v) for v in value]
        if type(kind) is tuple and kind[0] == "class":
            cls = namespace[kind[1]]
            return cls(**value) if type(value) is dict else cls(*value)
        return value

    args = [convert(kinds.get(params[i]) if i < len(params) else None, a) for i, a in enumerate(args)]
    kwargs = {k: convert(kinds.get(k), v) for k, v in kwargs.items()}
    target = namespace[class_name]() if class_name else None
    function = getattr(target, method) if class_name else namespace[method]
    result = function(*args, **kwargs)
    if result is None and kinds.get("return") in ("list", "tree"):
        return []
    return plain_value(result)


def plain_value(value):
    """Returned nodes as their values (lists and tuples of nodes too); dataclass instances
    as the tuple of their fields; anything else as it is."""
    name = type(value).__name__
    if name == "ListNode":
        return list_to_values(value)
    if name == "TreeNode":
        return tree_to_values(value)
    if type(value) in (list, tuple) and any(type(v).__name__ in ("ListNode", "TreeNode") for v in value):
        return type(value)(plain_value(v) for v in value)
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None and not isinstance(value, type):
        return tuple(plain_value(getattr(value, f)) for f in fields)
    return value


def harness(entry_point: str, class_name: str | None, method: str, params: list[str], kinds: dict) -> str:
    """Code appended to a candidate's program, defining ``entry_point`` as a call of
    ``class_name().method`` (or of the function ``method`` when ``class_name`` is None) with
    values converted at the boundary. The conversion functions run in a namespace of their
    own, so that they cannot clash with the candidate's names (or the candidate with theirs)."""
    functions = (list_from_values, list_to_values, tree_from_values, tree_to_values, call_method, plain_value)
    source = "\n\n".join(inspect.getsource(f) for f in functions).replace("MAX_NODES", str(MAX_NODES))
    space = f"_codegen_ttc_{entry_point}"
    return (
        f"\n\n# added by codegen-ttc: plain data in and out of {class_name + '().' if class_name else ''}{method}\n"
        f"{space} = {{}}\n"
        f"exec({source!r}, {space})\n\n\n"
        f"def {entry_point}(*args, **kwargs):\n"
        f"    return {space}['call_method'](globals(), {class_name!r}, {method!r}, {params!r}, {kinds!r}, args, kwargs)\n"
    )
