-- Consent (issue 13 item 5): delegated permissions granted to a client on a resource, as Graph's
-- oauth2PermissionGrant: for one user (`principal` = the user's object id, consentType
-- Principal) or for everyone (`principal` = '*', AllPrincipals: admin consent). `source` says
-- whether the fixtures declared the grant (rewritten at every load) or a user or admin gave it
-- at run time. The resource is a client id (Microsoft Graph: 00000003-0000-0000-c000-000000000000).
CREATE TABLE consent_grants (
    client_id          TEXT NOT NULL REFERENCES applications(client_id) ON DELETE CASCADE,
    resource_client_id TEXT NOT NULL,
    principal          TEXT NOT NULL,
    scope              TEXT NOT NULL,
    source             TEXT NOT NULL CHECK (source IN ('fixture', 'runtime')),
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (client_id, principal, resource_client_id, scope)
);
