"""The headless contract: JSON alone on stdout, one-line errors, documented exit codes."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from conftest import run_cli

from lmsys_tui.errors import ExitCode


def _json(res: subprocess.CompletedProcess) -> dict:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)  # the whole of stdout is one JSON document


def test_load_json_is_the_summary_and_stdout_holds_nothing_else(cli_env) -> None:
    data = _json(run_cli(["--headless", "load", "--limit", "300", "--json"], cli_env))
    assert data["loaded"] == 300
    assert data["source"] == "sharegpt" and data["dataset"] == "sharegpt"
    assert set(data) >= {"loaded", "duplicates", "skipped", "seconds", "status", "db_path"}
    again = _json(run_cli(["--headless", "load", "--limit", "300", "--json"], cli_env))
    assert (again["loaded"], again["duplicates"]) == (0, 300)


def test_plain_output_narrates_on_stderr(cli_env) -> None:
    res = run_cli(["--headless", "load", "--limit", "50"], cli_env)
    assert res.returncode == 0
    assert "50 loaded into 'sharegpt'" in res.stderr
    assert res.stdout == ""


def test_listing_commands_after_a_load(cli_env) -> None:
    run_cli(["--headless", "load", "--limit", "40", "--dataset-label", "demo"], cli_env)
    datasets = _json(run_cli(["--headless", "datasets", "--json"], cli_env))["datasets"]
    assert [(d["label"], d["query_count"], d["status"]) for d in datasets] == [("demo", 40, "done")]
    status = _json(run_cli(["--headless", "status", "--json"], cli_env))
    assert status["counts"]["queries"] == 40
    assert status["schema_version"] == status["code_schema_version"]
    assert _json(run_cli(["--headless", "runs", "--json"], cli_env)) == {"runs": []}
    table = run_cli(["--headless", "datasets"], cli_env)
    assert "demo" in table.stdout


def test_json_is_the_same_whether_stdout_is_a_terminal_or_a_pipe(cli_env) -> None:
    run_cli(["--headless", "load", "--limit", "20"], cli_env)
    args = [sys.executable, "-m", "lmsys_tui", "--headless", "datasets", "--json"]
    piped = subprocess.run(args, env=cli_env, capture_output=True, text=True, timeout=60)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, env=cli_env, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    on_tty = b"".join(chunks).decode().replace("\r\n", "\n")
    assert json.loads(on_tty) == json.loads(piped.stdout)
    assert "\x1b[" not in on_tty


def _one_line_error(res: subprocess.CompletedProcess, code: ExitCode) -> str:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    return res.stderr


def test_bad_option_values_exit_2_with_one_line(cli_env) -> None:
    for args in (
        ["load", "--limit", "0", "--json"],
        ["load", "--text-format", "yaml"],
        ["load", "--source", "nope"],
        ["load", "--db-batch-size", "-1"],
    ):
        err = _one_line_error(run_cli(["--headless", *args], cli_env), ExitCode.USAGE)
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err


def test_unknown_option_is_a_usage_error(cli_env) -> None:
    res = run_cli(["--headless", "runs", "--no-such-flag"], cli_env)
    assert res.returncode == ExitCode.USAGE
    assert res.stdout == ""


def test_explicit_missing_store_is_not_found(cli_env, tmp_path) -> None:
    res = run_cli(["--headless", "runs", "--json", "--db-path", str(tmp_path / "nope.db")], cli_env)
    err = _one_line_error(res, ExitCode.NOT_FOUND)
    assert "no store at" in err


def test_clear_removes_the_store_and_refuses_a_foreign_file(cli_env, home, tmp_path) -> None:
    run_cli(["--headless", "load", "--limit", "10"], cli_env)
    assert (home / "queries.db").exists()
    assert _json(run_cli(["--headless", "clear", "--yes", "--json"], cli_env))["removed"]
    assert not (home / "queries.db").exists()
    foreign = tmp_path / "precious.db"
    foreign.write_text("not ours")
    res = run_cli(["--headless", "clear", "--yes", "--db-path", str(foreign)], cli_env)
    _one_line_error(res, ExitCode.USAGE)
    assert foreign.read_text() == "not ours"


def test_clear_removes_the_embedding_store_unless_asked_to_keep_it(cli_env, home) -> None:
    from lmsys_tui.core.store.embeddings import EmbeddingStore

    run_cli(["--headless", "load", "--limit", "5"], cli_env)
    EmbeddingStore(home / "embeddings.db").close()  # as the embed stage leaves it
    kept = _json(run_cli(["--headless", "clear", "--yes", "--keep-embeddings", "--json"], cli_env))
    assert (home / "embeddings.db").exists()
    assert not any("embeddings.db" in p for p in kept["removed"])
    run_cli(["--headless", "load", "--limit", "5"], cli_env)
    gone = _json(run_cli(["--headless", "clear", "--yes", "--json"], cli_env))
    assert str(home / "embeddings.db") in gone["removed"]
    assert not (home / "embeddings.db").exists() and not (home / "queries.db").exists()


def test_clear_never_deletes_a_foreign_file_named_like_the_embedding_store(cli_env, home) -> None:
    run_cli(["--headless", "load", "--limit", "5"], cli_env)
    (home / "embeddings.db").write_text("someone else's")
    res = run_cli(["--headless", "clear", "--yes"], cli_env)
    _one_line_error(res, ExitCode.USAGE)
    assert (home / "embeddings.db").read_text() == "someone else's"
    assert (home / "queries.db").exists()  # nothing was removed before the refusal


def test_clear_json_without_yes_does_not_prompt(cli_env, home) -> None:
    run_cli(["--headless", "load", "--limit", "5"], cli_env)
    res = run_cli(["--headless", "clear", "--json"], cli_env, stdin=subprocess.DEVNULL)
    _one_line_error(res, ExitCode.USAGE)
    assert (home / "queries.db").exists()


def test_xml_output_escapes_data(cli_env) -> None:
    run_cli(["--headless", "load", "--limit", "5", "--dataset-label", "a<b>&[bold]c"], cli_env)
    res = run_cli(["--headless", "datasets", "--xml"], cli_env)
    assert res.returncode == 0
    assert "<label>a&lt;b&gt;&amp;[bold]c</label>" in res.stdout


def test_table_output_shows_markup_literally(cli_env) -> None:
    label = "[bold red]x[/]\x1b[31m"
    run_cli(["--headless", "load", "--limit", "5", "--dataset-label", label], cli_env)
    res = run_cli(["--headless", "datasets"], cli_env | {"COLUMNS": "200"})
    assert "[bold red]x[/]" in res.stdout
    assert "\x1b[31m" not in res.stdout
    assert "\\x1b[31m" in res.stdout
