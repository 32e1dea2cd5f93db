-- The guard of migration 0022 (`expect_one`) lost its one user when the sign-in flows moved into
-- their pages (0024): a flow now ends once in memory, before its transaction. Its view and
-- trigger go; 0022 stays, as every applied migration must.
DROP TRIGGER IF EXISTS expect_one_check;
DROP VIEW IF EXISTS expect_one;
