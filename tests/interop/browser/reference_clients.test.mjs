// The reference clients in headless Chromium (Debian's chromium, driven by playwright-core):
// `entra-mock demo` on free ports, then a person's walk through both flows of the seed, with a
// screenshot of each page in target/screenshots/ (README's "Try the two flows" shows them).
// BFF: bob signs in with his one-time code read from the sign-in page's "Test accounts" hint,
// adds a task, passes the MFA-protected admin call, logs out at Entra. SPA: alice signs in with
// PKCE, the tokens stay out of every browser storage, the API answers, an expired access token
// is refreshed before the call, and the API's claims challenge sends her back to Entra, where
// she enrols an authenticator and comes back with `mfa` in `amr`. carol registers a passkey in
// Chrome's virtual authenticator (CDP WebAuthn domain) and signs in with it again. Chromium trusts
// entra-mock's CA by its key (--ignore-certificate-errors-spki-list): WebAuthn is refused on pages
// with certificate errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, createHmac, X509Certificate } from "node:crypto";
import { appendFileSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const shots = join(root, "target", "screenshots");
const PASSWORD = "Passw0rd!";

let demo, browser, urls;

function startDemo() {
  const bin = process.env.ENTRA_MOCK_BIN || join(root, "target", "release", "entra-mock");
  const proc = spawn(bin, ["demo", "--ephemeral", "--http-addr", "off", "--https-addr", "127.0.0.1:0",
    "--bff-port", "0", "--spa-port", "0", "--api-port", "0"]);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no banner: " + out)), 60000);
    proc.stdout.on("data", (d) => {
      out += d;
      const bff = out.match(/BFF:\s+(http:\/\/\S+)\//);
      const spa = out.match(/SPA:\s+(http:\/\/\S+)\//);
      const idp = out.match(/https:\s+(https:\/\/\S+)/);
      const ca = out.match(/CA certificate: (\S+)/);
      if (bff && spa && idp && ca && out.includes("Test accounts")) {
        clearTimeout(timer);
        resolve({ proc, bff: bff[1], spa: spa[1], idp: idp[1], ca: ca[1] });
      }
    });
    proc.stderr.on("data", (d) => { out += d; });
    proc.on("exit", (code) => reject(new Error(`entra-mock demo exited ${code}: ${out}`)));
  });
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret. */
function totp(base32) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

/** Waits for `selector`; on failure says what the SPA page shows (its error and step log). */
async function waitFor(tab, selector) {
  try {
    await tab.waitForSelector(selector);
  } catch (e) {
    const said = await tab.evaluate(() => ({
      url: location.href,
      error: document.getElementById("error")?.textContent,
      log: document.getElementById("log")?.innerText,
    })).catch(() => ({}));
    // A failing step keeps its screenshot.
    await tab.screenshot({ path: join(shots, `failed-${Date.now()}.png`), fullPage: true }).catch(() => {});
    throw new Error(`${e.message}\n${JSON.stringify(said, null, 2)}`);
  }
}

/** Records in target/conformance/steps.jsonl what a passing test proved (the report's input). */
function covered(ids, testName) {
  mkdirSync(join(root, "target", "conformance"), { recursive: true });
  appendFileSync(join(root, "target", "conformance", "steps.jsonl"),
    ids.map((id) => JSON.stringify({ id, test: testName, suite: "browser" }) + "\n").join(""));
}

async function shot(tab, name) {
  await tab.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  urls = await startDemo();
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  mkdirSync(join(profile, "Default"));
  writeFileSync(join(profile, "Default", "Preferences"), JSON.stringify({ profile: { cookie_controls_mode: 0 } }));
  // entra-mock's CA trusted by its key (not by ignoring certificate errors: Chromium refuses
  // WebAuthn on a page with a certificate error).
  const caKey = new X509Certificate(readFileSync(urls.ca)).publicKey.export({ type: "spki", format: "der" });
  const spki = createHash("sha256").update(caKey).digest("base64");
  browser = await chromium.launchPersistentContext(profile, {
    viewport: { width: 1000, height: 760 },
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
      `--ignore-certificate-errors-spki-list=${spki}`],
  });
});

after(async () => {
  await browser?.close();
  demo?.proc?.kill();
  urls?.proc.kill();
});

test("BFF: bob signs in with his code from the hint, adds a task, passes the MFA call, logs out", async () => {
  const tab = await browser.newPage();
  await tab.goto(`${urls.bff}/`);
  assert.equal(await tab.textContent("#status"), "Not signed in");
  await shot(tab, "bff-home-signed-out");

  // Steps 1-6: the protected page sends the browser to Entra.
  await tab.click("#protected-link");
  await tab.waitForSelector("#i0116");
  assert.ok(tab.url().startsWith(`${urls.idp}/`), tab.url());
  assert.ok(tab.url().includes("code_challenge_method=S256"));
  await tab.click("#entraMockTestAccounts summary");
  await shot(tab, "signin-username-with-test-accounts");
  await tab.fill("#i0116", "bob@contoso.onmicrosoft.com");
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#i0118");
  await tab.fill("#i0118", PASSWORD);
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#idTxtBx_SAOTCC_OTC");
  await tab.click("#entraMockTestAccounts summary");
  const code = (await tab.textContent("#entraMockTestAccounts .mock-totp")).trim();
  assert.match(code, /^\d{6}$/);
  await shot(tab, "signin-totp");
  await tab.fill("#idTxtBx_SAOTCC_OTC", code);
  await tab.click("#idSubmit_SAOTCC_Continue");

  // Steps 7-16: back at the BFF, signed in, the tasks from the API.
  await tab.waitForURL(`${urls.bff}/protected`);
  assert.equal(await tab.textContent("#user-name"), "Bob Example");
  assert.match(await tab.textContent("#amr"), /mfa/);
  const cookies = await browser.cookies(urls.bff);
  const session = cookies.find((c) => c.name === "bff-session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
  assert.equal(await tab.evaluate(() => document.cookie), "", "no cookie readable by script");
  await tab.fill("#title", "Review the sign-in logs");
  await tab.click("#add");
  await tab.waitForSelector("#notice");
  assert.match(await tab.textContent("#tasks"), /Review the sign-in logs/);
  // The admin call needs the authentication context c1: the API's claims challenge sends bob
  // back to Entra, where his session already has MFA (no page), and back to try again.
  await tab.click("#admin");
  await tab.waitForURL(/notice=stepped-up/);
  await tab.click("#admin");
  await tab.waitForURL(/notice=admin/);
  await shot(tab, "bff-protected");

  // Logout: the session ends here and at Entra, and Entra returns to the BFF.
  await tab.click("#logout");
  await tab.waitForURL(`${urls.bff}/`);
  assert.equal(await tab.textContent("#status"), "Not signed in");
  await tab.close();
  covered([...Array.from({ length: 20 }, (_, i) => String(i + 1)), "browser-bff"], "reference_clients: BFF");
});

test("SPA: alice signs in with PKCE, tokens stay in memory, refresh, then MFA step-up by claims challenge", async () => {
  const tab = await browser.newPage();
  await tab.goto(`${urls.spa}/`);
  await tab.waitForSelector("body[data-ready=true]");
  assert.equal(await tab.isVisible("#login"), true);
  await shot(tab, "spa-signed-out");

  // Steps 21-26.
  await tab.click("#login");
  await tab.waitForSelector("#i0116");
  const authorize = new URL(tab.url());
  assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
  assert.equal(authorize.searchParams.get("response_mode"), "fragment");
  await tab.fill("#i0116", "alice@contoso.onmicrosoft.com");
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#i0118");
  await tab.fill("#i0118", PASSWORD);
  await tab.click("#idSIButton9");

  // Steps 27-33: the code redeemed by the page, the API called with the bearer token.
  await tab.waitForURL(`${urls.spa}/`);
  await waitFor(tab, "#signed-in:not([hidden])");
  await tab.waitForFunction(() => document.getElementById("api-answer").textContent.includes("\"status\": 200"));
  assert.equal(await tab.textContent("#user-name"), "Alice Example");
  assert.equal(await tab.textContent("#amr"), "pwd");
  const storage = await tab.evaluate(() => ({
    local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
  }));
  assert.deepEqual(storage, { local: 0, session: 0, cookie: "" }, "tokens live in memory only");
  await tab.fill("#title", "Water the plants");
  await tab.click("#add");
  await tab.waitForFunction(() => document.getElementById("api-answer").textContent.includes("Water the plants"));
  await shot(tab, "spa-signed-in");

  // Steps 34-38: two hours later the access token has expired: refreshed, then the call.
  await tab.clock.install();
  await tab.clock.setSystemTime(Date.now() + 2 * 3600 * 1000);
  await tab.click("#load");
  await tab.waitForFunction(() => document.getElementById("log").textContent.includes("34-35) access token refreshed"));
  await tab.waitForFunction(() => [...document.querySelectorAll("#log li")].at(-1).textContent.includes("HTTP 200"));
  await tab.clock.setSystemTime(Date.now()); // back to the present, the provider's time

  // The admin call needs the authentication context c1: the claims challenge sends alice back to
  // Entra, which asks for MFA, and she registers an authenticator app (she has no method yet).
  await tab.click("#admin");
  await tab.waitForURL((u) => u.href.startsWith(urls.idp));
  assert.deepEqual(JSON.parse(new URL(tab.url()).searchParams.get("claims")),
    { access_token: { acrs: { essential: true, value: "c1" } } });
  await tab.waitForSelector("#methodTotp, #i0118");
  if (await tab.isVisible("#i0118")) {
    await tab.fill("#i0118", PASSWORD);
    await tab.click("#idSIButton9");
    await tab.waitForSelector("#methodTotp");
  }
  await tab.click("#idSIButton9");
  await tab.waitForSelector("#totpSecret");
  await tab.fill("#idTxtBx_SAOTCC_OTC", totp(await tab.textContent("#totpSecret")));
  await tab.click("#idSubmit_SAOTCC_Continue");
  await tab.waitForURL(`${urls.spa}/`);
  await waitFor(tab, "#signed-in:not([hidden])");
  assert.match(await tab.textContent("#amr"), /mfa/);
  await tab.click("#admin");
  await tab.waitForFunction(() => document.getElementById("api-answer").textContent.includes("\"admin\": true"));
  await shot(tab, "spa-after-mfa-step-up");

  // Logout clears memory and ends the session at Entra.
  await tab.click("#logout");
  await tab.waitForURL(`${urls.spa}/`);
  await waitFor(tab, "#signed-out:not([hidden])");
  await tab.close();
  covered([...Array.from({ length: 18 }, (_, i) => String(i + 21)), "browser-spa"], "reference_clients: SPA");
});

test("SPA: carol registers a passkey in Chrome's virtual authenticator, then signs in with it", async () => {
  const tab = await browser.newPage();
  const cdp = await browser.newCDPSession(tab);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const signIn = async () => {
    await tab.goto(`${urls.spa}/`);
    await tab.waitForSelector("body[data-ready=true]");
    await tab.click("#login");
    await tab.waitForSelector("#i0116");
    await tab.fill("#i0116", "carol@contoso.onmicrosoft.com");
    await tab.click("#idSIButton9");
    await tab.waitForSelector("#i0118");
    await tab.fill("#i0118", PASSWORD);
    await tab.click("#idSIButton9");
    await tab.waitForSelector("#webauthnOptions", { state: "attached" });
    return tab.getAttribute("#webauthnOptions", "data-ceremony");
  };
  // First sign-in: Entra asks her to create a passkey; the virtual authenticator makes one.
  assert.equal(await signIn(), "create");
  await tab.click("#idSIButton9");
  // Made, then used at once: Entra's registration ends with a sign-in by the new passkey.
  await tab.waitForSelector("#webauthnOptions[data-ceremony=get]", { state: "attached" });
  await tab.click("#idSIButton9");
  await tab.waitForURL(`${urls.spa}/`);
  await waitFor(tab, "#signed-in:not([hidden])");
  assert.equal(await tab.textContent("#user-name"), "Carol Example");
  assert.match(await tab.textContent("#amr"), /mfa/);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1, "one passkey, made by the virtual authenticator");
  assert.equal(credentials[0].rpId, "localhost");
  await tab.click("#logout");
  await tab.waitForURL(`${urls.spa}/`);
  await waitFor(tab, "#signed-out:not([hidden])");

  // Second sign-in: Entra asks for the passkey, the authenticator signs the challenge.
  assert.equal(await signIn(), "get");
  await tab.click("#idSIButton9");
  await tab.waitForURL(`${urls.spa}/`);
  await waitFor(tab, "#signed-in:not([hidden])");
  assert.match(await tab.textContent("#amr"), /mfa/);
  await shot(tab, "spa-carol-passkey");
  await tab.click("#logout");
  await tab.waitForURL(`${urls.spa}/`);
  await tab.close();
  covered(["carol-passkey", "browser-carol-passkey"], "reference_clients: SPA carol passkey");
});
