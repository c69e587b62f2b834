"""Append-only JSONL store of outcomes keyed by (candidate_key, probe_key, limits_key).

One line per outcome: {"c": candidate_key, "p": probe_key, "l": limits_key, "o": outcome}.
Opening loads every complete line; a truncated or garbled last line (a crash while
appending) is ignored and the next append starts on a fresh line. ``path=None``
keeps everything in memory. Writes are flushed per ``put_many`` (one batch), so a
killed run loses at most the batch in flight.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from codegen_ttc.execution.batch import Batch, Outcome

Key = tuple[str, str, str]  # (candidate_key, probe_key, limits_key)


def parse_line(line: str) -> tuple[Key, Outcome] | None:
    """One stored record, or None when the line is incomplete/malformed. Pure.

    A record written before values were reduced may hold a large value: it is reduced as
    it is read (``Outcome.reduced``), as it would be if it ran now."""
    try:
        rec = json.loads(line)
        key = (rec["c"], rec["p"], rec["l"])
        if not all(type(k) is str for k in key):
            return None
        outcome = Outcome.from_json(rec["o"])
        return key, outcome.reduced(text_bound=len(line))
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def read_records(path: Path | str) -> dict[Key, Outcome]:
    """A store's complete records, read only (``ResultStore`` opens for appending, and may
    repair a cut last line: not to be done to a store another run may be writing)."""
    data = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parsed = parse_line(line) if line.endswith("\n") else None
            if parsed is not None:
                data[parsed[0]] = parsed[1]
    return data


def format_line(candidate_key: str, probe_key: str, limits_key: str, outcome: Outcome) -> str:
    """One record: UTF-8 as is, or JSON escapes when a string holds a lone surrogate (a
    candidate can return one; UTF-8 cannot hold it, and ``\\ud800`` reads back exact)."""
    rec = {"c": candidate_key, "p": probe_key, "l": limits_key, "o": outcome.to_json()}
    text = _encode_utf8(rec)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _encode_ascii(rec)
    return text + "\n"


# built once: json.dumps with options builds an encoder at every call (one per stored outcome)
_encode_utf8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


class ResultStore:
    """``reuse``: outcomes stored by other runs (``read_records``), consulted on a miss.

    Keys are content hashes, so another run's outcome for the same (candidate, probe,
    limits) is this run's too. Reused outcomes are appended here as well, in one write
    at ``flush`` (the executor flushes after looking its pairs up): the run directory
    stays whole (and resumable) without the one it borrowed from.
    """

    def __init__(self, path: Path | str | None = None, reuse: Mapping[Key, Outcome] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[Key, Outcome] = {}
        self._reuse = reuse or {}
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        self.skipped_lines = 0
        self.reused = 0  # outcomes taken from ``reuse`` so far
        self._unwritten: list[str] = []  # their lines, until ``flush``
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = False
        if self.path.exists():
            raw = self.path.read_bytes()
            needs_newline = bool(raw) and not raw.endswith(b"\n")
            # records end at "\n" only: values hold U+0085 / U+2028 raw, where splitlines() cuts
            for line in raw.decode("utf-8", "replace").split("\n"):
                if not line.strip():
                    continue
                parsed = parse_line(line)
                if parsed is None:
                    self.skipped_lines += 1
                    continue
                self._data[parsed[0]] = parsed[1]
        self._file = file = open(self.path, "a", encoding="utf-8")
        if needs_newline:
            # a crash cut the last line: start clean so the next record parses
            file.write("\n")
            file.flush()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, candidate_key: str, probe_key: str, limits_key: str) -> Outcome | None:
        key = (candidate_key, probe_key, limits_key)
        hit = self._data.get(key)
        if hit is None and key in self._reuse:
            hit = self._reuse[key]
            with self._lock:
                self._data[key] = hit
                self._unwritten.append(format_line(candidate_key, probe_key, limits_key, hit))
                self.reused += 1
        return hit

    def flush(self) -> None:
        """Append the outcomes taken from ``reuse`` since the last flush."""
        with self._lock:
            self._write(self._unwritten)
            self._unwritten = []

    def put_many(self, candidate_key: str, limits_key: str, outcomes: dict[str, Outcome]) -> None:
        if not outcomes:
            return
        with self._lock:
            lines = []
            for probe_key, outcome in outcomes.items():
                self._data[(candidate_key, probe_key, limits_key)] = outcome
                lines.append(format_line(candidate_key, probe_key, limits_key, outcome))
            self._write(lines)

    def _write(self, lines: list[str]) -> None:  # holding the lock
        if self._file is not None and lines:
            try:
                self._file.write("".join(lines))
                self._file.flush()
            except OSError as exc:  # a full disk: say which file (a failed write names none)
                raise OSError(exc.errno, exc.strerror or str(exc), str(self.path)) from exc

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._file is not None:
                file, self._file = self._file, None
                try:
                    file.close()
                except OSError as exc:
                    raise OSError(exc.errno, exc.strerror or str(exc), str(self.path)) from exc

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StoredRuns:
    """An "executor" that only looks outcomes up (missing pairs stay missing): steps that
    choose inputs from outcomes make the same choice again from a finished run's records."""

    def __init__(self, lookup: Callable[[str, str, str], Outcome | None]) -> None:
        self.lookup = lookup

    def run(self, batches: Sequence[Batch]) -> dict[str, dict[str, Outcome]]:
        out: dict[str, dict[str, Outcome]] = {}
        for b in batches:
            row = out.setdefault(b.candidate_key, {})
            for p in b.probes:
                found = self.lookup(b.candidate_key, p.key, b.limits.key)
                if found is not None:
                    row[p.key] = found
        return out
