-- Whether a client assertion's jti may be presented again while the assertion is valid.
-- 'reject' (RFC 7523 section 3): single use. 'allow': as real Entra, which accepts the assertion
-- MSAL caches and re-sends for several minutes.
ALTER TABLE applications ADD COLUMN client_assertion_reuse TEXT NOT NULL DEFAULT 'reject'
    CHECK (client_assertion_reuse IN ('reject', 'allow'));
