// A peer for `cargo bench --bench server`: panva's oidc-provider with JWT access tokens for one
// resource (resource indicators), one `client_credentials` client and one web app, signing
// RS256 with a new RSA-2048 key, as entra-mock does.
//
//   node oidc-provider.mjs PORT
//
// Serves /.well-known/openid-configuration, /jwks, /auth, its development interactions (a login
// page taking any name and password, a consent page) and /token on 127.0.0.1:PORT, and prints
// `ready http://localhost:PORT` once it listens. Token requests:
//   POST /token grant_type=client_credentials client_id=bench-daemon
//        client_secret=bench-daemon-secret scope=api:read
//   POST /token grant_type=authorization_code (or refresh_token) client_id=bench-web
//        client_secret=bench-web-secret ..., after a sign-in at /auth with
//        redirect_uri=http://localhost/bench/callback, scope=openid offline_access api:read
//        and prompt=consent (a refresh token needs both)
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node oidc-provider.mjs PORT');
  process.exit(2);
}
const issuer = `http://localhost:${port}`;
const RESOURCE = 'api://bench-api';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench-daemon',
    client_secret: 'bench-daemon-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
  }, {
    client_id: 'bench-web',
    client_secret: 'bench-web-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: ['http://localhost/bench/callback'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  jwks: { keys: [jwk] },
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api:read',
        audience: RESOURCE,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
