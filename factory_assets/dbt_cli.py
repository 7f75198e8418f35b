"""``factory-dbt``: dbt's own command line, with Python's garbage collector tuned for it and the
compiled Jinja templates kept on disk.

Every dbt invocation of the platform goes through it (:func:`dbt_executable`: Dagster's dbt
resource, ``factory docs``, ``make setup``, the tests and the benchmarks); its arguments, output,
logs and exit codes are dbt's. Plain ``dbt`` keeps working, only slower.

Why. A dbt process loads the whole project first: every model, test, macro and source of the
manifest, a few hundred thousand Python objects that live until the process ends. Then each node
allocates many short-lived objects (Jinja rendering, events). CPython's cyclic garbage collector,
with its default thresholds (700, 10, 10), runs a young collection every 700 net allocations and
regularly walks the whole object graph again, the manifest included, although the manifest never
becomes garbage. Measured on a night's inventory run (eight models; docs/benchmarks.md,
"Inventory"): six full collections per process, 0.36 s. With the thresholds below the process takes
2.8-3.1 s instead of 3.2-3.3 s, and the run itself no longer loses up to 0.08 s when a full
collection falls inside it, for 2-3 MB more memory.

The collector still runs: young collections every 50,000 net allocations instead of 700, full
ones after 10 million (and, as always, only once the long-lived objects have grown by a quarter),
so reference cycles that dbt leaves behind are still freed during a long ``dbt build``.

Compiled templates are kept on disk. dbt compiles every macro and model it uses from its Jinja
source in every process (parse, code generation, Python ``compile``): for a night's inventory run,
about 80 templates and 0.15-0.2 s of CPU, a third of the run, although they change only when the
project does. :class:`TemplateCache` keeps the compiled code of each template (``marshal``, as
Python keeps ``.pyc`` files) under a key of everything the compilation depends on: the source, the
Jinja environment's class, extensions and filters, and the versions of Python, Jinja, dbt-common
and this module. A changed macro is a new key; an entry that cannot be read is compiled again.
The folder is ``$XDG_CACHE_HOME/factory-dbt/templates`` (``~/.cache/…``), or
``FACTORY_DBT_TEMPLATE_CACHE``; ``off`` (or a folder that cannot be written) turns it off.
It is installed on dbt-common's Jinja environment (``MacroFuzzEnvironment.compile``), a private
hook: tests/test_dbt_cli.py checks it still exists, so an upgrade that changes it fails there.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
from pathlib import Path
from types import CodeType

# (young, middle, old): a young collection every 50,000 net allocations, a middle one every 20
# young ones, a full one every 10 middle ones (CPython's defaults: 700, 10, 10)
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Set :data:`GC_THRESHOLDS` for this process (a dbt invocation: short-lived, one big
    long-lived object graph)."""
    gc.set_threshold(*GC_THRESHOLDS)


def dbt_executable() -> str:
    """The dbt command the platform runs: ``factory-dbt`` installed next to this interpreter (the
    project venv, ``pip install -e .``), else dbt's own ``dbt`` there, else ``dbt`` on PATH."""
    here = Path(sys.executable)
    for name in ("factory-dbt", "dbt"):
        candidate = here.with_name(name)
        if candidate.exists():
            return str(candidate)
    return "dbt"


TEMPLATE_CACHE_ENV = "FACTORY_DBT_TEMPLATE_CACHE"
# a folder holding more entries than this is emptied (old macro versions accumulate over the years)
TEMPLATE_CACHE_MAX_ENTRIES = 20_000
# an entry is one template's compiled code (this project's largest: tens of KB); anything larger
# than this is not one of ours and is compiled again instead of being read
TEMPLATE_CACHE_MAX_ENTRY_BYTES = 4 * 1024 * 1024
_FORMAT = "factory-dbt templates 1"  # bump when what an entry holds changes
# the Jinja environment's settings that change the code a template compiles to
_ENVIRONMENT_SETTINGS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
    "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "optimized",
    "autoescape", "finalize", "is_async", "code_generator_class", "context_class",
)  # fmt: skip


class TemplateCache:
    """Compiled Jinja templates (Python code objects) in a folder, one file per key."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.hits = self.misses = 0

    def key(self, env, source: str, name: str | None, filename: str | None, defer_init: bool) -> str:
        import jinja2
        from dbt_common import __about__ as dbt_common_about

        digest = hashlib.sha256()
        for part in (
            _FORMAT,
            sys.version,
            importlib.util.MAGIC_NUMBER.hex(),
            jinja2.__version__,
            getattr(dbt_common_about, "version", ""),
            f"{type(env).__module__}.{type(env).__qualname__}",
            ",".join(sorted(str(e) for e in env.extensions)),
            ",".join(sorted(env.filters)),
            ",".join(sorted(env.tests)),
            repr([getattr(env, a, None) for a in _ENVIRONMENT_SETTINGS]),
            repr((name, filename, defer_init)),
            source,
        ):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()

    def load(self, key: str) -> CodeType | None:
        """The code stored under ``key``; None when missing, truncated or altered (its digest)."""
        try:
            with open(self.folder / key, "rb") as entry:  # bounded: an oversized entry is a miss
                data = entry.read(TEMPLATE_CACHE_MAX_ENTRY_BYTES + 1)
            payload = data[32:]
            if (
                not 32 < len(data) <= TEMPLATE_CACHE_MAX_ENTRY_BYTES
                or hashlib.sha256(payload).digest() != data[:32]
            ):
                return None
            code = marshal.loads(payload)
        except (OSError, EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, CodeType) else None

    def store(self, key: str, code: CodeType) -> None:
        """Write atomically (temporary file, then rename): threads and processes share the folder."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            payload = marshal.dumps(code)
            if len(payload) + 32 > TEMPLATE_CACHE_MAX_ENTRY_BYTES:
                os.close(fd)
                os.unlink(tmp)
                return
            with os.fdopen(fd, "wb") as out:
                out.write(hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, self.folder / key)
        except (OSError, ValueError):
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass


def template_cache_folder() -> Path | None:
    """Where compiled templates are kept, or None when ``FACTORY_DBT_TEMPLATE_CACHE=off``."""
    given = os.environ.get(TEMPLATE_CACHE_ENV, "").strip()
    if given.lower() == "off":
        return None
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no home directory (a container user without one)
            return None
    return Path(base) / "factory-dbt" / "templates"


def install_template_cache(folder: Path | None) -> TemplateCache | None:
    """Serve dbt's Jinja compilations from ``folder`` (created if missing); None when it cannot be
    used (then dbt compiles as usual)."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-")
        probe.close()
        with os.scandir(folder) as entries:
            if sum(1 for _ in entries) > TEMPLATE_CACHE_MAX_ENTRIES:
                for entry in os.scandir(folder):
                    os.unlink(entry.path)
    except OSError:
        return None
    from dbt_common.clients import jinja as dbt_jinja

    cache = TemplateCache(folder)
    environment = dbt_jinja.MacroFuzzEnvironment
    compile_source = environment.compile

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str) or dbt_jinja.MACRO_DEBUGGING:
            return compile_source(self, source, name, filename, raw, defer_init)
        key = cache.key(self, source, name, filename, defer_init)
        code = cache.load(key)
        if code is not None:
            cache.hits += 1
            return code
        cache.misses += 1
        code = compile_source(self, source, name, filename, raw, defer_init)
        cache.store(key, code)
        return code

    environment.compile = compile
    return cache


def main() -> None:
    """Entry point of ``factory-dbt``: what dbt's own ``dbt`` script does, after :func:`tune_gc`
    and :func:`install_template_cache`."""
    tune_gc()
    install_template_cache(template_cache_folder())
    from dbt.cli.main import cli

    sys.exit(cli())


if __name__ == "__main__":
    main()
