-- Claims as Entra configures them per app registration (issue 8 item 7): groupMembershipClaims,
-- optionalClaims and the groups overage limit, as one JSON document; and which groups are
-- assigned to which app (for groupMembershipClaims = "ApplicationGroup").
ALTER TABLE applications ADD COLUMN claims_json TEXT NOT NULL DEFAULT '{}';

CREATE TABLE group_app_assignments (
    group_id           TEXT NOT NULL,
    resource_client_id TEXT NOT NULL,
    PRIMARY KEY (group_id, resource_client_id)
);

-- signInAudience (issue 8 item 8): AzureADMyOrg (single tenant, the default) or AzureADMultipleOrgs.
ALTER TABLE applications ADD COLUMN sign_in_audience TEXT NOT NULL DEFAULT 'AzureADMyOrg';

-- Microsoft Graph permissions granted to an app (admin consent): delegated scopes beyond
-- User.Read, and application roles; Graph is not an app registration here, hence JSON.
ALTER TABLE applications ADD COLUMN graph_permissions_json TEXT NOT NULL DEFAULT '{}';
