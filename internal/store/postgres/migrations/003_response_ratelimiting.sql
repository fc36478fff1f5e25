-- Kong's response_ratelimiting_metrics table (response-ratelimiting policy
-- "cluster"): Kong 3.x kong/plugins/response-ratelimiting/migrations/
-- 000_base_response_rate_limiting.lua. period is "<limit name>_<period>".
-- sluice adds a ttl column (Kong keeps the rows) so that its cleanup can
-- delete windows that are over; value is BIGINT (Kong: INTEGER).
CREATE TABLE IF NOT EXISTS response_ratelimiting_metrics (
	identifier  TEXT        NOT NULL,
	period      TEXT        NOT NULL,
	period_date TIMESTAMPTZ NOT NULL,
	service_id  UUID        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::UUID,
	route_id    UUID        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::UUID,
	value       BIGINT,
	ttl         TIMESTAMPTZ,
	PRIMARY KEY (identifier, period, period_date, service_id, route_id)
);
CREATE INDEX IF NOT EXISTS response_ratelimiting_metrics_ttl_idx ON response_ratelimiting_metrics (ttl);
