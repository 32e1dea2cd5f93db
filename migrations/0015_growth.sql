-- Growth bounds (issue 12, limits and growth): the background purge and the per-user caps find
-- their rows by index, so no request's cost grows with what is stored.
CREATE INDEX signin_flows_expires ON signin_flows(expires_at);
CREATE INDEX signin_flows_created ON signin_flows(created_at);
CREATE INDEX auth_codes_expires ON auth_codes(expires_at);
CREATE INDEX used_assertions_expires ON used_assertions(expires_at);
CREATE INDEX sso_sessions_user ON sso_sessions(user_oid, created_at);
CREATE INDEX refresh_tokens_user_created ON refresh_tokens(user_oid, created_at);
CREATE INDEX refresh_tokens_created ON refresh_tokens(created_at);
