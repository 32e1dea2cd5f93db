-- Managed identities (issue 13 item 7): an application entry that is a system- or user-assigned
-- identity gets tokens from the App Service and IMDS endpoints, without a credential.
ALTER TABLE applications ADD COLUMN managed_identity TEXT
    CHECK (managed_identity IN ('systemAssigned', 'userAssigned'));
