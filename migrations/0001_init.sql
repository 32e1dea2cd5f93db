-- entra-mock schema. Times are Unix seconds taken from the injectable clock.
-- Secrets (client secrets, passwords, codes, refresh tokens) are stored as SHA-256 digests only.

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,              -- tenant GUID (tid)
    domain       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    mfa_lockout_threshold INTEGER NOT NULL DEFAULT 5,   -- wrong MFA codes before a lockout
    mfa_lockout_secs      INTEGER NOT NULL DEFAULT 60
);

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
);

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
    sha256    BLOB NOT NULL,
    PRIMARY KEY (client_id, sha256)
);

CREATE TABLE client_certificates (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    thumbprint_sha1    TEXT NOT NULL,       -- base64url, matches x5t
    thumbprint_sha256  TEXT NOT NULL,       -- base64url, matches x5t#S256
    public_key_der     BLOB NOT NULL,       -- SubjectPublicKeyInfo
    cert_der           BLOB NOT NULL,
    PRIMARY KEY (client_id, thumbprint_sha1)
);

-- Delegated permissions an API exposes (oauth2PermissionScopes).
CREATE TABLE scopes (
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    value              TEXT NOT NULL,
    id                 TEXT NOT NULL,
    PRIMARY KEY (resource_client_id, value)
);

-- App roles an API defines (appRoles); allowed_member_types is 'User', 'Application' or 'Both'.
CREATE TABLE app_roles (
    resource_client_id   TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    value                TEXT NOT NULL,
    id                   TEXT NOT NULL,
    allowed_member_types TEXT NOT NULL CHECK (allowed_member_types IN ('User', 'Application', 'Both')),
    PRIMARY KEY (resource_client_id, value)
);

-- Admin consent: a client may ask for these delegated scopes of a resource.
CREATE TABLE consents (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    scope              TEXT NOT NULL,
    PRIMARY KEY (client_id, resource_client_id, scope)
);

-- Application permissions: app roles granted to a client (client credentials).
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
);

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

-- App roles assigned to users (the `roles` claim of delegated tokens).
CREATE TABLE user_role_assignments (
    user_oid           TEXT NOT NULL REFERENCES users(oid) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    role               TEXT NOT NULL,
    PRIMARY KEY (user_oid, resource_client_id, role)
);

CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY,   -- = x5t, base64url SHA-1 of cert_der
    state               TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    private_key_pkcs8   BLOB NOT NULL,
    cert_der            BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    activated_at        INTEGER,
    retired_at          INTEGER
);

-- Interactive sign-in in progress (the state machine of /authorize).
CREATE TABLE signin_flows (
    id         TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    state_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Single-sign-on sessions at the identity provider.
CREATE TABLE sso_sessions (
    id         TEXT PRIMARY KEY,            -- also the `sid` claim
    user_oid   TEXT NOT NULL REFERENCES users(oid) ON DELETE CASCADE,
    amr_json   TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    persistent INTEGER NOT NULL DEFAULT 0,  -- "Stay signed in?" answered yes
    created_at INTEGER NOT NULL,
    ended_at   INTEGER
);

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
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_oid);

-- Which grant (family) an authorization code started: a replayed code revokes it.
CREATE TABLE code_families (
    code_sha256 BLOB PRIMARY KEY,
    family_id   TEXT NOT NULL
);

-- jti values of client assertions already accepted (private_key_jwt replay protection).
CREATE TABLE used_assertions (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
