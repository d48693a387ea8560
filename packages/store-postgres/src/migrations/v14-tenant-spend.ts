import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Tenants' spend per UTC day (core's TenantSpendStore): the day's total, and each model call's
 * charge (its projection until settled), one per (session, reservation id). `reserve_tenant_spend`
 * locks the tenant's day row before it checks and adds, so concurrent sessions of one tenant on
 * any number of workers never pass a limit together; a charge already made is not made again.
 * The day is the store clock's, in UTC; a settlement goes to the day its charge was made.
 */
export function tenantSpend(s: string): string {
  return `
CREATE TABLE ${s}.tenant_day_spend (
  tenant_id text NOT NULL,
  day text NOT NULL,
  cost_usd double precision NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  cache_tokens bigint NOT NULL DEFAULT 0,
  calls bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
);
CREATE TABLE ${s}.tenant_charges (
  session_id text NOT NULL,
  reservation_id text NOT NULL,
  tenant_id text NOT NULL,
  day text NOT NULL,
  cost_usd double precision NOT NULL,
  input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cache_tokens bigint NOT NULL,
  settled boolean NOT NULL DEFAULT false,
  PRIMARY KEY (session_id, reservation_id)
);

CREATE FUNCTION ${s}.reserve_tenant_spend(p_now bigint, p_session text, p_owner text, p_epoch bigint,
  p_reservation text, p_cost double precision, p_in bigint, p_out bigint, p_cache bigint,
  p_lim_cost double precision, p_lim_in bigint, p_lim_out bigint, p_lim_cache bigint)
RETURNS TABLE (r_budget text, r_limit double precision, r_used double precision,
  r_needed double precision, r_day text)
LANGUAGE plpgsql AS $$
DECLARE
  v_day text := to_char(to_timestamp(${s}.now_ms(p_now) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD');
  v_tenant text;
  v_spend ${s}.tenant_day_spend;
BEGIN
  PERFORM ${s}.check_fence(p_session, p_owner, p_epoch);
  SELECT x.tenant_id INTO v_tenant FROM ${s}.sessions x WHERE x.id = p_session;
  IF v_tenant IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.notFound}', MESSAGE = 'session ' || p_session || ' does not exist';
  END IF;
  INSERT INTO ${s}.tenant_day_spend (tenant_id, day) VALUES (v_tenant, v_day)
    ON CONFLICT (tenant_id, day) DO NOTHING;
  SELECT * INTO v_spend FROM ${s}.tenant_day_spend t
    WHERE t.tenant_id = v_tenant AND t.day = v_day FOR UPDATE;
  IF EXISTS (SELECT 1 FROM ${s}.tenant_charges c
      WHERE c.session_id = p_session AND c.reservation_id = p_reservation) THEN
    RETURN;
  END IF;
  IF p_lim_cost IS NOT NULL AND v_spend.cost_usd + p_cost > p_lim_cost THEN
    RETURN QUERY SELECT 'costUsd'::text, p_lim_cost, v_spend.cost_usd, p_cost, v_day; RETURN;
  END IF;
  IF p_lim_in IS NOT NULL AND v_spend.input_tokens + p_in > p_lim_in THEN
    RETURN QUERY SELECT 'inputTokens'::text, p_lim_in::float8, v_spend.input_tokens::float8, p_in::float8, v_day; RETURN;
  END IF;
  IF p_lim_out IS NOT NULL AND v_spend.output_tokens + p_out > p_lim_out THEN
    RETURN QUERY SELECT 'outputTokens'::text, p_lim_out::float8, v_spend.output_tokens::float8, p_out::float8, v_day; RETURN;
  END IF;
  IF p_lim_cache IS NOT NULL AND v_spend.cache_tokens + p_cache > p_lim_cache THEN
    RETURN QUERY SELECT 'cacheTokens'::text, p_lim_cache::float8, v_spend.cache_tokens::float8, p_cache::float8, v_day; RETURN;
  END IF;
  INSERT INTO ${s}.tenant_charges (session_id, reservation_id, tenant_id, day, cost_usd,
      input_tokens, output_tokens, cache_tokens)
    VALUES (p_session, p_reservation, v_tenant, v_day, p_cost, p_in, p_out, p_cache);
  UPDATE ${s}.tenant_day_spend t SET cost_usd = t.cost_usd + p_cost,
      input_tokens = t.input_tokens + p_in, output_tokens = t.output_tokens + p_out,
      cache_tokens = t.cache_tokens + p_cache, calls = t.calls + 1
    WHERE t.tenant_id = v_tenant AND t.day = v_day;
END $$;

CREATE FUNCTION ${s}.settle_tenant_spend(p_session text, p_owner text, p_epoch bigint,
  p_reservation text, p_cost double precision, p_in bigint, p_out bigint, p_cache bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_charge ${s}.tenant_charges;
BEGIN
  PERFORM ${s}.check_fence(p_session, p_owner, p_epoch);
  SELECT * INTO v_charge FROM ${s}.tenant_charges c
    WHERE c.session_id = p_session AND c.reservation_id = p_reservation FOR UPDATE;
  IF NOT FOUND OR v_charge.settled THEN
    RETURN;
  END IF;
  UPDATE ${s}.tenant_charges c SET cost_usd = p_cost, input_tokens = p_in, output_tokens = p_out,
      cache_tokens = p_cache, settled = true
    WHERE c.session_id = p_session AND c.reservation_id = p_reservation;
  UPDATE ${s}.tenant_day_spend t SET cost_usd = t.cost_usd + p_cost - v_charge.cost_usd,
      input_tokens = t.input_tokens + p_in - v_charge.input_tokens,
      output_tokens = t.output_tokens + p_out - v_charge.output_tokens,
      cache_tokens = t.cache_tokens + p_cache - v_charge.cache_tokens
    WHERE t.tenant_id = v_charge.tenant_id AND t.day = v_charge.day;
END $$;
`;
}
