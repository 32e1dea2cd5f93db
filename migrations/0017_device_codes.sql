-- The device authorization grant (issue 13 item 1): a device code and its user code, from the
-- request at /devicecode until the token endpoint redeems it (or it expires). The device code is
-- kept as its SHA-256 digest; the user code is what the person types at /devicelogin.
CREATE TABLE device_codes (
    device_sha256  TEXT PRIMARY KEY,
    user_code      TEXT NOT NULL UNIQUE,
    client_id      TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    -- The tenant segment of the request (`common`, a domain, a GUID).
    tenant_segment TEXT NOT NULL,
    scope          TEXT NOT NULL,
    claims_json    TEXT,
    endpoint       TEXT NOT NULL CHECK (endpoint IN ('v1', 'v2')),
    interval_secs  INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    last_poll_at   INTEGER,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    -- Set when approved: who signed in and how.
    user_oid       TEXT,
    session_id     TEXT,
    amr_json       TEXT,
    auth_time      INTEGER,
    CHECK (status != 'approved' OR (user_oid IS NOT NULL AND session_id IS NOT NULL
                                    AND amr_json IS NOT NULL AND auth_time IS NOT NULL))
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
