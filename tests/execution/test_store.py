"""ResultStore: append-only JSONL that survives a crash mid-line."""

from __future__ import annotations

from codegen_ttc.execution.batch import Outcome
from codegen_ttc.execution.store import ResultStore, read_records

A = Outcome("returned", value=["i", "1"], stdout_bytes=3, seconds=0.5)
B = Outcome("raised", error="ValueError", message="bad")


def test_round_trip_and_reopen(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultStore(path) as s:
        s.put_many("c1", "L", {"p1": A, "p2": B})
        assert s.get("c1", "p1", "L") == A
    with ResultStore(path) as s:
        assert len(s) == 2
        assert s.get("c1", "p2", "L") == B
        assert s.get("c1", "p2", "other-limits") is None


def test_values_holding_unicode_line_breaks_survive_a_reopen(tmp_path):
    # the store writes UTF-8 as is: U+0085, U+2028 and U+2029 stand raw inside a record, and
    # str.splitlines() would cut the record there (a candidate returned such strings on the
    # shared HumanEval data, and its pairs ran again on every resume)
    path = tmp_path / "r.jsonl"
    odd = {f"p{i}": Outcome("returned", value=["s", f"a{ch}b"]) for i, ch in enumerate("\x85\u2028\u2029\x1c\x0b\x0c")}
    with ResultStore(path) as s:
        s.put_many("c1", "L", odd)
    with ResultStore(path) as s:
        assert s.skipped_lines == 0 and len(s) == len(odd)
        assert all(s.get("c1", k, "L") == v for k, v in odd.items())
    assert read_records(path) == {("c1", k, "L"): v for k, v in odd.items()}


def test_truncated_last_line_is_ignored_and_appends_stay_readable(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultStore(path) as s:
        s.put_many("c1", "L", {"p1": A, "p2": B})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 15])  # crash in the middle of the last record
    with ResultStore(path) as s:
        assert s.get("c1", "p1", "L") == A
        assert s.get("c1", "p2", "L") is None
        assert s.skipped_lines == 1
        s.put_many("c2", "L", {"p1": B})
    with ResultStore(path) as s:
        assert s.get("c2", "p1", "L") == B
        assert s.get("c1", "p1", "L") == A


def test_in_memory_store_writes_nothing(tmp_path):
    s = ResultStore(None)
    s.put_many("c", "L", {"p": A})
    assert s.get("c", "p", "L") == A
    assert list(tmp_path.iterdir()) == []


def test_reused_outcomes_are_read_only_there_and_copied_here(tmp_path):
    from codegen_ttc.execution.store import read_records

    other = tmp_path / "other.jsonl"
    with ResultStore(other) as s:
        s.put_many("c1", "L", {"p1": A, "p2": B})
    with open(other, "a") as f:
        f.write('{"c": "c9", "p"')  # the other run is mid-append: its cut line is not ours to repair
    before = other.read_bytes()
    records = read_records(other)
    assert set(records) == {("c1", "p1", "L"), ("c1", "p2", "L")}
    path = tmp_path / "r.jsonl"
    with ResultStore(path, reuse=records) as s:
        assert s.get("c1", "p1", "L") == A and s.reused == 1
        assert s.get("c1", "p1", "L") == A and s.reused == 1  # now its own
        assert s.get("c2", "p1", "L") is None
    assert other.read_bytes() == before
    with ResultStore(path) as s:  # without the other run
        assert len(s) == 1 and s.get("c1", "p1", "L") == A


def test_lone_surrogates_are_stored_and_read_back_exactly(tmp_path):
    # a candidate may return (or raise with) a str UTF-8 cannot hold: the store raised
    # UnicodeEncodeError, the outcome was never stored, and every resume ran it again and aborted
    path = tmp_path / "r.jsonl"
    odd = {
        "p1": Outcome("returned", value=["s", "a\ud800b"]),
        "p2": Outcome("returned", value=["l", [["s", "\udfff"], ["s", "é"]]]),
        "p3": Outcome("raised", error="E\udc80", message="bad \ud83d"),
        "p4": Outcome("returned", value=["s", "ü"]),
    }
    with ResultStore(path) as s:
        s.put_many("c1", "L", odd)
    with ResultStore(path) as s:
        assert s.skipped_lines == 0
        assert {k: s.get("c1", k, "L") for k in odd} == odd
    assert read_records(path) == {("c1", k, "L"): v for k, v in odd.items()}
    assert "ü" in path.read_text(encoding="utf-8")  # other records stay plain UTF-8


def test_large_values_take_a_bounded_line_and_old_records_read_back_reduced(tmp_path):
    from codegen_ttc.execution.judge import passes
    from codegen_ttc.runtime import wire
    from codegen_ttc.execution.store import format_line
    from codegen_ttc.problems.model import Equals

    big = "y" * (8 << 20)
    whole = Outcome("returned", value=wire.encode(big))
    path = tmp_path / "r.jsonl"
    with ResultStore(path) as s:
        s.put_many("c1", "L", {f"p{i}": whole.reduced() for i in range(20)})
    assert path.stat().st_size < 20 * 1024  # 20 outcomes of 8 MB: a few hundred bytes each
    # a store written before values were reduced holds the whole value: read back reduced
    old = tmp_path / "old.jsonl"
    old.write_text(format_line("c1", "p1", "L", whole), encoding="utf-8")
    [(_, kept)] = read_records(old).items()
    with ResultStore(old) as s:
        assert s.get("c1", "p1", "L") == kept
    assert kept.value[0] == "H" and len(wire.dumps(kept.value)) < 1024
    assert passes(Equals(big), kept) and not passes(Equals(big[1:]), kept)
    assert kept.behaviour == whole.behaviour
