-- The PostgreSQL mirror of Delta silver/trades (one row per trade identity) and the legacy view.
-- Placeholders are filled by lakehouse.stream.postgres_mirror: quoted identifiers, and the column list with the
-- silver record's columns as lakehouse/schema/silver.py defines them.
CREATE TABLE IF NOT EXISTS {table} (
{columns},
    -- Which streaming query and batch wrote the row (the silver job's re-send index; null when loaded
    -- by other means).
    stream_query_id   text,
    stream_batch_id   bigint,
    PRIMARY KEY ({identity})
);
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS stream_query_id text;
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS stream_batch_id bigint;
-- dbt candles, the dashboard and freshness checks read by symbol over a time range.
CREATE INDEX IF NOT EXISTS {time_index} ON {table} (symbol, trade_time);
-- Gold's incremental candles find newly processed rows by processed_at (BRIN: tiny, append-friendly), and
-- model accuracy / freshness read the scored rows per symbol.
CREATE INDEX IF NOT EXISTS {processed_index} ON {table} USING brin (processed_at);
CREATE INDEX IF NOT EXISTS {predicted_index} ON {table} (symbol, trade_time) WHERE predicted_price IS NOT NULL;
CREATE OR REPLACE VIEW {view} AS
SELECT symbol, trade_time, price, quantity, notional, side, source, trade_id, predicted_price, model_version
FROM {table};
