from conftest import run_cli


def test_runs_json_on_empty_home_is_empty_list(cli_env):
    res = run_cli(["--headless", "runs", "--json"], cli_env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith("{")
