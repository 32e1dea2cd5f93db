-- When an SSO session was last used (a sign-in without pages through it): Entra's session tokens
-- expire after a time of inactivity, 24 hours for a browser session and 90 days for a persistent
-- one (configurable-token-lifetimes, "Single sign-on session tokens"). NULL: not used since it
-- was created.
ALTER TABLE sso_sessions ADD COLUMN last_used_at INTEGER;
