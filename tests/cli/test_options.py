"""One option vocabulary for ``solve``, ``score`` and ``suggest`` (issue 23, item 5).

The options every command that samples shares come from one definition (``cli.params``):
the same names, help texts, types and defaults in each ``--help``. Counts are
``-n``/``--n-*``, files ``--*-file``, ``--timeout`` is CPU seconds per call; the old
spellings that meant something else in another command refuse in one line.
"""

from __future__ import annotations

import click
import pytest

from codegen_ttc.cli import _register, app, main, params

_register()
COMMANDS = ("solve", "score", "suggest")


def options(command: str) -> dict[str, click.Option]:
    """The visible options of ``command``, by their longest name."""
    cmd = app.commands[command]
    return {max(p.opts, key=len): p for p in cmd.params if isinstance(p, click.Option) and not p.hidden}


def described(option: click.Option) -> tuple:
    """What ``--help`` says of an option: its names, help, type, default and whether it shows it."""
    return (tuple(option.opts), option.help, repr(option.type), option.default, option.show_default, option.is_flag)


def names_of(decorators) -> set[str]:
    """The longest names of the options a tuple of shared decorators adds."""
    @click.command()
    def probe(**_):
        pass

    for decorator in decorators:
        probe = decorator(probe)
    return {max(p.opts, key=len) for p in probe.params}


MODEL = names_of(params.MODEL_OPTIONS)
SANDBOX = names_of(params.SANDBOX_OPTIONS)


def test_the_shared_groups_are_what_the_issue_names():
    assert MODEL == {"--model", "--base-url", "--api-key", "--mode", "--temperature", "--max-tokens",
                     "--config", "--no-cache"}
    assert SANDBOX == {"--sandbox", "--workers"}


@pytest.mark.parametrize("group", [MODEL, SANDBOX], ids=["model", "sandbox"])
def test_every_command_has_the_shared_options_word_for_word(group):
    by_command = {name: options(name) for name in COMMANDS}
    for name, opts in by_command.items():
        assert group <= set(opts), f"{name} lacks {sorted(group - set(opts))}"
    for option in sorted(group):
        texts = {name: described(by_command[name][option]) for name in COMMANDS}
        assert len(set(texts.values())) == 1, f"{option} differs: {texts}"


def test_counts_are_n_and_timeout_is_cpu_seconds_per_call():
    for name in COMMANDS:
        assert options(name)["--n-samples"].opts == ["-n", "--n-samples"], name
    for name in ("solve", "score"):
        assert options(name)["--n-tests"].opts == ["--n-tests"]
        assert described(options(name)["--timeout"]) == described(options("solve")["--timeout"])
        assert "CPU seconds per call" in options(name)["--timeout"].help
    # suggest's limit is wall seconds per test run: its own name
    assert "--timeout" not in options("suggest")
    assert "Wall seconds per run" in options("suggest")["--test-timeout"].help
    from codegen_ttc.execution.batch import Limits

    assert params.CPU_SECONDS_PER_CALL == Limits().cpu_seconds
    # files are --*-file
    assert {"--samples-file", "--tests-file"} <= set(options("score"))
    for name in COMMANDS:
        assert "--samples" not in options(name) and "--tests" not in options(name)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_its_default(command):
    for name, option in options(command).items():
        assert option.help, f"{command} {name} has no help text"
        if option.is_flag or option.multiple or option.required:
            continue
        # a default click can show, or one said in words (the config file's, the cores...)
        assert option.show_default or "default" in option.help, f"{command} {name} hides its default"


def test_temperature_is_validated_and_shown_as_a_range(capsys):
    help_text = click.Context(app.commands["solve"]).command.get_help(click.Context(app.commands["solve"]))
    assert "None" not in help_text.split("--temperature")[1].split("--max-tokens")[0]
    assert "0.0<=x<=2.0" in help_text
    for bad in ("-1", "2.5", "nan"):
        code = main(["solve", "x.py", "--temperature", bad])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "--temperature" in err, err


@pytest.mark.parametrize(
    "argv, names",
    [
        (["solve", "x.py", "-n", "3", "--n-tests", "2", "--timeout", "4", "--config", "c.toml", "--no-cache",
          "--temperature", "0.2"],
         {"n_samples": 3, "n_tests": 2, "timeout": 4.0, "no_cache": True, "temperature": 0.2}),
        (["score", "--problems", "tiny", "--samples-file", "s.jsonl", "--tests-file", "t.jsonl", "--out", "o",
          "--timeout", "4"],
         {"samples_file": "s.jsonl", "tests_file": "t.jsonl", "timeout": 4.0}),
        (["score", "--problems", "tiny", "--generate", "--n-samples", "5", "--n-tests", "1", "--temperature", "0",
          "--max-tokens", "64", "--out", "o"],
         {"n_samples": 5, "n_tests": 1, "temperature": 0.0, "max_tokens": 64}),
        (["suggest", "-n", "2", "--test-timeout", "60", "--api-key", "k", "--mode", "chat", "--temperature", "1.5",
          "--max-tokens", "100", "--no-cache"],
         {"n_samples": 2, "test_timeout": 60.0, "api_key": "k", "mode": "chat", "temperature": 1.5,
          "max_tokens": 100, "no_cache": True}),
    ],
    ids=["solve", "score-files", "score-generate", "suggest"],
)
def test_the_new_spellings_parse(argv, names):
    command = app.commands[argv[0]]
    with command.make_context(argv[0], argv[1:]) as ctx:
        assert {k: ctx.params[k] for k in names} == names


@pytest.mark.parametrize(
    "argv, instead",
    [
        (["score", "--problems", "tiny", "--samples", "5", "--out", "o"], "--samples-file"),
        (["score", "--problems", "tiny", "--generate", "--tests", "3", "--out", "o"], "--n-tests"),
        (["solve", "x.py", "--samples", "4"], "-n/--n-samples"),
        (["solve", "x.py", "--tests", "4"], "--n-tests"),
        (["suggest", "--samples", "2"], "-n/--n-samples"),
        (["suggest", "--timeout", "60"], "--test-timeout"),
    ],
)
def test_an_old_spelling_is_one_line_naming_the_new(capsys, argv, instead):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{argv[argv.index(next(a for a in argv if a in ('--samples', '--tests', '--timeout')))]} is no longer" in err
    assert instead in err


def test_suggest_refuses_completion_mode_in_one_line(capsys, tmp_path):
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    code = main(["suggest", "--repo", str(tmp_path), "--mode", "completion", "--model", "x",
                 "--base-url", "http://127.0.0.1:9/v1", "--sandbox", "process"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "chat mode only" in err, err


def test_the_model_options_reach_the_server_from_every_command(tmp_path, monkeypatch, capsys):
    """suggest's new --temperature/--max-tokens/--config, and score --generate's, are sent."""
    import json

    from tests.suggest import suggest_fixtures as F

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CODEGEN_TTC_MODEL"):
        monkeypatch.delenv(var, raising=False)
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        config = tmp_path / "elsewhere.toml"
        config.write_text(f'[llm]\nbase_url = "{stub.base_url}"\nmodel = "from-config"\n')
        code = main(["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD, "--sandbox", "process", "-n", "1",
                     "--config", str(config), "--temperature", "0.3", "--max-tokens", "77", "--json"])
        assert code == 1 and json.loads(capsys.readouterr().out)["status"] == "suggested"
        sent = {(c.body["model"], c.body["temperature"], c.body["max_tokens"]) for c in stub.calls}
        assert sent == {("from-config", 0.3, 77)}
        before = len(stub.calls)
        code = main(["score", "--problems", "tiny", "--limit", "1", "--generate", "-n", "1", "--config", str(config),
                     "--temperature", "0", "--max-tokens", "55", "--sandbox", "process", "--json",
                     "--out", str(tmp_path / "run")])
        assert code == 0, capsys.readouterr().err
        sent = {(c.body["model"], c.body["temperature"], c.body["max_tokens"]) for c in stub.calls[before:]}
        assert sent == {("from-config", 0.0, 55)}
