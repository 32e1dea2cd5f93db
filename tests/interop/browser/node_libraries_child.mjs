// Run by node_libraries.test.mjs with NODE_EXTRA_CA_CERTS naming entra-mock's CA (so the
// libraries trust the HTTPS listener as they would a real tenant's) and AUTHORITY set: drives
// openid-client v6, oauth4webapi and msal-node, then validates access tokens as a Node.js API does
// with jose, prints one JSON line of results.
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import * as oidc from "openid-client";
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";

const AUTHORITY = process.env.AUTHORITY; // https://localhost:PORT/{tenant}
const MOCK = process.env.MOCK; // https://localhost:PORT/_mock
const BFF = "00001111-aaaa-2222-bbbb-3333cccc4444";
const BFF_SECRET = "bff-secret-local-dev-only";
const REDIRECT = "http://localhost:5001/auth/callback";
const DAEMON = "33334444-dddd-5555-eeee-6666ffff7777";
const API_SCOPE = "api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user";

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

/** The code of a sign-in without pages (POST /_mock/signin), as the redirect would carry it. */
async function signIn(user, params) {
  const res = await fetch(`${MOCK}/signin`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user, client_id: BFF, redirect_uri: REDIRECT, ...params }),
  });
  if (!res.ok) throw new Error(`signin: ${res.status} ${await res.text()}`);
  return res.json();
}

const out = {};

// openid-client v6: discovery, auth code with PKCE, ID-token signature checked (non-repudiation).
{
  const config = await oidc.discovery(new URL(`${AUTHORITY}/v2.0`), BFF, BFF_SECRET);
  oidc.enableNonRepudiationChecks(config);
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: `openid profile offline_access ${API_SCOPE}`,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
    nonce, state,
  });
  const p = url.searchParams;
  const signed = await signIn("alice@contoso.onmicrosoft.com", {
    scope: p.get("scope"), code_challenge: p.get("code_challenge"),
    code_challenge_method: "S256", nonce, state,
  });
  const callback = new URL(`${REDIRECT}?code=${encodeURIComponent(signed.code)}&state=${encodeURIComponent(state)}`);
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  out.openidClient = {
    issuer: config.serverMetadata().issuer,
    sub: tokens.claims().sub,
    name: tokens.claims().name,
    scp: claimsOf(tokens.access_token).scp,
    refreshedRotated: refreshed.refresh_token !== tokens.refresh_token,
  };
}

// msal-node: client credentials, auth code with PKCE, then a forced silent refresh.
{
  const host = new URL(AUTHORITY).host;
  const daemon = new ConfidentialClientApplication({
    auth: { clientId: DAEMON, clientSecret: "daemon-secret-local-dev-only", authority: AUTHORITY, knownAuthorities: [host] },
  });
  const cc = await daemon.acquireTokenByClientCredential({ scopes: ["api://22223333-cccc-4444-dddd-5555eeee6666/.default"] });
  const bff = new ConfidentialClientApplication({
    auth: { clientId: BFF, clientSecret: BFF_SECRET, authority: AUTHORITY, knownAuthorities: [host] },
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const authUrl = new URL(await bff.getAuthCodeUrl({
    scopes: [API_SCOPE], redirectUri: REDIRECT, codeChallenge: challenge, codeChallengeMethod: "S256",
  }));
  const signed = await signIn("bob@contoso.onmicrosoft.com", {
    scope: authUrl.searchParams.get("scope"), code_challenge: challenge, code_challenge_method: "S256",
    methods: ["pwd", "otp"],
  });
  const code = await bff.acquireTokenByCode({
    code: signed.code, redirectUri: REDIRECT, scopes: [API_SCOPE], codeVerifier: verifier,
  });
  const silent = await bff.acquireTokenSilent({ account: code.account, scopes: [API_SCOPE], forceRefresh: true });
  out.msalNode = {
    clientCredentialsRoles: claimsOf(cc.accessToken).roles,
    username: code.account.username,
    amr: claimsOf(code.accessToken).amr,
    silentNewToken: silent.accessToken !== code.accessToken,
    silentFromCache: silent.fromCache,
  };
}

// The person of the device code flow, over HTTP with a cookie jar: opens the verification URI,
// types the user code, confirms the app, then fills each sign-in page's form (its hidden fields
// plus `loginfmt` or `passwd`, and its primary button) until entra-mock says the device is in.
async function deviceSignIn(verificationUri, userCode, user) {
  const jar = new Map();
  const send = async (url, form) => {
    const res = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    if (res.status === 302) return send(new URL(res.headers.get("location"), url).toString());
    return { url, html: await res.text(), status: res.status };
  };
  const attr = (tag, name) => tag.match(new RegExp(`${name}="([^"]*)"`))?.[1];
  const unescape = (s) => s.replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  let page = await send(verificationUri);
  page = await send(verificationUri, { otc: userCode });
  for (let i = 0; i < 10; i++) {
    if (page.status !== 200) throw new Error(`device sign-in: ${page.status} ${page.html.slice(0, 300)}`);
    if (page.html.includes("You have signed in to the")) return;
    const form = page.html.slice(page.html.indexOf("<form"), page.html.indexOf("</form>"));
    const action = unescape(attr(form.slice(0, form.indexOf(">")), "action"));
    const fields = {};
    for (const tag of form.match(/<(input|button)[^>]*>/g)) {
      const name = attr(tag, "name");
      const value = unescape(attr(tag, "value") ?? "");
      if (!name) continue;
      if (attr(tag, "type") === "hidden") fields[name] = value;
      if (attr(tag, "id") === "idSIButton9") fields[name] = value;
      if (name === "loginfmt") fields.loginfmt = user;
      if (name === "passwd") fields.passwd = "Passw0rd!";
    }
    page = await send(new URL(action, page.url).toString(), fields);
  }
  throw new Error("the device sign-in did not finish");
}

// msal-node: the device code flow on the public `spa` app (the person signs in while msal-node
// polls), then on-behalf-of: `api` exchanges alice's token from it for a Graph token.
{
  const host = new URL(AUTHORITY).host;
  const spa = new PublicClientApplication({
    auth: { clientId: "11112222-bbbb-3333-cccc-4444dddd5555", authority: AUTHORITY, knownAuthorities: [host] },
  });
  let driver;
  const device = await spa.acquireTokenByDeviceCode({
    scopes: [API_SCOPE],
    deviceCodeCallback: (r) => {
      out.deviceCodeMessage = r.message;
      driver = deviceSignIn(r.verificationUri, r.userCode, "alice@contoso.onmicrosoft.com");
    },
  });
  await driver;
  const api = new ConfidentialClientApplication({
    auth: {
      clientId: "22223333-cccc-4444-dddd-5555eeee6666", clientSecret: "api-secret-local-dev-only",
      authority: AUTHORITY, knownAuthorities: [host],
    },
  });
  const obo = await api.acquireTokenOnBehalfOf({
    oboAssertion: device.accessToken, scopes: ["https://graph.microsoft.com/User.Read"],
  });
  out.msalNodeDevice = {
    username: device.account.username,
    aud: claimsOf(device.accessToken).aud,
    oboAud: claimsOf(obo.accessToken).aud,
    oboOid: claimsOf(obo.accessToken).oid,
    oboScp: claimsOf(obo.accessToken).scp,
  };
}

// oauth4webapi, called step by step as its README shows, each answer through its strict
// process* checks: discovery (the issuer must equal the URL asked), the authorization response,
// auth code with PKCE and nonce (ID token claims checked, and its signature against the JWKS),
// userinfo (its `sub` must be the ID token's), refresh, client credentials by secret and by
// certificate, and the device authorization grant.
{
  const issuer = new URL(`${AUTHORITY}/v2.0`);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oidc" }));
  const bff = { client_id: BFF };
  const secretPost = oauth.ClientSecretPost(BFF_SECRET);
  const verifier = oauth.generateRandomCodeVerifier();
  const nonce = oauth.generateRandomNonce();
  const state = oauth.generateRandomState();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const signed = await signIn("alice@contoso.onmicrosoft.com", {
    scope: "openid profile offline_access", code_challenge: challenge, code_challenge_method: "S256", nonce, state,
  });
  const params = oauth.validateAuthResponse(as, bff, new URLSearchParams({ code: signed.code, state }), state);
  const codeResponse = await oauth.authorizationCodeGrantRequest(as, bff, secretPost, params, REDIRECT, verifier);
  const tokens = await oauth.processAuthorizationCodeResponse(as, bff, codeResponse, { expectedNonce: nonce, requireIdToken: true });
  await oauth.validateApplicationLevelSignature(as, codeResponse);
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  const userinfo = await oauth.processUserInfoResponse(as, bff, claims.sub,
    await oauth.userInfoRequest(as, bff, tokens.access_token));
  const refreshed = await oauth.processRefreshTokenResponse(as, bff,
    await oauth.refreshTokenGrantRequest(as, bff, secretPost, tokens.refresh_token));

  const daemon = { client_id: DAEMON };
  const appToken = await oauth.processClientCredentialsResponse(as, daemon, await oauth.clientCredentialsGrantRequest(
    as, daemon, oauth.ClientSecretBasic("daemon-secret-local-dev-only"), { scope: "api://22223333-cccc-4444-dddd-5555eeee6666/.default" }));

  // private_key_jwt with bff's development certificate, PS256 and `x5t#S256` as
  // certificate-credentials asks. oauth4webapi's assertion names the issuer as `aud`; Entra's
  // is the token endpoint, which modifyAssertion sets.
  const certificate = new X509Certificate(readFileSync(new URL("../../../fixtures/certs/bff-dev-only.pem", import.meta.url)));
  const pkcs8 = Buffer.from(readFileSync(new URL("../../../fixtures/certs/bff-dev-only.key", import.meta.url), "utf8")
    .replace(/-----[A-Z ]+-----/g, "").replace(/\s/g, ""), "base64");
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
  const thumbprint = createHash("sha256").update(certificate.raw).digest("base64url");
  const withCertificate = (aud) => oauth.PrivateKeyJwt(key, {
    [oauth.modifyAssertion]: (header, payload) => {
      header["x5t#S256"] = thumbprint;
      if (aud) payload.aud = aud;
    },
  });
  const apiDefault = { scope: "api://22223333-cccc-4444-dddd-5555eeee6666/.default" };
  const byCertificate = await oauth.processClientCredentialsResponse(as, bff,
    await oauth.clientCredentialsGrantRequest(as, bff, withCertificate(as.token_endpoint), apiDefault));
  const refusal = async (aud) => {
    try {
      await oauth.processClientCredentialsResponse(as, bff,
        await oauth.clientCredentialsGrantRequest(as, bff, withCertificate(aud), apiDefault));
      return "accepted";
    } catch (e) {
      if (!(e instanceof oauth.ResponseBodyError)) throw e;
      return `${e.error} ${e.cause.error_codes}`;
    }
  };

  // The device authorization grant on the public `spa` app: one poll before the person has
  // signed in (authorization_pending), then one after the interval RFC 8628 asks a client to wait.
  const spa = { client_id: "11112222-bbbb-3333-cccc-4444dddd5555" };
  const device = await oauth.processDeviceAuthorizationResponse(as, spa,
    await oauth.deviceAuthorizationRequest(as, spa, oauth.None(), { scope: `openid profile ${API_SCOPE}` }));
  const poll = async () => oauth.processDeviceCodeResponse(as, spa,
    await oauth.deviceCodeGrantRequest(as, spa, oauth.None(), device.device_code));
  const early = await poll().then(() => "tokens", (e) => {
    if (!(e instanceof oauth.ResponseBodyError)) throw e;
    return e.error;
  });
  await deviceSignIn(device.verification_uri, device.user_code, "alice@contoso.onmicrosoft.com");
  await new Promise((r) => setTimeout(r, device.interval * 1000));
  const deviceTokens = await poll();

  out.oauth4webapi = {
    issuer: as.issuer,
    idTokenName: claims.name,
    userinfoSub: userinfo.sub === claims.sub,
    userinfoName: userinfo.name,
    refreshedAud: oauth.getValidatedIdTokenClaims(refreshed).aud,
    refreshedRotated: refreshed.refresh_token !== tokens.refresh_token,
    appRoles: claimsOf(appToken.access_token).roles,
    certificateAzpacr: claimsOf(byCertificate.access_token).azpacr,
    issuerAsAudience: await refusal(undefined),
    twoAudiences: await refusal([as.issuer, as.token_endpoint]),
    devicePollBeforeSignIn: early,
    deviceName: oauth.getValidatedIdTokenClaims(deviceTokens).name,
    deviceAud: claimsOf(deviceTokens.access_token).aud,
  };
}

// jose, as a Node.js API validates access tokens: the key by `kid` from the discovery document's
// jwks_uri, RS256 only, `iss` and `aud`. Each broken token of POST /_mock/tokens is refused
// (the error's code says why), and an emergency rollover (`roll-now`) is followed; jose's default
// cooldown refuses a new `kid` for 30 seconds after a fetch, as it would after Entra's.
{
  const issuer = `${AUTHORITY}/v2.0`;
  const config = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const keysOf = (options) => createRemoteJWKSet(new URL(config.jwks_uri), options);
  const mint = async (defect) => {
    const res = await fetch(`${MOCK}/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "access", client_id: BFF, user: "alice@contoso.onmicrosoft.com", scope: API_SCOPE, defect }),
    });
    if (!res.ok) throw new Error(`mint: ${res.status} ${await res.text()}`);
    return (await res.json()).token;
  };
  const verify = (token, keys) => jwtVerify(token, keys, { issuer, audience: "22223333-cccc-4444-dddd-5555eeee6666", algorithms: ["RS256"] });
  // A claim's refusal names the claim.
  const outcome = (p) => p.then((r) => `accepted ${r.payload.scp}`, (e) => [e.code, e.claim].filter(Boolean).join(" "));
  const keys = keysOf();
  const refusals = {};
  for (const defect of [undefined, "expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "wrong-tenant",
    "unknown-kid", "bad-signature", "alg-none", "hs256-with-public-key"]) {
    refusals[defect ?? "none"] = await outcome(verify(await mint(defect), keys));
  }
  const rotate = async (phase) => {
    const res = await fetch(`${MOCK}/keys/rotate`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ phase }),
    });
    if (!res.ok) throw new Error(`rotate: ${res.status} ${await res.text()}`);
  };
  const before = await mint();
  await rotate("roll-now");
  const after = await mint();
  out.jose = {
    refusals,
    newKid: decodeProtectedHeader(after).kid !== decodeProtectedHeader(before).kid,
    newKeyWithinCooldown: await outcome(verify(after, keys)),
    newKeyWithoutCooldown: await outcome(verify(after, keysOf({ cooldownDuration: 0 }))),
    oldKeyFetchedAnew: await outcome(verify(before, keysOf())),
  };
}

console.log(JSON.stringify(out));
