"""Monitoring: freshness checks on every ingestion and on the key marts, and alerts (run failures,
failing asset checks, stale data) to a log file, a webhook and e-mail. See ``docs/monitoring.md``."""
