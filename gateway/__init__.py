"""The HTTP gateway (DESIGN.md §9): shop-floor systems push operation records and pull order
progress over HTTP instead of files.

* ``gateway.app.create_app()`` builds the FastAPI application from the environment (read when
  called, never at import) and refuses to start without ``FACTORY_GATEWAY_API_KEY``.
* ``gateway.deps``: the key checks (``require_ingest_key``, ``require_read_key``), the read-only
  query helper (marts only, as the ``bi_reader`` role) and the shared paging / sorting / date
  filter parameters.
* ``gateway/routes/<name>.py``: one ``router`` each, included by ``create_app`` in name order; a
  new router is a new module there, nothing else.
* ``python -m gateway`` (or ``factory gateway``, ``make gateway``) serves it with uvicorn.
"""
