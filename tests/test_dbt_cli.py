"""``factory-dbt`` (factory_assets/dbt_cli.py): dbt's command line with the garbage collector tuned.

* the platform's dbt resource, the dbt docs and the tests run it (one dbt command everywhere);
* ``main()`` sets the thresholds, then is dbt's own CLI: same output, same exit codes;
* the installed console script runs a real dbt command.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from factory_assets import dbt_cli
from tests.dbt_harness import DBT_PROJECT, REPO, dbt_env


def test_the_platform_runs_dbt_through_factory_dbt():
    from factory_assets.dbt_assets import dbt_resource

    executable = dbt_cli.dbt_executable()
    assert Path(executable) == Path(sys.executable).with_name("factory-dbt")  # installed by pip install -e .
    assert dbt_resource().dbt_executable == executable


def test_main_tunes_the_collector_then_is_dbt(monkeypatch, capsys):
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        monkeypatch.setattr(sys, "argv", ["factory-dbt", "--version"])
        with pytest.raises(SystemExit) as stop:
            dbt_cli.main()
        assert stop.value.code == 0
        assert gc.get_threshold() == dbt_cli.GC_THRESHOLDS != (700, 10, 10)
        out = capsys.readouterr()
        assert "installed:" in out.out + out.err  # dbt's own --version text
    finally:
        gc.set_threshold(*before)


def test_factory_dbt_runs_a_dbt_command_and_keeps_its_exit_codes(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [dbt_cli.dbt_executable(), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
             "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
            cwd=REPO, env=dbt_env("factory"), capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    listed = run("ls", "--select", "int_inventory__stock_movements", "--resource-type", "model", "--output", "name", "--quiet")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.split() == ["int_inventory__stock_movements"]
    # an unknown flag: dbt's usage error, exit code 2
    refused = run("ls", "--no-such-flag")
    assert refused.returncode == 2, refused.stdout + refused.stderr
