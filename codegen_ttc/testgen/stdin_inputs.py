"""New stdin texts for a whole program, made by mutating its example inputs without changing their shape.

Clustering programs needs inputs a correct program accepts. A random text would be rejected
by every candidate alike, so new inputs are the examples with their values changed and
their shape kept:

- the lines and the number of tokens on each line stay as they are;
- integers that give the shape stay: those on the first line of a multi-line input (sizes,
  test counts, grid dimensions), and any that equals the number of lines after its own,
  the number of tokens on the next line or the length of the next token;
- other integers are drawn within the range of such integers seen in the examples, floats
  likewise with the example's number of decimals;
- other tokens (words, grid rows, bit strings) keep their length, drawn over the characters
  seen in the example's tokens.

Pure and deterministic under a seed. Inputs can also come from generator programs the model
writes (``generated_inputs``), kept where most candidates finish (``accepted_inputs``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codegen_ttc.execution.batch import Batch, Limits, Outcome, Runs
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call

_INT = re.compile(r"-?(?:0|[1-9]\d{0,17})")  # a leading zero makes digits text ("0101", "007")
_BITS = re.compile(r"[01]*01[01]*")
_FLOAT = re.compile(r"-?\d+\.(\d+)")


@dataclass(frozen=True)
class _Shape:
    """An example's tokens per line, which of them are kept, and what the others may become."""

    lines: tuple[tuple[str, ...], ...]
    kept: frozenset[tuple[int, int]]
    alphabet: str


def _shape(text: str) -> _Shape:
    lines = tuple(tuple(line.split()) for line in text.split("\n") if line.strip())
    kept = set()
    for i, tokens in enumerate(lines):
        for j, token in enumerate(tokens):
            if not _integer(token):
                continue
            value = int(token)
            after = lines[i + 1 :]
            shape_giving = (
                (i == 0 and len(lines) > 1)
                or value == len(after)
                or (after and value == len(after[0]))
                or (after and len(after[0]) == 1 and value == len(after[0][0]))
            )
            if shape_giving:
                kept.add((i, j))
    alphabet = "".join(sorted({ch for tokens in lines for t in tokens if not _number(t) for ch in t}))
    return _Shape(lines, frozenset(kept), alphabet)


def _integer(token: str) -> bool:
    """An integer token; a bit string such as a schedule "1010101" is text."""
    return _INT.fullmatch(token) is not None and not (len(token) >= 4 and _BITS.fullmatch(token))


def _number(token: str) -> bool:
    return _integer(token) or _FLOAT.fullmatch(token) is not None


def _ranges(shapes: Sequence[_Shape]) -> tuple[tuple[int, int] | None, tuple[float, float] | None]:
    ints = [int(t) for s in shapes for i, ts in enumerate(s.lines) for j, t in enumerate(ts)
            if (i, j) not in s.kept and _integer(t)]
    floats = [float(t) for s in shapes for ts in s.lines for t in ts if _FLOAT.fullmatch(t)]
    return ((min(ints), max(ints)) if ints else None), ((min(floats), max(floats)) if floats else None)


def _mutated(shape: _Shape, ints, floats, rng: random.Random) -> str:
    out = []
    for i, tokens in enumerate(shape.lines):
        line = []
        for j, token in enumerate(tokens):
            if (i, j) in shape.kept:
                line.append(token)
            elif _integer(token) and ints is not None:
                line.append(str(rng.randint(*ints)))
            elif (m := _FLOAT.fullmatch(token)) and floats is not None:
                line.append(f"{rng.uniform(*floats):.{len(m.group(1))}f}")
            elif shape.alphabet and not _number(token):
                line.append("".join(rng.choice(shape.alphabet) for _ in token))
            else:
                line.append(token)
        out.append(" ".join(line))
    return "\n".join(out) + "\n"


def mutate_stdin(examples: Sequence[str], count: int, *, seed: int = 0) -> list[str]:
    """Up to ``count`` distinct new inputs, each an example with its values redrawn (module
    docstring), none equal to an example. Pure."""
    shapes = [_shape(text) for text in dict.fromkeys(examples) if text.strip()]
    if not shapes or count <= 0:
        return []
    ints, floats = _ranges(shapes)
    rng = random.Random(seed)
    seen = {" ".join(text.split()) for text in examples}
    out: list[str] = []
    for attempt in range(8 * count):
        text = _mutated(shapes[attempt % len(shapes)], ints, floats, rng)
        key = " ".join(text.split())
        if key not in seen:
            seen.add(key)
            out.append(text)
            if len(out) == count:
                break
    return out


# ------------------------------------------------------------------ model-written input generators


def generated_inputs(executor: Runs, generators: Sequence[str], per_generator: int, limits: Limits) -> list[str]:
    """Inputs printed by model-written generator programs (S*'s adaptive input synthesis).

    Each generator is an untrusted program like any candidate: it runs in the sandbox, once
    per seed (``"0\\n"``, ``"1\\n"``...), and what it prints is an input (its normalised stdout),
    kept when non-empty; distinct inputs in generator and seed order.
    """
    seeds = tuple(Call((f"{i}\n",)) for i in range(per_generator))
    batches = [Batch(stdio.wrap(g), stdio.ENTRY_POINT, seeds, limits) for g in dict.fromkeys(generators)]
    outcomes = executor.run(batches)
    found: dict[str, None] = {}
    for batch in batches:
        row = outcomes.get(batch.candidate_key, {})
        for call in seeds:
            out = row.get(call.key)
            if out is None or out.status != "returned":
                continue
            try:
                text = out.decoded()
            except Exception:  # malformed: the generator's failure
                continue
            if type(text) is str and text.strip():
                found.setdefault(text + "\n")
    return list(found)


def accepted_inputs(calls: Sequence[Call], rows: Sequence[dict[str, Outcome]], multiplicity: Sequence[int],
                    share: float = 0.5) -> list[Call]:
    """The ``calls`` on which at least ``share`` of the samples finished without error (the rest
    are probably outside the problem's input space: S* keeps only such inputs). Pure."""
    total = sum(multiplicity) or 1
    kept = []
    for call in calls:
        finished = sum(m for row, m in zip(rows, multiplicity) if (o := row.get(call.key)) is not None and o.status == "returned")
        if finished / total >= share:
            kept.append(call)
    return kept
