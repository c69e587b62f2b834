"""Disk cache of samples, so that a rerun or a resumed run sends no request twice.

A *request key* is everything that determines what the server is asked: base URL,
model, mode, the prompt or messages, and the sampling parameters (temperature,
top_p, max_tokens, stop, base seed). Each sample index ``i`` under a request key is
one JSON record on its own line in ``<root>/<kk>/<key>.jsonl`` (append-only).

- Only successful samples are written; infrastructure failures are retried next run.
- A truncated or garbled line (a crash mid-write) is skipped when read; the next
  append starts on a fresh line.
- Safe for concurrent use within one process (a lock around reads and appends).
  Two processes sharing a cache may both send a request; records stay valid JSONL
  because each line is written with a single ``write`` in append mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from codegen_ttc.sampling.config import cache_dir


def request_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class SampleCache:
    """Sample records by (request key, sample index). ``root=None`` keeps them in memory only."""

    def __init__(self, root: Path | str | None) -> None:
        self.root = None if root is None else Path(root)
        self._lock = threading.Lock()
        self._loaded: dict[str, dict[int, dict[str, Any]]] = {}
        self.skipped_lines = 0  # garbled lines seen while reading

    @classmethod
    def default(cls) -> SampleCache:
        """The tool's cache: ``$CODEGEN_TTC_CACHE/llm`` or ``~/.cache/codegen-ttc/llm``."""
        return cls(cache_dir() / "llm")

    @classmethod
    def memory(cls) -> SampleCache:
        return cls(None)

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.jsonl"

    def _load(self, key: str) -> dict[int, dict[str, Any]]:
        records = self._loaded.get(key)
        if records is not None:
            return records
        records = {}
        if self.root is not None:
            try:
                data = self._path(key).read_bytes()
            except FileNotFoundError:
                data = b""
            for line in data.split(b"\n"):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    idx = rec["i"]
                    if not isinstance(idx, int) or not isinstance(rec.get("text"), str):
                        raise ValueError
                except (ValueError, KeyError, TypeError):
                    self.skipped_lines += 1
                    continue
                records.setdefault(idx, rec)  # first record of an index wins
        self._loaded[key] = records
        return records

    def get(self, key: str, index: int) -> dict[str, Any] | None:
        with self._lock:
            return self._load(key).get(index)

    def get_many(self, key: str, indices: range | list[int]) -> dict[int, dict[str, Any]]:
        with self._lock:
            records = self._load(key)
            return {i: records[i] for i in indices if i in records}

    def put(self, key: str, index: int, record: dict[str, Any]) -> None:
        rec = dict(record)
        rec["i"] = index
        with self._lock:
            records = self._load(key)
            if index in records:
                return
            records[index] = rec
            if self.root is None:
                return
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass") + b"\n"
            try:
                with open(path, "ab") as f:
                    # a previous crash may have left a partial last line: start a fresh one
                    if f.tell() > 0:
                        with open(path, "rb") as r:
                            r.seek(-1, os.SEEK_END)
                            if r.read(1) != b"\n":
                                line = b"\n" + line
                    f.write(line)
                    f.flush()
            except OSError as exc:  # a full disk: say which file (a failed write names none)
                raise OSError(exc.errno, exc.strerror or str(exc), exc.filename or str(path)) from exc
