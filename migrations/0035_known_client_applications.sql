-- The API's knownClientApplications (Graph's apiApplication): client app ids whose consent to
-- this API's .default bundles consent to this API's own registered permissions, as JSON [client id].
ALTER TABLE applications ADD COLUMN known_client_applications_json TEXT NOT NULL DEFAULT '[]';
