// Interop: the real msal-browser in headless Chromium (Debian's chromium, driven by playwright-core)
// against entra-mock's HTTPS listener. A small SPA on http://localhost:<port>/ signs alice in with
// loginRedirect (the script fills Entra's page controls by their ids: #i0116, #idSIButton9,
// #i0118, #idSIButton9), then ssoSilent with the ID token's login_hint claim (a hidden iframe with
// prompt=none, answered from the SSO cookie), then logoutRedirect back to the app (msal-browser
// sends post_logout_redirect_uri and logout_hint, no client_id), then ssoSilent fails. A second
// test signs bob in by the same ids with his one-time code (#idTxtBx_SAOTCC_OTC,
// #idSubmit_SAOTCC_Continue), answers "Stay signed in?" with Yes (#KmsiCheckboxField, #idSIButton9),
// and logs the persistent session out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { appendFileSync, readFileSync, writeFileSync, mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
const SPA = "11112222-bbbb-3333-cccc-4444dddd5555";
const API_SCOPE = "api://22223333-cccc-4444-dddd-5555eeee6666/access_as_user";

let server, spaServer, browser, authority, spaBase;

/** A free TCP port on loopback. */
function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts entra-mock with the SPA registered on `spaBase`; resolves its HTTPS base URL. */
function startEntraMock(fixture) {
  const bin = process.env.ENTRA_MOCK_BIN || join(root, "target", "release", "entra-mock");
  const proc = spawn(bin, ["--ephemeral", "--http-addr", "off", "--https-addr", "127.0.0.1:0", "--fixtures", fixture]);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no banner: " + out)), 60000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/https:\s+(https:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
    proc.on("exit", (code) => reject(new Error(`entra-mock exited ${code}: ${out}`)));
  });
}

const page = (body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>SPA</title></head><body>${body}</body></html>`;

before(async () => {
  const port = await freePort();
  spaBase = `http://localhost:${port}`;
  const fixture = readFileSync(join(root, "fixtures", "default.toml"), "utf8")
    .replace('spa = { redirectUris = ["http://localhost:5002/", "https://localhost:5002/"] }',
      `spa = { redirectUris = ["${spaBase}/", "${spaBase}/redirect"] }\nmock = { staySignedInPrompt = true }`)
    .replace('postLogoutRedirectUris = ["http://localhost:5002/"]', `postLogoutRedirectUris = ["${spaBase}/"]`);
  assert.ok(fixture.includes(`${spaBase}/redirect`), "the fixture names the SPA's port");
  const dir = mkdtempSync(join(tmpdir(), "entra-mock-browser-"));
  writeFileSync(join(dir, "fixture.toml"), fixture);
  server = await startEntraMock(join(dir, "fixture.toml"));
  authority = `${server.url.replace("127.0.0.1", "localhost")}/${TENANT}`;
  const host = new URL(authority).host;

  const lib = join(here, "node_modules", "@azure", "msal-browser", "lib");
  const config = JSON.stringify({
    auth: { clientId: SPA, authority, knownAuthorities: [host], redirectUri: `${spaBase}/redirect` },
    cache: { cacheLocation: "sessionStorage" },
  });
  spaServer = createServer((req, res) => {
    const path = new URL(req.url, spaBase).pathname;
    const send = (type, body) => { res.writeHead(200, { "content-type": type }); res.end(body); };
    if (path === "/msal-browser.min.js") return send("text/javascript", readFileSync(join(lib, "msal-browser.min.js")));
    if (path === "/bridge.js") return send("text/javascript", readFileSync(join(lib, "redirect-bridge", "msal-redirect-bridge.min.js")));
    if (path === "/redirect") {
      return send("text/html", page(`<script src="/bridge.js"></script>
<script>msalRedirectBridge.broadcastResponseToMainFrame().catch((e) => { document.body.dataset.error = String(e); });</script>`));
    }
    if (path === "/") {
      return send("text/html", page(`<script src="/msal-browser.min.js"></script>
<script>
window.pca = new msal.PublicClientApplication(${config});
window.ready = (async () => {
  await pca.initialize();
  const r = await pca.handleRedirectPromise();
  if (r) { pca.setActiveAccount(r.account); window.loginResult = { account: r.account, scopes: r.scopes }; }
  return true;
})().catch((e) => { window.readyError = String(e); });
</script>`));
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => spaServer.listen(port, "127.0.0.1", r));

  // A persistent (non-incognito) profile: Chromium blocks third-party cookies in incognito
  // contexts, which would break the hidden-iframe SSO for any identity provider.
  // The profile allows third-party cookies (cookie_controls_mode 0), as the users of a real
  // tenant's silent sign-in need: Chromium blocks them by default here.
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  mkdirSync(join(profile, "Default"));
  writeFileSync(join(profile, "Default", "Preferences"), JSON.stringify({
    profile: { cookie_controls_mode: 0, block_third_party_cookies: false },
  }));
  browser = await chromium.launchPersistentContext(profile, {
    ignoreHTTPSErrors: true,
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--ignore-certificate-errors"],
  });
});

after(async () => {
  await browser?.close();
  spaServer?.close();
  server?.proc.kill();
});

test("loginRedirect, ssoSilent with login_hint, logoutRedirect, then ssoSilent fails", async () => {
  const context = browser;
  const tab = await context.newPage();
  await tab.goto(`${spaBase}/`);
  await tab.waitForFunction(() => window.ready);

  // loginRedirect: Entra's pages, driven by Entra's element ids.
  // Not awaited: the page navigates away.
  await tab.evaluate((scope) => { void pca.loginRedirect({ scopes: [scope] }); }, API_SCOPE);
  await tab.waitForSelector("#i0116");
  await tab.fill("#i0116", "alice@contoso.onmicrosoft.com");
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#i0118");
  await tab.fill("#i0118", "Passw0rd!");
  await tab.click("#idSIButton9");
  // "Stay signed in?": No keeps the SSO cookie to the browser session.
  await tab.waitForSelector("#KmsiCheckboxField");
  await tab.click("#idBtn_Back");
  await tab.waitForURL(`${spaBase}/**`);
  await tab.waitForFunction(() => window.loginResult || window.readyError, null, { timeout: 30000 });
  const login = await tab.evaluate(() => window.loginResult || window.readyError);
  assert.equal(login.account?.username, "alice@contoso.onmicrosoft.com", JSON.stringify(login));
  assert.ok(login.account.idTokenClaims.login_hint, "the ID token carries login_hint");

  // ssoSilent with the account: a hidden iframe, prompt=none, answered from the SSO cookie.
  const silent = await tab.evaluate(async (scope) => {
    try {
      const a = pca.getActiveAccount();
      const r = await pca.ssoSilent({ scopes: [scope], loginHint: a.idTokenClaims.login_hint });
      return { ok: true, user: r.account.username, token: r.accessToken.length > 0 };
    } catch (e) { return { ok: false, error: String(e) }; }
  }, API_SCOPE);
  assert.deepEqual(silent, { ok: true, user: "alice@contoso.onmicrosoft.com", token: true });

  // acquireTokenSilent: from the cache, then forced to the token endpoint with the refresh token.
  const cached = await tab.evaluate(async (scope) => {
    const account = pca.getActiveAccount();
    const a = await pca.acquireTokenSilent({ scopes: [scope], account });
    const b = await pca.acquireTokenSilent({ scopes: [scope], account, forceRefresh: true });
    return { fromCache: a.fromCache, refreshed: !b.fromCache && b.accessToken !== a.accessToken };
  }, API_SCOPE);
  assert.deepEqual(cached, { fromCache: true, refreshed: true });

  // logoutRedirect back to the app: no client_id, logout_hint instead.
  await tab.evaluate((base) => { void pca.logoutRedirect({ account: pca.getActiveAccount(), postLogoutRedirectUri: `${base}/` }); }, spaBase);
  await tab.waitForURL((u) => u.origin === spaBase && !u.pathname.includes("logout"), { timeout: 30000 });
  await tab.waitForFunction(() => window.ready);

  // The SSO session is over: silent sign-in fails with an interaction error.
  const after = await tab.evaluate(async (scope) => {
    try {
      await pca.ssoSilent({ scopes: [scope], loginHint: "alice@contoso.onmicrosoft.com" });
      return { ok: true };
    } catch (e) { return { ok: false, code: e.errorCode || String(e) }; }
  }, API_SCOPE);
  assert.equal(after.ok, false);
  assert.match(after.code, /login_required|interaction_required/);
  mkdirSync(join(root, "target", "conformance"), { recursive: true });
  appendFileSync(join(root, "target", "conformance", "steps.jsonl"),
    JSON.stringify({ id: "browser-msal", test: "msal_browser: loginRedirect, ssoSilent, logoutRedirect", suite: "browser" }) + "\n");
});

/** The SSO cookies entra-mock set in the browser, by name. */
async function ssoCookies(context) {
  const all = await context.cookies(new URL(authority).origin);
  return Object.fromEntries(all.filter((c) => c.name.startsWith("ESTSAUTH")).map((c) => [c.name, c]));
}

test("bob signs in with his one-time code and Stay signed in, and logoutRedirect ends the persistent session", async () => {
  const context = browser;
  const tab = await context.newPage();
  await tab.goto(`${spaBase}/`);
  await tab.waitForFunction(() => window.ready);

  await tab.evaluate((scope) => { void pca.loginRedirect({ scopes: [scope], prompt: "login" }); }, API_SCOPE);
  await tab.waitForSelector("#i0116");
  await tab.fill("#i0116", "bob@contoso.onmicrosoft.com");
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#i0118");
  await tab.fill("#i0118", "Passw0rd!");
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#idTxtBx_SAOTCC_OTC");
  // The current code by entra-mock's clock, from the test-control API (what an authenticator shows).
  const otp = await context.request.get(`${server.url}/_mock/users/bob@contoso.onmicrosoft.com/totp`);
  assert.equal(otp.status(), 200);
  const { code } = await otp.json();
  assert.match(code, /^[0-9]{6}$/);
  await tab.fill("#idTxtBx_SAOTCC_OTC", code);
  await tab.click("#idSubmit_SAOTCC_Continue");
  await tab.waitForSelector("#KmsiCheckboxField");
  await tab.check("#KmsiCheckboxField");
  await tab.click("#idSIButton9");
  await tab.waitForURL(`${spaBase}/**`);
  await tab.waitForFunction(() => window.loginResult || window.readyError, null, { timeout: 30000 });
  const login = await tab.evaluate(() => window.loginResult || window.readyError);
  assert.equal(login.account?.username, "bob@contoso.onmicrosoft.com", JSON.stringify(login));
  assert.deepEqual(login.account.idTokenClaims.amr, ["pwd", "otp", "mfa"]);

  const before = await ssoCookies(context);
  assert.ok(before.ESTSAUTHPERSISTENT, "Yes makes the session persistent");
  assert.ok(before.ESTSAUTHPERSISTENT.expires > Date.now() / 1000 + 86400, "it outlives the browser session");

  await tab.evaluate((base) => { void pca.logoutRedirect({ account: pca.getActiveAccount(), postLogoutRedirectUri: `${base}/` }); }, spaBase);
  await tab.waitForURL((u) => u.origin === spaBase && !u.pathname.includes("logout"), { timeout: 30000 });
  await tab.waitForFunction(() => window.ready);

  const afterLogout = await ssoCookies(context);
  assert.equal(afterLogout.ESTSAUTHPERSISTENT, undefined, "logout clears the persistent cookie");
  const silent = await tab.evaluate(async (scope) => {
    try {
      await pca.ssoSilent({ scopes: [scope], loginHint: "bob@contoso.onmicrosoft.com" });
      return { ok: true };
    } catch (e) { return { ok: false, code: e.errorCode || String(e) }; }
  }, API_SCOPE);
  assert.equal(silent.ok, false);
  assert.match(silent.code, /login_required|interaction_required/);
});
