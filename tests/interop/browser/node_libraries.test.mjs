// Interop with real Node.js client libraries against entra-mock's HTTPS listener, the local CA
// trusted through NODE_EXTRA_CA_CERTS (as an app would trust a corporate CA): openid-client v6
// with non-repudiation checks (discovery, auth code with PKCE, the ID token's signature checked
// against the JWKS, refresh), oauth4webapi's strict checks step by step (discovery, auth code,
// userinfo, refresh, client credentials by secret and certificate, device authorization),
// msal-node (client credentials, auth code with PKCE, a forced silent refresh), and jose
// validating access tokens as a Node.js API does (broken tokens refused, a key rollover). Codes
// come from sign-in without pages (POST /_mock/signin); the pages themselves are driven by the
// browser tests. The libraries run in a child process so that the CA, which entra-mock makes at
// start, is trusted from the process's start.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
let server;

before(async () => {
  const bin = process.env.ENTRA_MOCK_BIN || join(root, "target", "release", "entra-mock");
  const proc = spawn(bin, ["--ephemeral", "--http-addr", "off", "--https-addr", "127.0.0.1:0"]);
  server = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no banner: " + out)), 60000);
    proc.stdout.on("data", (d) => {
      out += d;
      const url = out.match(/https:\s+(https:\/\/\S+)/);
      const ca = out.match(/CA certificate: (\S+)/);
      if (url && ca) {
        clearTimeout(timer);
        resolve({ proc, url: url[1], ca: ca[1] });
      }
    });
    proc.on("exit", (code) => reject(new Error(`entra-mock exited ${code}: ${out}`)));
  });
});

after(() => server?.proc.kill());

test("openid-client v6, oauth4webapi and msal-node sign in, refresh, get app tokens, use the device code and on-behalf-of; jose validates", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(here, "node_libraries_child.mjs")], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: server.ca, AUTHORITY: `${server.url}/${TENANT}`, MOCK: `${server.url}/_mock` },
    timeout: 120000,
  });
  const r = JSON.parse(stdout.trim().split("\n").at(-1));
  assert.equal(r.openidClient.issuer, `${server.url}/${TENANT}/v2.0`);
  assert.equal(r.openidClient.sub.length > 0, true);
  assert.equal(r.openidClient.name, "Alice Example");
  assert.equal(r.openidClient.scp, "access_as_user");
  assert.equal(r.openidClient.refreshedRotated, true);
  assert.deepEqual(r.msalNode.clientCredentialsRoles, ["Tasks.ReadWrite.All"]);
  assert.equal(r.msalNode.username, "bob@contoso.onmicrosoft.com");
  assert.deepEqual(r.msalNode.amr, ["pwd", "otp", "mfa"]);
  assert.equal(r.msalNode.silentNewToken, true);
  const o = r.oauth4webapi;
  assert.equal(o.issuer, `${server.url}/${TENANT}/v2.0`);
  assert.equal(o.idTokenName, "Alice Example");
  assert.equal(o.userinfoSub, true);
  assert.equal(o.userinfoName, "Alice Example");
  assert.equal(o.refreshedAud, "00001111-aaaa-2222-bbbb-3333cccc4444");
  assert.equal(o.refreshedRotated, true);
  assert.deepEqual(o.appRoles, ["Tasks.ReadWrite.All"]);
  assert.equal(o.certificateAzpacr, "2");
  // oauth4webapi's own `aud` (the issuer) is not the token endpoint certificate-credentials asks
  // for; a list of both gets the count refusal Entra answers.
  assert.equal(o.issuerAsAudience, "invalid_client 700023");
  assert.equal(o.twoAudiences, "invalid_client 5002741");
  assert.equal(o.devicePollBeforeSignIn, "authorization_pending");
  assert.equal(o.deviceName, "Alice Example");
  assert.equal(o.deviceAud, "22223333-cccc-4444-dddd-5555eeee6666");
  assert.deepEqual(r.jose.refusals, {
    none: "accepted access_as_user",
    expired: "ERR_JWT_EXPIRED exp",
    "not-yet-valid": "ERR_JWT_CLAIM_VALIDATION_FAILED nbf",
    "wrong-audience": "ERR_JWT_CLAIM_VALIDATION_FAILED aud",
    "wrong-issuer": "ERR_JWT_CLAIM_VALIDATION_FAILED iss",
    "wrong-tenant": "ERR_JWT_CLAIM_VALIDATION_FAILED iss",
    "unknown-kid": "ERR_JWKS_NO_MATCHING_KEY",
    "bad-signature": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    "alg-none": "ERR_JOSE_ALG_NOT_ALLOWED",
    "hs256-with-public-key": "ERR_JOSE_ALG_NOT_ALLOWED",
  });
  assert.equal(r.jose.newKid, true);
  assert.equal(r.jose.newKeyWithinCooldown, "ERR_JWKS_NO_MATCHING_KEY");
  assert.equal(r.jose.newKeyWithoutCooldown, "accepted access_as_user");
  assert.equal(r.jose.oldKeyFetchedAnew, "ERR_JWKS_NO_MATCHING_KEY");
  assert.equal(r.msalNode.silentFromCache, false);
  assert.match(r.deviceCodeMessage, new RegExp(`open the page ${server.url}/devicelogin and enter the code [A-Z0-9]{9} `));
  assert.equal(r.msalNodeDevice.username, "alice@contoso.onmicrosoft.com");
  assert.equal(r.msalNodeDevice.aud, "22223333-cccc-4444-dddd-5555eeee6666");
  assert.equal(r.msalNodeDevice.oboAud, "00000003-0000-0000-c000-000000000000");
  assert.equal(r.msalNodeDevice.oboOid, "a11ce000-0000-4000-8000-000000000001");
  // msal-node adds openid and profile, which Graph tokens list too (as Entra's do).
  assert.ok(r.msalNodeDevice.oboScp.split(" ").includes("User.Read"), r.msalNodeDevice.oboScp);
  mkdirSync(join(root, "target", "conformance"), { recursive: true });
  appendFileSync(join(root, "target", "conformance", "steps.jsonl"),
    JSON.stringify({ id: "interop-node", test: "node_libraries: openid-client v6, oauth4webapi, msal-node (auth code, client credentials, device code, on-behalf-of), jose (access-token validation)", suite: "interop" }) + "\n");
});
