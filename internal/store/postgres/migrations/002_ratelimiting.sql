-- Kong's ratelimiting_metrics table (rate-limiting policy "cluster"):
-- Kong 3.x kong/plugins/rate-limiting/migrations/000_base_rate_limiting.lua
-- and 004_200_to_210.lua (ttl column and its index). value is BIGINT
-- (Kong: INTEGER) so that a year window may count past 2^31.
CREATE TABLE IF NOT EXISTS ratelimiting_metrics (
	identifier  TEXT        NOT NULL,
	period      TEXT        NOT NULL,
	period_date TIMESTAMPTZ NOT NULL,
	service_id  UUID        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::UUID,
	route_id    UUID        NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'::UUID,
	value       BIGINT,
	ttl         TIMESTAMPTZ,
	PRIMARY KEY (identifier, period, period_date, service_id, route_id)
);
CREATE INDEX IF NOT EXISTS ratelimiting_metrics_ttl_idx ON ratelimiting_metrics (ttl);

-- ratelimiting_take counts one request in the configured windows of an
-- identifier, all or nothing, in one call. p_starts[i] and p_limits[i] are
-- the window start (unix seconds) and limit of period i (second .. year);
-- a limit <= 0 skips the period. It returns each window's usage before the
-- request. Rows are upserted in period order (so concurrent calls lock
-- them in the same order) and stay locked until the call commits: when a
-- window was already at its limit the increments are undone before anyone
-- else can see them, so counting is exact across nodes. A new row lives
-- for the period's length (Kong's EXPIRATION) after its creation.
CREATE OR REPLACE FUNCTION ratelimiting_take(
	p_identifier TEXT, p_service_id UUID, p_route_id UUID,
	p_starts BIGINT[], p_limits BIGINT[],
	OUT u_second BIGINT, OUT u_minute BIGINT, OUT u_hour BIGINT,
	OUT u_day BIGINT, OUT u_month BIGINT, OUT u_year BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
	periods CONSTANT TEXT[] := ARRAY['second', 'minute', 'hour', 'day', 'month', 'year'];
	expiry CONSTANT INTEGER[] := ARRAY[1, 60, 3600, 86400, 2592000, 31536000];
	usage BIGINT[] := ARRAY[0, 0, 0, 0, 0, 0];
	v BIGINT;
	refused BOOLEAN := false;
BEGIN
	FOR i IN 1..6 LOOP
		CONTINUE WHEN p_limits[i] IS NULL OR p_limits[i] <= 0;
		INSERT INTO ratelimiting_metrics AS m (identifier, period, period_date, service_id, route_id, value, ttl)
		VALUES (p_identifier, periods[i], to_timestamp(p_starts[i]), p_service_id, p_route_id, 1,
			CURRENT_TIMESTAMP + make_interval(secs => expiry[i]))
		ON CONFLICT (identifier, period, period_date, service_id, route_id)
		DO UPDATE SET value = m.value + 1
		RETURNING m.value INTO v;
		usage[i] := v - 1;
		IF v > p_limits[i] THEN
			refused := true;
		END IF;
	END LOOP;
	IF refused THEN
		FOR i IN 1..6 LOOP
			CONTINUE WHEN p_limits[i] IS NULL OR p_limits[i] <= 0;
			UPDATE ratelimiting_metrics SET value = value - 1
			 WHERE identifier = p_identifier AND period = periods[i] AND period_date = to_timestamp(p_starts[i])
			   AND service_id = p_service_id AND route_id = p_route_id;
		END LOOP;
	END IF;
	u_second := usage[1]; u_minute := usage[2]; u_hour := usage[3];
	u_day := usage[4]; u_month := usage[5]; u_year := usage[6];
END
$$;
