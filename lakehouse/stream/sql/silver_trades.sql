-- The PostgreSQL mirror of Delta silver/trades (one row per trade identity) and the legacy view.
-- Placeholders are filled with quoted identifiers by lakehouse.stream.postgres_mirror.
CREATE TABLE IF NOT EXISTS {table} (
    source            text             NOT NULL,
    symbol            text             NOT NULL,
    trade_id          text             NOT NULL,
    price             numeric(38, 18)  NOT NULL CHECK (price > 0),
    quantity          numeric(38, 18)  NOT NULL CHECK (quantity > 0),
    notional          numeric(38, 18)  NOT NULL,
    side              text             NOT NULL CHECK (side IN ('buy', 'sell')),
    trade_time        timestamptz      NOT NULL,
    trade_date        date             NOT NULL,
    ingest_time       timestamptz      NOT NULL,
    ingest_latency_ms bigint           NOT NULL,
    schema_version    integer          NOT NULL,
    predicted_price   double precision,
    model_version     text,
    kafka_topic       text             NOT NULL,
    kafka_partition   integer          NOT NULL,
    kafka_offset      bigint           NOT NULL,
    kafka_timestamp   timestamptz      NOT NULL,
    processed_at      timestamptz      NOT NULL,
    -- Which streaming query and batch wrote the row (the silver job's re-send index; null when loaded
    -- by other means).
    stream_query_id   text,
    stream_batch_id   bigint,
    PRIMARY KEY (source, symbol, trade_id)
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
