-- The SSO cookie carries a random secret, stored as its SHA-256 digest, never the session id that
-- appears as `sid` / `session_state` (issue 8 item 5).
ALTER TABLE sso_sessions ADD COLUMN cookie_sha256 BLOB;
CREATE UNIQUE INDEX sso_sessions_cookie ON sso_sessions(cookie_sha256);
