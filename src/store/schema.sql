-- through migration 35
-- The schema migrations/ make, as SQLite keeps it: written by the test store_schema
-- (ENTRA_MOCK_WRITE_SCHEMA=1), read by store::create_schema. Do not edit.

CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,              -- tenant GUID (tid)
    domain       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    mfa_lockout_threshold INTEGER NOT NULL DEFAULT 5,   -- wrong MFA codes before a lockout
    mfa_lockout_secs      INTEGER NOT NULL DEFAULT 60
, lockout_threshold INTEGER NOT NULL DEFAULT 10, lockout_secs INTEGER NOT NULL DEFAULT 60);

CREATE TABLE applications (
    client_id                       TEXT PRIMARY KEY,   -- appId
    tenant_id                       TEXT NOT NULL REFERENCES tenants(id),
    name                            TEXT NOT NULL,      -- fixture key, e.g. "bff"
    display_name                    TEXT NOT NULL,
    service_principal_id            TEXT NOT NULL,      -- oid/sub of app-only tokens
    client_type                     TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
    identifier_uri                  TEXT,               -- App ID URI (identifierUris[0])
    access_token_accepted_version   INTEGER NOT NULL DEFAULT 1 CHECK (access_token_accepted_version IN (1, 2)),
    front_channel_logout_url        TEXT,
    require_mfa                     INTEGER NOT NULL DEFAULT 0,
    stay_signed_in_prompt           INTEGER NOT NULL DEFAULT 0,
    strict_entra_claims             INTEGER NOT NULL DEFAULT 0,
    allow_id_token_implicit         INTEGER NOT NULL DEFAULT 0,
    allow_access_token_implicit     INTEGER NOT NULL DEFAULT 0,
    refresh_token_reuse             TEXT NOT NULL DEFAULT 'allow' CHECK (refresh_token_reuse IN ('allow', 'detect')),
    access_token_lifetime_secs      INTEGER,            -- NULL: Entra's random 60-90 minutes
    id_token_lifetime_secs          INTEGER NOT NULL DEFAULT 3600
, client_assertion_reuse TEXT NOT NULL DEFAULT 'reject'
    CHECK (client_assertion_reuse IN ('reject', 'allow')), claims_json TEXT NOT NULL DEFAULT '{}', sign_in_audience TEXT NOT NULL DEFAULT 'AzureADMyOrg', graph_permissions_json TEXT NOT NULL DEFAULT '{}', refresh_reuse_grace_secs INTEGER NOT NULL DEFAULT 0
    CHECK (refresh_reuse_grace_secs BETWEEN 0 AND 300), managed_identity TEXT
    CHECK (managed_identity IN ('systemAssigned', 'userAssigned')), federated_credentials_json TEXT NOT NULL DEFAULT '[]', identifier_uris_json TEXT NOT NULL DEFAULT '[]', app_role_assignment_required INTEGER NOT NULL DEFAULT 0, required_resource_access_json TEXT NOT NULL DEFAULT '[]', known_client_applications_json TEXT NOT NULL DEFAULT '[]');

CREATE TABLE redirect_uris (
    client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    platform  TEXT NOT NULL CHECK (platform IN ('web', 'spa', 'publicClient')),
    uri       TEXT NOT NULL,
    PRIMARY KEY (client_id, platform, uri)
);

CREATE TABLE post_logout_redirect_uris (
    client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    uri       TEXT NOT NULL,
    PRIMARY KEY (client_id, uri)
);

CREATE TABLE client_secrets (
    client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    hint      TEXT NOT NULL,                -- first three characters, as Entra shows them
    sha256    BLOB NOT NULL, start_at INTEGER, end_at INTEGER,
    PRIMARY KEY (client_id, sha256)
);

CREATE TABLE client_certificates (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    thumbprint_sha1    TEXT NOT NULL,       -- base64url, matches x5t
    thumbprint_sha256  TEXT NOT NULL,       -- base64url, matches x5t#S256
    public_key_der     BLOB NOT NULL,       -- SubjectPublicKeyInfo
    cert_der           BLOB NOT NULL, start_at INTEGER, end_at INTEGER,
    PRIMARY KEY (client_id, thumbprint_sha1)
);

CREATE TABLE scopes (
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    value              TEXT NOT NULL,
    id                 TEXT NOT NULL,
    PRIMARY KEY (resource_client_id, value)
);

CREATE TABLE app_roles (
    resource_client_id   TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    value                TEXT NOT NULL,
    id                   TEXT NOT NULL,
    allowed_member_types TEXT NOT NULL CHECK (allowed_member_types IN ('User', 'Application', 'Both')),
    PRIMARY KEY (resource_client_id, value)
);

CREATE TABLE consents (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    scope              TEXT NOT NULL,
    PRIMARY KEY (client_id, resource_client_id, scope)
);

CREATE TABLE app_role_grants (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    role               TEXT NOT NULL,
    PRIMARY KEY (client_id, resource_client_id, role)
);

CREATE TABLE users (
    oid                 TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    upn                 TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name        TEXT NOT NULL,
    given_name          TEXT,
    surname             TEXT,
    mail                TEXT,
    password_salt       BLOB NOT NULL,
    password_sha256     BLOB NOT NULL,
    mfa_policy          TEXT NOT NULL DEFAULT 'none' CHECK (mfa_policy IN ('none', 'required')),
    mfa_method          TEXT CHECK (mfa_method IN ('totp', 'webauthn')), -- method the user is to enrol, if any
    totp_secret         TEXT,               -- base32; NULL until registered
    totp_last_step      INTEGER,            -- last accepted 30 s step (replay protection)
    mfa_failures        INTEGER NOT NULL DEFAULT 0,
    locked_until        INTEGER,
    sessions_revoked_at INTEGER             -- revokeSignInSessions: grants issued before are void
, password_failures INTEGER NOT NULL DEFAULT 0, recent_bad_passwords TEXT NOT NULL DEFAULT '');

CREATE TABLE webauthn_credentials (
    credential_id TEXT PRIMARY KEY,         -- base64url
    user_oid      TEXT NOT NULL REFERENCES users(oid) ON DELETE CASCADE,
    passkey_json  TEXT NOT NULL,            -- webauthn-rs Passkey, serialised
    created_at    INTEGER NOT NULL
);

CREATE TABLE groups (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    display_name TEXT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_oid TEXT NOT NULL REFERENCES users(oid) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_oid)
);

CREATE TABLE user_role_assignments (
    user_oid           TEXT NOT NULL REFERENCES users(oid) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    role               TEXT NOT NULL,
    PRIMARY KEY (user_oid, resource_client_id, role)
);

CREATE TABLE sso_sessions (
    id         TEXT PRIMARY KEY,            -- also the `sid` claim
    user_oid   TEXT NOT NULL REFERENCES users(oid) ON DELETE CASCADE,
    amr_json   TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    persistent INTEGER NOT NULL DEFAULT 0,  -- "Stay signed in?" answered yes
    created_at INTEGER NOT NULL,
    ended_at   INTEGER
, cookie_sha256 BLOB, last_used_at INTEGER);

CREATE TABLE session_apps (
    session_id TEXT NOT NULL REFERENCES sso_sessions(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

CREATE TABLE auth_codes (
    code_sha256           BLOB PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    redirect_platform     TEXT NOT NULL,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    nonce                 TEXT,
    scope                 TEXT NOT NULL,
    user_oid              TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    amr_json              TEXT NOT NULL,
    auth_time             INTEGER NOT NULL,
    include_auth_time     INTEGER NOT NULL DEFAULT 0,  -- max_age was sent
    claims_json           TEXT,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    consumed_at           INTEGER
);

CREATE TABLE refresh_tokens (
    token_sha256      BLOB PRIMARY KEY,
    family_id         TEXT NOT NULL,        -- one per authorization code (the grant)
    client_id         TEXT NOT NULL,
    user_oid          TEXT NOT NULL,
    scope             TEXT NOT NULL,
    session_id        TEXT,
    amr_json          TEXT NOT NULL,
    auth_time         INTEGER NOT NULL,
    spa               INTEGER NOT NULL DEFAULT 0,
    family_created_at INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    used_at           INTEGER,              -- rotated: a newer token replaced it
    revoked_at        INTEGER
, rotated_from BLOB, from_code BLOB, public_client INTEGER NOT NULL DEFAULT 0);

CREATE TABLE code_families (
    code_sha256 BLOB PRIMARY KEY,
    family_id   TEXT NOT NULL
, revoked_at INTEGER);

CREATE TABLE used_assertions (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE group_app_assignments (
    group_id           TEXT NOT NULL,
    resource_client_id TEXT NOT NULL,
    PRIMARY KEY (group_id, resource_client_id)
);

CREATE TABLE "signing_keys" (
    kid                 TEXT PRIMARY KEY,   -- = x5t, base64url SHA-1 of cert_der
    state               TEXT NOT NULL CHECK (state IN ('next', 'active', 'previous', 'retired')),
    private_key_pkcs8   BLOB NOT NULL,
    cert_der            BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    activated_at        INTEGER,
    retired_at          INTEGER,
    deactivated_at      INTEGER
);

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

CREATE TABLE consent_grants (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL,
    principal          TEXT NOT NULL,
    scope              TEXT NOT NULL,
    source             TEXT NOT NULL CHECK (source IN ('fixture', 'runtime')),
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (client_id, principal, resource_client_id, scope)
);

CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE INDEX code_families_family ON code_families(family_id);

CREATE UNIQUE INDEX sso_sessions_cookie ON sso_sessions(cookie_sha256);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

CREATE INDEX auth_codes_expires ON auth_codes(expires_at);

CREATE INDEX used_assertions_expires ON used_assertions(expires_at);

CREATE INDEX sso_sessions_user ON sso_sessions(user_oid, created_at);

CREATE INDEX refresh_tokens_user_created ON refresh_tokens(user_oid, created_at);

CREATE INDEX refresh_tokens_created ON refresh_tokens(created_at);

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);

CREATE INDEX refresh_tokens_spa_family ON refresh_tokens(family_created_at) WHERE spa = 1;

CREATE INDEX refresh_tokens_revoked ON refresh_tokens(revoked_at) WHERE revoked_at IS NOT NULL;

CREATE INDEX sso_sessions_ended ON sso_sessions(ended_at) WHERE ended_at IS NOT NULL;

CREATE TRIGGER refresh_tokens_rotate AFTER INSERT ON refresh_tokens
WHEN NEW.rotated_from IS NOT NULL
BEGIN
    UPDATE refresh_tokens SET used_at = COALESCE(used_at, NEW.created_at)
    WHERE token_sha256 = NEW.rotated_from;
END;

CREATE TRIGGER refresh_tokens_redeem AFTER INSERT ON refresh_tokens
WHEN NEW.from_code IS NOT NULL
BEGIN
    UPDATE auth_codes SET consumed_at = NEW.created_at WHERE code_sha256 = NEW.from_code;
    INSERT OR IGNORE INTO code_families (code_sha256, family_id)
    VALUES (NEW.from_code, NEW.family_id);
END;

CREATE TRIGGER auth_codes_session_app AFTER INSERT ON auth_codes
BEGIN
    INSERT OR IGNORE INTO session_apps (session_id, client_id)
    VALUES (NEW.session_id, NEW.client_id);
END;

CREATE TRIGGER auth_codes_unlink AFTER DELETE ON auth_codes
BEGIN
    DELETE FROM code_families WHERE code_sha256 = OLD.code_sha256
      AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = code_families.family_id);
END;

CREATE TRIGGER refresh_tokens_unlink AFTER DELETE ON refresh_tokens
WHEN NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = OLD.family_id)
BEGIN
    DELETE FROM code_families WHERE family_id = OLD.family_id
      AND NOT EXISTS (SELECT 1 FROM auth_codes WHERE code_sha256 = code_families.code_sha256);
END;

