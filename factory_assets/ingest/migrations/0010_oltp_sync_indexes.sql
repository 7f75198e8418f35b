-- Indexes for the incremental runs of the inventory stock card (int_inventory__stock_movements,
-- DESIGN.md §6.6). Each run reads what the nightly sync wrote since its watermark: with these,
-- an index range scan on `_synced_at` (the sync stamps every row it writes) and index probes for
-- the lines of changed transactions, instead of a pass over every line of the mirror's history.
-- A run's cost then follows the day's rows, not the years behind them.

CREATE INDEX IF NOT EXISTS oltp__items_transaccion_synced_at_idx ON raw.oltp__items_transaccion (_synced_at);
CREATE INDEX IF NOT EXISTS oltp__items_transaccion_transaccion_id_idx ON raw.oltp__items_transaccion (transaccion_id);
CREATE INDEX IF NOT EXISTS oltp__transacciones_synced_at_idx ON raw.oltp__transacciones (_synced_at);
