"""``factory-dbt`` (factory_assets/dbt_cli.py): dbt's command line with the garbage collector tuned
and compiled Jinja templates kept on disk.

* the platform's dbt resource, the dbt docs and the tests run it (one dbt command everywhere);
* ``main()`` sets the thresholds and installs the template cache, then is dbt's own CLI: same
  output, same exit codes;
* the template cache: a template compiled once is loaded, not compiled, and renders the same; a
  changed source or another environment is another entry; a damaged entry is compiled again; a
  folder that cannot be used leaves dbt as it is;
* end to end: ``factory-dbt compile`` with a cold and a warm cache writes the same SQL, and the
  warm run compiles nothing new.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dbt_common.clients import jinja as dbt_jinja

from factory_assets import dbt_cli
from tests.dbt_harness import DBT_PROJECT, REPO, dbt_env, scratch_database

TEMPLATE = "{% set name = who | upper %}{% for i in range(1) %}hello {{ name }}{% endfor %} {{ 1 + n }}"


@pytest.fixture
def compile_hook(monkeypatch):
    """dbt-common's Jinja compilation, restored after the test (install_template_cache replaces it)."""
    monkeypatch.setattr(dbt_jinja.MacroFuzzEnvironment, "compile", dbt_jinja.MacroFuzzEnvironment.compile)
    return dbt_jinja.MacroFuzzEnvironment.compile


def _render(source: str, native: bool = False, **ctx):
    return dbt_jinja.render_template(dbt_jinja.get_template(source, ctx, native=native), ctx)


def test_the_platform_runs_dbt_through_factory_dbt():
    from factory_assets.dbt_assets import dbt_resource

    executable = dbt_cli.dbt_executable()
    assert Path(executable) == Path(sys.executable).with_name("factory-dbt")  # installed by pip install -e .
    assert dbt_resource().dbt_executable == executable


def test_main_tunes_the_collector_installs_the_cache_then_is_dbt(monkeypatch, capsys, compile_hook, tmp_path):
    monkeypatch.setenv(dbt_cli.TEMPLATE_CACHE_ENV, str(tmp_path / "templates"))
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        monkeypatch.setattr(sys, "argv", ["factory-dbt", "--version"])
        with pytest.raises(SystemExit) as stop:
            dbt_cli.main()
        assert stop.value.code == 0
        assert gc.get_threshold() == dbt_cli.GC_THRESHOLDS != (700, 10, 10)
        assert dbt_jinja.MacroFuzzEnvironment.compile is not compile_hook
        assert (tmp_path / "templates").is_dir()
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


def test_a_template_compiled_once_is_loaded_and_renders_the_same(tmp_path, compile_hook):
    expected = _render(TEMPLATE, who="ann", n=1)
    assert expected == "hello ANN 2"
    cache = dbt_cli.install_template_cache(tmp_path / "templates")
    assert cache is not None
    assert _render(TEMPLATE, who="ann", n=1) == expected  # compiled, stored
    assert (cache.hits, cache.misses) == (0, 1)
    assert _render(TEMPLATE, who="bob", n=2) == "hello BOB 3"  # loaded: no compilation
    assert (cache.hits, cache.misses) == (1, 1)
    assert len(list((tmp_path / "templates").iterdir())) == 1
    # the native environment (dbt's other one) compiles the same text to other code: its own entry
    assert _render("{{ 1 + n }}", native=True, n=1) == 2
    assert _render("{{ 1 + n }}", n=1) == "2"
    assert cache.misses == 3
    # a changed source is a new key; a template error is raised as without the cache
    assert _render(TEMPLATE.replace("hello", "bye"), who="ann", n=1) == "bye ANN 2"
    assert cache.misses == 4
    with pytest.raises(Exception, match="Expected an expression"):
        _render("{% if %}")


def test_a_damaged_entry_is_compiled_again(tmp_path, compile_hook, monkeypatch):
    folder = tmp_path / "templates"
    cache = dbt_cli.install_template_cache(folder)
    assert _render(TEMPLATE, who="ann", n=1) == "hello ANN 2"
    (entry,) = folder.iterdir()
    data = entry.read_bytes()
    entry.write_bytes(data[:32] + bytes([data[32] ^ 0xFF]) + data[33:])  # one byte altered
    assert cache.load(entry.name) is None
    assert _render(TEMPLATE, who="ann", n=1) == "hello ANN 2"
    assert cache.misses == 2 and cache.load(entry.name) is not None  # compiled and written again
    entry.write_bytes(data[:40])  # truncated
    assert cache.load(entry.name) is None
    entry.write_bytes(data)
    assert cache.load(entry.name) is not None
    monkeypatch.setattr(dbt_cli, "TEMPLATE_CACHE_MAX_ENTRY_BYTES", len(data) - 1)
    assert cache.load(entry.name) is None  # larger than an entry may be: not read


def test_a_folder_that_cannot_be_used_leaves_dbt_as_it_is(tmp_path, compile_hook, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert dbt_cli.install_template_cache(blocker / "templates") is None
    assert dbt_cli.install_template_cache(None) is None
    assert dbt_jinja.MacroFuzzEnvironment.compile is compile_hook
    monkeypatch.setenv(dbt_cli.TEMPLATE_CACHE_ENV, "off")
    assert dbt_cli.template_cache_folder() is None
    monkeypatch.delenv(dbt_cli.TEMPLATE_CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dbt_cli.template_cache_folder() == tmp_path / "xdg" / "factory-dbt" / "templates"


def test_compile_with_a_cold_and_a_warm_cache_writes_the_same_sql(tmp_path):
    """The inventory models and what they read, compiled twice by factory-dbt against a scratch
    warehouse: the second run loads every template and writes byte-for-byte the same SQL."""
    cache = tmp_path / "templates"

    def compile_into(target: Path) -> dict[str, bytes]:
        proc = subprocess.run(
            [dbt_cli.dbt_executable(), "compile", "--select", "+product_pricing", "+inventory_rejects",
             "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
             "--target-path", str(target), "--log-path", str(target / "logs"), "--quiet"],
            cwd=REPO, env={**dbt_env(dbname), dbt_cli.TEMPLATE_CACHE_ENV: str(cache), "FACTORY_AS_OF_DATE": "2026-03-06"},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        compiled = target / "compiled"
        return {  # the run's start time (computed_at of the stock card) aside
            str(p.relative_to(compiled)): re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", b"RUN_STARTED_AT", p.read_bytes())
            for p in compiled.rglob("*.sql")
        }

    with scratch_database("test_dbt_cli") as dbname:
        cold = compile_into(tmp_path / "cold")
        entries = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
        warm = compile_into(tmp_path / "warm")
    assert len(cold) >= 8 and warm == cold
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == entries  # nothing compiled again
    assert len(entries) > 100 and not any(name.startswith(".") for name in os.listdir(cache))


def test_the_hook_the_cache_uses_is_still_there():
    """dbt-common compiles every template through ``MacroFuzzEnvironment.compile`` (Jinja's
    ``Environment.compile``, same signature): a dbt upgrade that changes that fails here."""
    import inspect

    import jinja2

    assert issubclass(dbt_jinja.NativeSandboxEnvironment, dbt_jinja.MacroFuzzEnvironment)
    assert list(inspect.signature(jinja2.Environment.compile).parameters) == [
        "self", "source", "name", "filename", "raw", "defer_init",
    ]  # fmt: skip
    assert dbt_jinja.get_template("{{ 1 }}", {}).environment.__class__ is dbt_jinja.MacroFuzzEnvironment
