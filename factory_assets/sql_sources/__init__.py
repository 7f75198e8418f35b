"""SQL sources (ERP, forge MES, plant DB, OLTP) mirrored into ``raw.<source>__<table>``.

``tables`` lists every table and its mode, ``mapping`` matches source and raw columns, ``readers``
streams batches out of the source, ``sync`` writes them (one mechanism for all four sources), and
``assets`` turns each table into a Dagster asset.
"""
