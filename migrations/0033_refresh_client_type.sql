-- The client type a refresh token's chain started with (the platform of the code's redirect URI,
-- or the app's isFallbackPublicClient for flows with none): every refresh of the chain must
-- authenticate the same way. Chains stored before were typed by their app, and SPA chains are
-- public.
ALTER TABLE refresh_tokens ADD COLUMN public_client INTEGER NOT NULL DEFAULT 0;
UPDATE refresh_tokens SET public_client = 1
 WHERE spa = 1
    OR client_id IN (SELECT client_id FROM applications WHERE client_type = 'public');
