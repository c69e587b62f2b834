"""Sampling from any OpenAI-compatible server: ``Sampler`` and the functions ``solve`` calls.

``Sampler.sample(prompt, n, seed=...)`` returns ``n`` samples (or records why some
could not be had) and what they cost. How it copes with servers that differ:

- ``n`` per request: up to ``LLMConfig.max_n_per_request``. A server that answers
  HTTP 400 to ``n > 1`` about ``n`` (llama.cpp above its parallel slots) teaches a
  lower cap: the bound in its message (``... <= 4``) if it gives one, else half. A 400
  whose message does not mention ``n`` is retried one sample per request for that
  block only (the cap stays); a 400 at ``n = 1`` is final. A server that
  returns fewer choices than asked (Ollama, llama-cpp-python ignore ``n``) gets the
  rest asked again (*top-up* requests) and the cap is lowered to what it returned.
- Seeds: a request for samples ``i .. i+k-1`` carries ``seed + i``; with ``n = 1``
  per request each sample ``i`` has its own seed ``seed + i``.
- Retries (done here, the SDK's are off so that they are counted): 429, 5xx,
  timeouts, connection errors and malformed replies (not JSON, no choices) are
  retried up to ``max_retries`` times with exponential backoff and full jitter,
  waiting at least what ``retry-after-ms`` / ``retry-after`` asks (at most
  ``MAX_RETRY_AFTER``). A request that still fails, or fails with another 4xx or a URL
  the HTTP client cannot use, is an infrastructure error for its samples: recorded in
  the accounting with its cause on one line (``connection refused (after 5 retries)``,
  ``HTTP 401: ...``), never raised. Callers left with no sample raise
  ``sampling.errors.ModelError`` naming that cause.
- Empty content is a (useless) sample, counted in ``malformed["empty_content"]``.
- Every sample received is written to the ``SampleCache`` at once, so an interrupted
  run resumes without asking for it again; except an empty one (``content: null``, a
  blank text), often a server's passing fault: a rerun asks for it again.
- Tokens per choice: see ``accounting.split_completion_tokens``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import random
import re
import socket
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from codegen_ttc.problems import parsing
from codegen_ttc.problems.model import Call, Problem, TestCase
from codegen_ttc.sampling import extract, local_model, prompts
from codegen_ttc.sampling.accounting import Accounting, split_completion_tokens
from codegen_ttc.sampling.budget import prompt_token_bound, reply_costs
from codegen_ttc.sampling.cache import SampleCache, request_key
from codegen_ttc.sampling.cleanup import program_from_completion
from codegen_ttc.sampling.config import LLMConfig

if TYPE_CHECKING:
    import openai

Prompt = str | list[dict[str, str]]
MAX_RETRY_AFTER = 300.0  # seconds: the longest retry-after honoured
T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    index: int
    text: str | None  # None: lost to an infrastructure error
    finish_reason: str | None = None
    completion_tokens: int = 0
    from_cache: bool = False
    error: str | None = None
    # the request's prompt tokens, on the first sample of each request (0 on the others, and
    # on records cached before they were kept): with ``completion_tokens``, what this sample
    # cost, the same whether it comes from the server or the cache (``sampling.budget``)
    prompt_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.text is not None


@dataclass
class SampleBatch:
    samples: list[Sample]  # one per index 0..n-1, in order
    accounting: Accounting

    @property
    def texts(self) -> list[str]:
        """The texts received (index order), infrastructure failures left out."""
        return [s.text for s in self.samples if s.text is not None]

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.text is None]


class _Retryable(Exception):
    def __init__(self, cause: str, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.delay = delay


class _Fatal(Exception):
    pass


class _NTooLarge(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def retry_after_seconds(headers: Any) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(float(ms) / 1000.0, 0.0)
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng.uniform(0.0, min(cap, base * (2**attempt)))


_N_BOUND = re.compile(r"(?:<=|at most|maximum(?: of)?|max(?:imum)? is|up to)\s*(?:value\s*<=\s*)?(\d+)", re.IGNORECASE)


_N_MENTION = re.compile(r"(?:^|[^\w])n(?:[^\w]|$)|choices?\b|\bn_|num_?(?:choices|samples|completions)", re.IGNORECASE)


def mentions_n(message: str) -> bool:
    """Whether a 400's message is about the ``n`` parameter (``Field 'n': ...``, ``n must be ...``)."""
    return _N_MENTION.search(message) is not None


def learned_n_cap(message: str, asked: int) -> int:
    """The lower ``n`` cap to try after a 400 to a request with ``n = asked`` (> 1)."""
    for m in _N_BOUND.finditer(message):
        bound = int(m.group(1))
        if 1 <= bound < asked:
            return bound
    return max(1, asked // 2)


class Sampler:
    """Samples from one server. Use as ``async with Sampler(config) as s: await s.sample(...)``.

    ``config.base_url`` must be set (the local server's URL for the embedded model, see
    ``open_sampler``). ``identity`` names the server in cache keys (default: base URL and
    model); the embedded server passes a name that does not contain its random port.
    """

    def __init__(
        self,
        config: LLMConfig,
        cache: SampleCache | None = None,
        *,
        identity: tuple[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not config.base_url:
            raise ValueError("Sampler needs config.base_url (use open_sampler for the local model)")
        self.config = config
        self.cache = cache if cache is not None else SampleCache.memory()
        self.identity = identity or (config.base_url.rstrip("/"), config.model)
        self.n_cap = config.max_n_per_request
        self._rng = rng or random.Random()
        import openai  # here, not at the top: the SDK takes over a second to import, and most commands never sample

        self._client = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",
            max_retries=0,
            timeout=config.timeout,
        )
        self._sem: asyncio.Semaphore | None = None

    async def __aenter__(self) -> Sampler:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.config.concurrency)
        return self._sem

    # ------------------------------------------------------------------ public

    async def sample(
        self,
        prompt: Prompt,
        n: int,
        *,
        seed: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: tuple[str, ...] | list[str] | None = None,
    ) -> SampleBatch:
        """``n`` samples for ``prompt`` (a string in completion mode; messages or a
        string, sent as one user message, in chat mode)."""
        cfg = self.config
        mode = cfg.mode
        if mode == "chat" and isinstance(prompt, str):
            prompt = [{"role": "user", "content": prompt}]
        if mode == "completion" and not isinstance(prompt, str):
            raise ValueError("completion mode needs a string prompt")
        params: dict[str, Any] = {
            "temperature": cfg.temperature if temperature is None else temperature,
            "top_p": cfg.top_p if top_p is None else top_p,
            "max_tokens": cfg.max_tokens if max_tokens is None else max_tokens,
        }
        if stop:
            params["stop"] = list(stop)
        base_seed = cfg.seed if seed is None else seed
        key = request_key(
            {
                "server": self.identity[0],
                "model": self.identity[1],
                "mode": mode,
                "prompt": prompt,
                "params": params,
                "seed": base_seed,
            }
        )
        acc = Accounting(samples_requested=n)
        results: dict[int, Sample] = {}
        for i, rec in self.cache.get_many(key, range(n)).items():
            results[i] = Sample(
                index=i,
                text=rec["text"],
                finish_reason=rec.get("finish_reason"),
                completion_tokens=int(rec.get("completion_tokens", 0)),
                from_cache=True,
                prompt_tokens=int(rec.get("prompt_tokens", 0)),
            )
        acc.cache_hits = len(results)
        missing = [i for i in range(n) if i not in results]
        job = _Job(self, key, prompt, params, base_seed, acc, results)
        start = time.monotonic()
        await job.fill_runs(missing)
        acc.seconds = time.monotonic() - start
        samples = [results[i] for i in range(n)]
        acc.samples_returned = sum(1 for s in samples if s.ok)
        if self.n_cap < cfg.max_n_per_request:
            acc.n_cap = self.n_cap
        return SampleBatch(samples=samples, accounting=acc)


def _runs(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


@dataclass
class _Job:
    sampler: Sampler
    key: str
    prompt: Prompt
    params: dict[str, Any]
    seed: int
    acc: Accounting
    results: dict[int, Sample]

    async def fill_runs(self, missing: list[int]) -> None:
        await asyncio.gather(*(self.fill(run) for run in _runs(missing)))

    async def fill(self, block: list[int], topup: bool = False, local_cap: int | None = None) -> None:
        cap = self.sampler.n_cap if local_cap is None else min(local_cap, self.sampler.n_cap)
        if len(block) > cap:
            chunks = [block[j : j + cap] for j in range(0, len(block), cap)]
            await asyncio.gather(*(self.fill(c, topup, local_cap) for c in chunks))
            return
        k = len(block)
        try:
            got = await self.request(block[0], k, topup)
        except _NTooLarge as exc:
            self.acc.count_retry("n_too_large")
            if mentions_n(exc.message):
                # the server says n is too large: a lower cap for every later request
                self.sampler.n_cap = min(self.sampler.n_cap, learned_n_cap(exc.message, k))
                await self.fill(block, topup, local_cap)
            else:
                # a 400 that may not be about n (prompt too long...): these samples one
                # by one, without lowering the cap for the rest of the run
                await self.fill(block, topup, 1)
            return
        if got is None:
            return
        taken = got[:k]
        for idx, sample in zip(block, taken):
            self.results[idx] = Sample(
                index=idx,
                text=sample["text"],
                finish_reason=sample["finish_reason"],
                completion_tokens=sample["completion_tokens"],
                prompt_tokens=sample["prompt_tokens"],
            )
            if sample["text"].strip():  # an empty reply is not final: a rerun asks again
                self.sampler.cache.put(self.key, idx, sample)
        rest = block[len(taken) :]
        if rest:
            # the server returned fewer choices than asked: ask again for the rest
            self.sampler.n_cap = max(1, min(self.sampler.n_cap, len(taken)))
            await self.fill(rest, topup=True)

    def _fail(self, first: int, k: int, message: str) -> None:
        message = one_line(message)  # reports and the CLI's error show it on one line
        self.acc.record_error(k, message)
        for idx in range(first, first + k):
            self.results[idx] = Sample(index=idx, text=None, error=message)

    async def request(self, first: int, k: int, topup: bool) -> list[dict[str, Any]] | None:
        """One request for ``k`` choices (samples ``first..first+k-1``), with retries.
        ``None`` when it finally failed (recorded)."""
        cfg = self.sampler.config
        acc = self.acc
        kwargs: dict[str, Any] = dict(self.params)
        kwargs["model"] = self.sampler.config.model
        kwargs["seed"] = self.seed + first
        if k > 1:
            kwargs["n"] = k
        create: Callable[..., Any]
        if cfg.mode == "chat":
            kwargs["messages"] = self.prompt
            create = self.sampler._client.chat.completions.with_raw_response.create
        else:
            kwargs["prompt"] = self.prompt
            create = self.sampler._client.completions.with_raw_response.create
        if topup:
            acc.topup_requests += 1
        attempt = 0
        while True:
            try:
                async with self.sampler._semaphore():
                    acc.requests += 1
                    body = await self._call(create, kwargs, k)
                return self._parse(body, k)
            except _NTooLarge:
                raise
            except _Fatal as exc:
                self._fail(first, k, str(exc))
                return None
            except _Retryable as exc:
                if attempt >= cfg.max_retries:
                    self._fail(first, k, f"{exc} (after {attempt} {'retry' if attempt == 1 else 'retries'})")
                    return None
                acc.count_retry(exc.cause)
                delay = backoff_delay(attempt, cfg.backoff_base, cfg.backoff_max, self.sampler._rng)
                if exc.delay is not None:
                    delay = max(delay, min(exc.delay, MAX_RETRY_AFTER))
                attempt += 1
                await asyncio.sleep(delay)

    async def _call(self, create: Callable[..., Awaitable[Any]], kwargs: dict[str, Any], k: int) -> str:
        import openai  # imported by Sampler.__init__ already

        try:
            raw = await create(**kwargs)
            return raw.text
        except openai.APITimeoutError as exc:
            raise _Retryable("timeout", f"timeout after {self.sampler.config.timeout:g}s") from exc
        except openai.APIConnectionError as exc:
            message, retry = connection_cause(exc)
            if not retry:
                raise _Fatal(message) from exc
            raise _Retryable("connection", message) from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            message = _error_message(exc)
            delay = retry_after_seconds(exc.response.headers)
            if status == 429:
                raise _Retryable("rate_limit", f"HTTP 429: {message}", delay) from exc
            if status >= 500 or status == 408:
                raise _Retryable("server_error", f"HTTP {status}: {message}", delay) from exc
            if status == 400 and k > 1:
                raise _NTooLarge(message) from exc
            raise _Fatal(f"HTTP {status}: {message}") from exc
        except openai.APIError as exc:  # anything else the SDK raises (bad JSON in an error...)
            raise _Retryable("malformed", f"{type(exc).__name__}: {exc}") from exc

    def _parse(self, body: str, k: int) -> list[dict[str, Any]]:
        acc = self.acc
        cfg = self.sampler.config
        try:
            data = json.loads(body)
        except ValueError:
            acc.count_malformed("bad_json")
            raise _Retryable("malformed", f"reply is not JSON: {body[:80]!r}") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not all(isinstance(c, dict) for c in choices):
            acc.count_malformed("missing_choices")
            raise _Retryable("malformed", f"reply has no choices: {body[:80]!r}")
        choices = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c.get("index"), int) else 0)
        texts: list[str] = []
        reasons: list[str | None] = []
        for c in choices:
            if cfg.mode == "chat":
                message = c.get("message")
                text = message.get("content") if isinstance(message, dict) else None
            else:
                text = c.get("text")
            if not isinstance(text, str):
                text = ""
            if not text.strip():
                acc.count_malformed("empty_content")
            texts.append(text)
            reason = c.get("finish_reason")
            reasons.append(reason if isinstance(reason, str) else None)
        texts, reasons = texts[:k], reasons[:k]
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = _int(usage.get("prompt_tokens"))
        reported = usage.get("completion_tokens")
        reported = reported if isinstance(reported, int) and not isinstance(reported, bool) else None
        details = usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
        per_choice, estimated = split_completion_tokens(reported, texts, reasons, int(self.params["max_tokens"]))
        completion = sum(per_choice)
        acc.prompt_tokens += prompt_tokens
        acc.cached_tokens += cached
        acc.completion_tokens += completion
        if estimated:
            acc.estimated_completion_tokens += completion
        acc.add_cost(cfg.price(), prompt_tokens, completion, cached)
        return [
            {"text": t, "finish_reason": r, "completion_tokens": ct, "estimated_tokens": estimated,
             "prompt_tokens": prompt_tokens if j == 0 else 0}
            for j, (t, r, ct) in enumerate(zip(texts, reasons, per_choice))
        ]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body  # the SDK passes the reply's "error" member when it has one
    if isinstance(body, str) and body.strip():  # {"error": "no such model"} (Ollama, proxies)
        return body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str) and err.strip():
            return err
        if isinstance(body.get("message"), str):
            return body["message"]
    try:
        return exc.response.text[:300]
    except Exception:  # noqa: BLE001 - a streamed/closed body
        return str(exc)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` with its whitespace runs (an HTML error page's newlines) as single spaces, at most ``limit`` chars."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# the HTTP client's names for a URL it cannot use (httpx or its fork, so matched by name)
_BAD_URL_ERRORS = {"UnsupportedProtocol", "InvalidURL"}


def connection_cause(exc: BaseException) -> tuple[str, bool]:
    """What an ``APIConnectionError`` hides (its text is "Connection error." whatever the cause),
    and whether trying again can help: a URL the client cannot use will not get better."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for e in chain:
        if type(e).__name__ in _BAD_URL_ERRORS:
            return f"unusable server URL: {e}", False
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused", True
        if isinstance(e, socket.gaierror):
            return f"cannot resolve the server's host name ({e.strerror or e})", True
    for e in chain:
        if isinstance(e, OSError) and e.strerror:
            return f"connection error: {e.strerror}", True
    # the HTTP client's own exception says more than the SDK's wrapper
    detail = str(chain[1]) if len(chain) > 1 and str(chain[1]) else str(exc)
    return f"connection error: {detail or type(exc).__name__}", True


# ---------------------------------------------------------------------- sessions


@contextlib.asynccontextmanager
async def open_sampler(config: LLMConfig, cache: SampleCache | None = None) -> AsyncIterator[Sampler]:
    """A ``Sampler`` for ``config``; for the local model, on the shared embedded server
    (started on first use, fetched on first use, stopped at exit)."""
    if config.is_local:
        server = await asyncio.to_thread(local_model.shared_server)
        # one sample per request, as many requests as slots: continuous batching keeps
        # every slot busy (a request with n = 4 would wait for its longest choice), and
        # each sample has its own seed. A CPU is slow: allow long requests.
        cfg = config.with_(
            base_url=server.base_url,
            model=server.model_name,
            concurrency=server.n_parallel,
            max_n_per_request=1,
            timeout=max(config.timeout, 900.0),
        )
        identity = ("local", server.model_id)
        sampler = Sampler(cfg, cache, identity=identity)
    else:
        sampler = Sampler(config, cache)
    try:
        yield sampler
    finally:
        await sampler.aclose()


def with_sampler(config: LLMConfig, cache: SampleCache | None, use: Callable[[Sampler], Awaitable[T]]) -> T:
    """Run ``use(sampler)`` to completion: the sync face of the async API (``cache=None``: the disk cache)."""

    async def go() -> T:
        async with open_sampler(config, cache if cache is not None else SampleCache.default()) as s:
            return await use(s)

    return asyncio.run(go())


# ------------------------------------------------------------------ candidates and tests


@dataclass
class CandidateSamples:
    programs: list[str]  # full programs, one per sample received (index order)
    statuses: list[str]  # extraction status per program: full/body/completion/unparseable/empty
    accounting: Accounting
    raw: list[str]  # the model's texts, aligned with ``programs``
    # tokens each reply cost, cached ones as when fetched (``sampling.budget``), aligned with ``programs``
    costs: list[int] = field(default_factory=list)


@dataclass
class TestSamples:
    tests: list[TestCase]  # deduplicated by key, first occurrence order
    accounting: Accounting
    raw: list[str]  # the model's texts
    costs: list[int] = field(default_factory=list)  # tokens each reply cost (``sampling.budget``)

    __test__ = False


def request_bound(config: LLMConfig, chat: prompts.Messages, completion: str) -> int:
    """The most tokens one request may cost (``sampling.budget``): its prompt in ``config``'s
    mode, ``chat`` or ``completion``, plus ``max_tokens``."""
    return prompt_token_bound(chat if config.mode == "chat" else completion) + config.max_tokens


def candidate_program(problem: Problem, text: str, mode: str) -> extract.Extraction:
    """The full program for one solution sample."""
    if problem.kind == "program":  # a whole program: the reply's code as it is (after the prompt's start)
        if mode == "completion":
            code = prompts.PROGRAM_START + text
            if not code.endswith("\n"):
                code += "\n"
            ex = extract.Extraction(program=code, status="completion" if extract.parses_as_python(code) else "unparseable")
        else:
            ex = extract.whole_program_from_reply(text)
        return extract.Extraction(program=problem.program(ex.program), status=ex.status) if ex.status != "empty" else ex
    if mode == "completion":
        program = program_from_completion(problem.prompt, text)
        status = "completion" if extract.parses_as_python(program) else "unparseable"
        return extract.Extraction(program=problem.program(program), status=status)  # type: ignore[arg-type]
    ex = extract.program_from_chat_reply(problem.prompt, problem.function_name, text)
    return extract.Extraction(program=problem.program(ex.program), status=ex.status) if ex.status != "empty" else ex


async def asample_candidates(problem: Problem, n: int, sampler: Sampler, *, seed: int | None = None) -> CandidateSamples:
    mode = sampler.config.mode
    if mode == "chat":
        batch = await sampler.sample(prompts.solution_chat_messages(problem), n, seed=seed)
    else:
        stops = prompts.PROGRAM_STOPS if problem.kind == "program" else prompts.SOLUTION_STOPS
        batch = await sampler.sample(prompts.solution_completion_prompt(problem), n, seed=seed, stop=stops)

    programs: list[str] = []
    statuses: list[str] = []
    raw: list[str] = []
    for sample in batch.samples:
        if sample.text is None:
            continue
        ex = candidate_program(problem, sample.text, mode)
        programs.append(ex.program)
        statuses.append(ex.status)
        raw.append(sample.text)
    acc = batch.accounting
    for status in statuses:
        if status in ("unparseable", "empty"):
            acc.count_malformed(f"code_{status}")
    return CandidateSamples(programs=programs, statuses=statuses, accounting=acc, raw=raw, costs=reply_costs(batch))


def cases_from_test_samples(problem: Problem, texts: list[str], mode: str, per_sample: int = 5) -> list[TestCase]:
    """Test cases from test-generation samples (deduplicated by key)."""
    if mode == "completion":
        return parsing.codet_test_cases(texts, problem.function_name, per_sample, origin="generated", prelude=problem.prompt)
    cases: list[TestCase] = []
    seen: set[str] = set()
    for text in texts:
        taken = 0
        for case in parsing.parse_assert_lines(
            extract.assert_text_from_reply(text), problem.function_name, origin="generated", prelude=problem.prompt
        ):
            if taken >= per_sample:
                break
            taken += 1
            if case.key not in seen:
                seen.add(case.key)
                cases.append(case)
    return cases


async def asample_tests(
    problem: Problem, n: int, sampler: Sampler, *, seed: int | None = None, per_sample: int = 5
) -> TestSamples:
    """``n`` test-generation samples; each gives up to ``per_sample`` asserts. None for a whole
    program: asserts are about a function (its inputs come from ``testgen.stdin_inputs``)."""
    if problem.kind == "program":
        return TestSamples(tests=[], accounting=Accounting(), raw=[])
    mode = sampler.config.mode
    if mode == "chat":
        batch = await sampler.sample(prompts.test_chat_messages(problem, per_sample), n, seed=seed)
    else:
        batch = await sampler.sample(prompts.test_completion_prompt(problem), n, seed=seed, stop=prompts.TEST_STOPS)
    tests = cases_from_test_samples(problem, batch.texts, mode, per_sample)
    return TestSamples(tests=tests, accounting=batch.accounting, raw=batch.texts, costs=reply_costs(batch))


@dataclass
class GeneratorSamples:
    programs: list[str]  # whole programs printing one input per seed (unparseable ones left out)
    accounting: Accounting
    costs: list[int] = field(default_factory=list)  # tokens each reply cost (``sampling.budget``)


async def asample_input_generators(problem: Problem, n: int, sampler: Sampler, *, seed: int | None = None) -> GeneratorSamples:
    """``n`` input-generator programs for a whole-program ``problem`` (``prompts.input_generator_*``)."""
    if sampler.config.mode == "chat":
        batch = await sampler.sample(prompts.input_generator_chat_messages(problem), n, seed=seed)
        extracted = [extract.whole_program_from_reply(text) for text in batch.texts]
    else:
        batch = await sampler.sample(prompts.input_generator_completion_prompt(problem), n, seed=seed,
                                     stop=prompts.PROGRAM_STOPS)
        extracted = [extract.Extraction(prompts.GENERATOR_START + text + "\n", "completion") for text in batch.texts]
    programs = [ex.program for ex in extracted if ex.status != "empty" and extract.parses_as_python(ex.program)]
    for _ in range(len(batch.texts) - len(programs)):
        batch.accounting.count_malformed("generator_unparseable")
    return GeneratorSamples(list(dict.fromkeys(programs)), batch.accounting, reply_costs(batch))


def sample_input_generators(
    problem: Problem, n: int, config: LLMConfig, cache: SampleCache | None = None, *, seed: int | None = None
) -> GeneratorSamples:
    """Input-generator programs for ``problem`` (sync; ``cache=None``: the tool's disk cache)."""
    return with_sampler(config, cache, lambda s: asample_input_generators(problem, n, s, seed=seed))


def sample_candidates(
    problem: Problem, n: int, config: LLMConfig, cache: SampleCache | None = None, *, seed: int | None = None
) -> CandidateSamples:
    """``n`` candidate programs for ``problem`` (sync; ``cache=None``: the tool's disk cache)."""

    return with_sampler(config, cache, lambda s: asample_candidates(problem, n, s, seed=seed))


def sample_tests(
    problem: Problem,
    n: int,
    config: LLMConfig,
    cache: SampleCache | None = None,
    *,
    seed: int | None = None,
    per_sample: int = 5,
) -> TestSamples:
    """Generated test cases for ``problem`` from ``n`` samples (sync)."""

    return with_sampler(config, cache, lambda s: asample_tests(problem, n, s, seed=seed, per_sample=per_sample))


@dataclass
class InputSamples:
    """Inputs the model proposed (distinguishing inputs): literal calls, never run here."""

    calls: list[Call]  # deduplicated by key, first occurrence order
    malformed: int  # lines that tried to call the entry point without a literal call
    accounting: Accounting
    raw: list[str]  # the model's texts
    costs: list[int] = field(default_factory=list)  # tokens each reply cost (``sampling.budget``)


def calls_from_input_samples(
    problem: Problem, texts: list[str], mode: str, per_sample: int = 5
) -> tuple[list[Call], int]:
    """Literal calls of the entry point from input-proposing samples, and the malformed count.

    Chat: the fenced blocks of each reply (the whole reply without one). Completion: the
    prompt ended with ``NAME(``, so the sample continues the first call. At most
    ``per_sample`` calls from each sample.
    """
    name = problem.function_name
    calls: dict[str, Call] = {}
    malformed = 0
    for text in texts:
        if mode == "completion":
            blocks = [name + "(" + parsing.truncate_at_stop(text, prompts.INPUT_STOPS)]
        else:
            blocks = [code for _, code in extract.fenced_blocks(text)] or [text]
        taken: list[Call] = []
        for block in blocks:
            found, bad = parsing.parse_call_lines(textwrap.dedent(block), name)
            malformed += bad
            taken.extend(found)
        for call in taken[:per_sample]:
            calls.setdefault(call.key, call)
    return list(calls.values()), malformed


async def asample_distinguishing_inputs(
    problem: Problem,
    programs: tuple[str, str],
    n: int,
    sampler: Sampler,
    *,
    seed: int | None = None,
    per_sample: int = 5,
) -> InputSamples:
    """``n`` samples asking for up to ``per_sample`` inputs on which the two programs differ.

    What the model claims is not trusted: the caller runs the programs on the calls.
    """
    a, b = programs
    mode = sampler.config.mode
    if mode == "chat":
        batch = await sampler.sample(prompts.distinguish_chat_messages(problem, a, b, per_sample), n, seed=seed)
    else:
        batch = await sampler.sample(
            prompts.distinguish_completion_prompt(problem, a, b, per_sample), n, seed=seed, stop=prompts.INPUT_STOPS
        )
    calls, malformed = calls_from_input_samples(problem, batch.texts, mode, per_sample)
    acc = batch.accounting
    for _ in range(malformed):
        acc.count_malformed("input_malformed")
    return InputSamples(calls=calls, malformed=malformed, accounting=acc, raw=batch.texts, costs=reply_costs(batch))


def sample_distinguishing_inputs(
    problem: Problem,
    programs: tuple[str, str],
    n: int,
    config: LLMConfig,
    cache: SampleCache | None = None,
    *,
    seed: int | None = None,
    per_sample: int = 5,
) -> InputSamples:
    """Inputs on which ``programs`` may differ, from ``n`` samples (sync)."""

    return with_sampler(
        config, cache, lambda s: asample_distinguishing_inputs(problem, programs, n, s, seed=seed, per_sample=per_sample)
    )


@dataclass
class ProblemSamples:
    candidates: CandidateSamples | None
    tests: TestSamples | None

    @property
    def accounting(self) -> Accounting:
        parts = [x.accounting for x in (self.candidates, self.tests) if x is not None]
        return Accounting.total(parts)

    @property
    def failure(self) -> str | None:
        """Why samples of this problem were lost (its first infrastructure error); None: none were."""
        return self.accounting.failure


async def asample_problems(
    problems: list[Problem],
    sampler: Sampler,
    *,
    n_candidates: int,
    n_tests: int = 0,
    seed: int | None = None,
    per_sample: int = 5,
    on_done: Callable[[Problem, ProblemSamples], None] | None = None,
    counts: Mapping[str, int] | None = None,
    test_counts: Mapping[str, int] | None = None,
) -> dict[str, ProblemSamples]:
    """Candidates (and generated tests if ``n_tests``) for many problems at once on one
    sampler: requests of all problems share its concurrency limit. ``on_done`` is called
    as each problem completes (progress reports). ``counts``/``test_counts``: candidates and
    test samples per task id where they differ from ``n_candidates``/``n_tests`` (what a
    shared budget affords)."""

    async def one(problem: Problem) -> tuple[str, ProblemSamples]:
        n = n_candidates if counts is None else counts.get(problem.task_id, n_candidates)
        t = n_tests if test_counts is None else test_counts.get(problem.task_id, n_tests)
        cand_task = asample_candidates(problem, n, sampler, seed=seed) if n else None
        test_task = asample_tests(problem, t, sampler, seed=seed, per_sample=per_sample) if t else None
        cands, tests = await asyncio.gather(
            cand_task if cand_task is not None else _none(), test_task if test_task is not None else _none()
        )
        out = ProblemSamples(candidates=cands, tests=tests)
        if on_done is not None:
            on_done(problem, out)
        return problem.task_id, out

    return dict(await asyncio.gather(*(one(p) for p in problems)))


async def _none() -> None:
    return None


def sample_problems(
    problems: list[Problem],
    config: LLMConfig,
    cache: SampleCache | None = None,
    *,
    n_candidates: int,
    n_tests: int = 0,
    seed: int | None = None,
    per_sample: int = 5,
    on_done: Callable[[Problem, ProblemSamples], None] | None = None,
    counts: Mapping[str, int] | None = None,
    test_counts: Mapping[str, int] | None = None,
) -> dict[str, ProblemSamples]:
    """Sync wrapper of ``asample_problems`` (one server session for all problems)."""

    return with_sampler(
        config, cache,
        lambda s: asample_problems(
            problems, s, n_candidates=n_candidates, n_tests=n_tests, seed=seed, per_sample=per_sample, on_done=on_done,
            counts=counts, test_counts=test_counts,
        ),
    )
