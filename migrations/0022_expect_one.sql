-- A guard for write batches (src/store/tx.rs, `Tx::expect_one`): `INSERT INTO expect_one (n)
-- VALUES (changes())` aborts unless the statement before it changed exactly one row, and so ends
-- the batch, whose transaction is rolled back. It lets a transaction whose writes depend on an
-- earlier statement's outcome (the end of a sign-in flow, which exactly one request may end) go
-- to SQLite in one round trip (issue 12). The view holds no rows; nothing is ever stored.
CREATE VIEW expect_one (n) AS SELECT 1 WHERE 0;
CREATE TRIGGER expect_one_check INSTEAD OF INSERT ON expect_one
WHEN NEW.n IS NOT 1
BEGIN
    SELECT RAISE(ABORT, 'entra-mock: expected one changed row');
END;
