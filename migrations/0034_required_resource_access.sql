-- The application's requiredResourceAccess (the portal's "API permissions"): the delegated
-- permissions it registers, per resource, as JSON [{"resource": client id, "scopes": [value]}].
-- `{resource}/.default` asks consent for them when nothing of the resource is consented yet.
ALTER TABLE applications ADD COLUMN required_resource_access_json TEXT NOT NULL DEFAULT '[]';
