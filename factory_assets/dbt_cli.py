"""``factory-dbt``: dbt's own command line, with Python's garbage collector tuned for it.

Every dbt invocation of the platform goes through it (:func:`dbt_executable`: Dagster's dbt
resource, ``factory docs``, ``make setup``, the tests and the benchmarks); its arguments, output,
logs and exit codes are dbt's. Plain ``dbt`` keeps working, only slower.

Why. A dbt process loads the whole project first: every model, test, macro and source of the
manifest, a few hundred thousand Python objects that live until the process ends. Then each node
allocates many short-lived objects (Jinja rendering, events). CPython's cyclic garbage collector,
with its default thresholds (700, 10, 10), runs a young collection every 700 net allocations and
regularly walks the whole object graph again, the manifest included, although the manifest never
becomes garbage. Measured on a night's inventory run (eight models; docs/benchmarks.md
"Inventory", "Garbage collection"): about 0.1 s of dbt's 0.65 s between its first and last node,
and 0.4-0.5 s of the 3.2 s process. With the thresholds below the same run takes 0.55 s, the
process 2.8 s, for about 2 MB more memory.

The collector still runs: young collections every 50,000 net allocations instead of 700, full
ones after 10 million (and, as always, only once the long-lived objects have grown by a quarter),
so reference cycles that dbt leaves behind are still freed during a long ``dbt build``.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

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


def main() -> None:
    """Entry point of ``factory-dbt``: what dbt's own ``dbt`` script does, after :func:`tune_gc`."""
    tune_gc()
    from dbt.cli.main import cli

    sys.exit(cli())


if __name__ == "__main__":
    main()
