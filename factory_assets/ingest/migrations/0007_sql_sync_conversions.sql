-- Dirty source values a table sync converted instead of failing the table (README "SQL sources"):
-- per source column and kind, the rows written by the run with a converted value, e.g.
--   {"A_Logbuch.Datum": {"zero_date_to_null": 3}, "A_Logbuch.Notiz": {"nul_removed": 1}}
-- Kinds: nul_removed (NUL characters removed from a string), zero_date_to_null (a MySQL date with a
-- zero year, month or day, e.g. 0000-00-00 or 2024-00-15), invalid_date_to_null (an impossible
-- date such as 2024-02-30). Rows re-read unchanged are not counted again, so the counts of a day's
-- runs add up (marts.data_quality_daily).
ALTER TABLE raw.sync_runs ADD COLUMN conversions jsonb NOT NULL DEFAULT '{}';

COMMENT ON COLUMN raw.sync_runs.conversions IS
  'Values converted in the rows this run wrote: {"<Table>.<Column>": {"<kind>": rows}}; kinds nul_removed, zero_date_to_null, invalid_date_to_null.';
