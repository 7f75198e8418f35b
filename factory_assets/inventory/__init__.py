"""Inventory domain (DESIGN.md §6.6): moving-average cost, stock, suggested price, stagnant and
low-stock products, from the OLTP sales and goods receipts synced into ``raw.oltp__*``.

The figures themselves are computed by dbt (``dbt_project/models/intermediate/inventory`` and
``marts/inventory``). This package holds what is plain Python:

* :mod:`.reference`: an independent, deliberately simple implementation of the rules, used by
  the tests to check the marts over large generated histories;
* :mod:`.simulation`: a shop's year of receipts and sales (reorder points, delivery lead times,
  cancellations, returns), used by the demo database, the tests and the benchmark;
* :mod:`.summary`: the lines ``factory demo`` / ``factory summary`` print about inventory.
"""
