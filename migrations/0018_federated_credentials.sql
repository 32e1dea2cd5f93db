-- Workload identity federation (issue 13 item 6): an application's federatedIdentityCredentials
-- (name, issuer, subject, audiences), as a JSON array.
ALTER TABLE applications ADD COLUMN federated_credentials_json TEXT NOT NULL DEFAULT '[]';
