-- Key rollover in Entra's phases (issue 9): a key that signed before and stays published until it is
-- retired is `previous`. SQLite cannot alter a CHECK constraint, so the table is rebuilt.
CREATE TABLE signing_keys_new (
    kid                 TEXT PRIMARY KEY,   -- = x5t, base64url SHA-1 of cert_der
    state               TEXT NOT NULL CHECK (state IN ('next', 'active', 'previous', 'retired')),
    private_key_pkcs8   BLOB NOT NULL,
    cert_der            BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    activated_at        INTEGER,
    retired_at          INTEGER,
    deactivated_at      INTEGER
);
INSERT INTO signing_keys_new (kid, state, private_key_pkcs8, cert_der, created_at, activated_at, retired_at)
    SELECT kid, state, private_key_pkcs8, cert_der, created_at, activated_at, retired_at FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_new RENAME TO signing_keys;
-- One active key at most.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
