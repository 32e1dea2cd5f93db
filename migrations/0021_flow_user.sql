-- The user a sign-in flow has identified (its step's user), so that reading the flow reads the
-- user in the same query (issue 12: each query is a round trip to SQLite's thread).
ALTER TABLE signin_flows ADD COLUMN user_oid TEXT;
