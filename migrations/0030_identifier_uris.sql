-- Every App ID URI of an application (`identifierUris`, a JSON array), not only the first: a
-- scope or v1 resource may name the API by any of them. `identifier_uri` keeps the first for rows
-- written before this column (their list is then that one URI).
ALTER TABLE applications ADD COLUMN identifier_uris_json TEXT NOT NULL DEFAULT '[]';
