"""The data-quality view: a daily summary of ``marts.data_quality_daily`` (table and chart)."""
