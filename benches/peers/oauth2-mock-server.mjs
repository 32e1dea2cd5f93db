// A peer for `cargo bench --bench server`: axa-group's oauth2-mock-server with one new RS256
// (RSA-2048) signing key. It accepts any client and any refresh token, and issues JWT access
// tokens; its /authorize shows no page and redirects with a code at once.
//
//   node oauth2-mock-server.mjs PORT
//
// Serves /.well-known/openid-configuration, /jwks, /authorize and /token on 127.0.0.1:PORT and
// prints `ready http://localhost:PORT` once it listens.
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node oauth2-mock-server.mjs PORT');
  process.exit(2);
}
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(port, '127.0.0.1');
console.log(`ready ${server.issuer.url}`);
