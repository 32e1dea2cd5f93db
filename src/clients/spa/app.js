// The reference SPA (steps 21-38 of the seed flow), plain JavaScript with no dependency.
// Tokens live in this closure only: never in localStorage, sessionStorage or cookies. Only the
// login transaction (PKCE verifier, state, nonce) crosses the redirect to Entra, in
// sessionStorage, and is deleted when the answer comes back (as MSAL.js does).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let cfg = null;
  let tokens = null; // { access, id, refresh, expiresAt, idClaims }

  function log(text) {
    const li = document.createElement("li");
    li.textContent = text;
    $("log").appendChild(li);
  }

  function fail(err) {
    const e = $("error");
    e.textContent = String(err && err.message ? err.message : err);
    e.hidden = false;
    log("error: " + e.textContent);
  }

  const b64url = (bytes) =>
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

  async function s256(verifier) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    return b64url(new Uint8Array(digest));
  }

  function decodeJwt(jwt) {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(part);
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  }

  const authority = () => `${cfg.authorityHost}/${cfg.tenantId}`;
  const scopes = () => `openid profile offline_access ${cfg.apiScope}`;

  // Steps 21-23: to Entra with PKCE S256, state and nonce; `claims` answers a claims challenge.
  async function login(claims) {
    const tx = { verifier: random(32), state: random(24), nonce: random(24) };
    sessionStorage.setItem("spa.login", JSON.stringify(tx));
    const params = new URLSearchParams({
      client_id: cfg.clientId,
      response_type: "code",
      redirect_uri: cfg.redirectUri,
      response_mode: "fragment",
      scope: scopes(),
      state: tx.state,
      nonce: tx.nonce,
      code_challenge: await s256(tx.verifier),
      code_challenge_method: "S256",
    });
    if (claims) params.set("claims", claims);
    log(`22) redirect to /authorize with PKCE S256${claims ? " and the claims challenge" : ""}`);
    location.assign(`${authority()}/oauth2/v2.0/authorize?${params}`);
  }

  async function tokenRequest(fields) {
    const body = new URLSearchParams({ client_id: cfg.clientId, scope: scopes(), ...fields });
    const res = await fetch(`${authority()}/oauth2/v2.0/token`, { method: "POST", body });
    const json = await res.json();
    if (!res.ok) {
      const err = new Error(`${json.error}: ${json.error_description}`);
      err.entra = json;
      throw err;
    }
    return json;
  }

  function keep(t) {
    tokens = {
      access: t.access_token,
      id: t.id_token || (tokens && tokens.id),
      refresh: t.refresh_token || (tokens && tokens.refresh),
      expiresAt: Math.floor(Date.now() / 1000) + Number(t.expires_in),
      idClaims: t.id_token ? decodeJwt(t.id_token) : tokens && tokens.idClaims,
    };
    render();
  }

  // Steps 27-29: the answer in the fragment, state checked, the code redeemed with the verifier.
  async function handleRedirect() {
    const p = new URLSearchParams(location.hash.slice(1));
    if (!p.has("code") && !p.has("error")) return;
    history.replaceState(null, "", location.pathname);
    const tx = JSON.parse(sessionStorage.getItem("spa.login") || "null");
    sessionStorage.removeItem("spa.login");
    if (!tx || p.get("state") !== tx.state) {
      throw new Error("state mismatch: this sign-in answer was not started by this page");
    }
    if (p.has("error")) throw new Error(`${p.get("error")}: ${p.get("error_description")}`);
    log("27) callback: code received, state matches");
    const t = await tokenRequest({
      grant_type: "authorization_code",
      code: p.get("code"),
      redirect_uri: cfg.redirectUri,
      code_verifier: tx.verifier,
    });
    // OIDC Core 3.1.3.7: a token received straight from the token endpoint over TLS may skip
    // the signature check; the claims are checked.
    const id = decodeJwt(t.id_token);
    const now = Math.floor(Date.now() / 1000);
    if (id.nonce !== tx.nonce) throw new Error("the ID token's nonce is not this sign-in's");
    if (id.aud !== cfg.clientId) throw new Error("the ID token is not for this app");
    if (id.iss !== `${authority()}/v2.0`) throw new Error("the ID token's issuer is not the tenant's");
    if (id.exp < now - 60) throw new Error(`the ID token has expired (exp ${id.exp}, now ${now})`);
    log("28-29) code redeemed cross-origin with the code verifier; ID token nonce, aud, iss checked");
    keep(t);
  }

  // Steps 34-35: a new access token (and a rotated refresh token) from the refresh token.
  async function refresh() {
    if (!tokens || !tokens.refresh) throw new Error("no refresh token: sign in again");
    const t = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh });
    log("34-35) access token refreshed; the refresh token was rotated");
    keep(t);
  }

  function challengeClaims(www) {
    if (!www.includes("insufficient_claims")) return null;
    const m = www.match(/claims="([^"]+)"/);
    return m ? atob(m[1]) : null;
  }

  // Steps 30-33 (and 36-38 after a refresh): the API with the bearer token.
  async function callApi(method, path, body, retried) {
    if (tokens.expiresAt - 60 < Math.floor(Date.now() / 1000)) {
      log("the access token has expired or is about to");
      await refresh();
    }
    const headers = { Authorization: `Bearer ${tokens.access}` };
    if (body) headers["Content-Type"] = "application/json";
    const res = await fetch(`${cfg.apiUrl}${path}`, {
      method,
      headers,
      body: body ? JSON.stringify(body) : undefined,
    });
    log(`${retried ? "36-38" : "30-33"}) ${method} ${path} with the bearer token: HTTP ${res.status}`);
    if (res.status === 401) {
      const claims = challengeClaims(res.headers.get("WWW-Authenticate") || "");
      if (claims) {
        log("the API sent a claims challenge: signing in again to satisfy it");
        await login(claims);
        return null;
      }
      if (!retried) {
        await refresh();
        return callApi(method, path, body, true);
      }
    }
    const answer = { status: res.status, body: await res.json().catch(() => null) };
    $("api-answer").textContent = JSON.stringify(answer, null, 2);
    return answer;
  }

  function logout() {
    const params = new URLSearchParams({ post_logout_redirect_uri: cfg.redirectUri });
    if (tokens && tokens.id) params.set("id_token_hint", tokens.id);
    if (tokens && tokens.idClaims && tokens.idClaims.login_hint) {
      params.set("logout_hint", tokens.idClaims.login_hint);
    }
    tokens = null;
    location.assign(`${authority()}/oauth2/v2.0/logout?${params}`);
  }

  function render() {
    $("signed-out").hidden = !!tokens;
    $("signed-in").hidden = !tokens;
    if (!tokens) return;
    const id = tokens.idClaims || {};
    const access = decodeJwt(tokens.access);
    $("user-name").textContent = id.name || "";
    $("user-username").textContent = id.preferred_username || "";
    $("amr").textContent = (access.amr || id.amr || []).join(", ");
    $("expires").textContent = new Date(tokens.expiresAt * 1000).toISOString();
    $("claims").textContent = JSON.stringify(access, null, 2);
  }

  const guarded = (f) => () => f().catch(fail);

  async function main() {
    cfg = await (await fetch("/config.json")).json();
    $("login").addEventListener("click", guarded(() => login(null)));
    $("load").addEventListener("click", guarded(() => callApi("GET", "/tasks")));
    $("add").addEventListener("click", guarded(async () => {
      const title = $("title").value.trim();
      if (!title) throw new Error("give a task title");
      await callApi("POST", "/tasks", { title });
      await callApi("GET", "/tasks");
    }));
    $("admin").addEventListener("click", guarded(() => callApi("POST", "/tasks/admin")));
    $("force-refresh").addEventListener("click", guarded(refresh));
    $("logout").addEventListener("click", logout);
    await handleRedirect();
    render();
    if (tokens) await callApi("GET", "/tasks");
  }

  document.addEventListener("DOMContentLoaded", () => {
    main()
      .catch(fail)
      .finally(() => {
        document.body.dataset.ready = "true";
      });
  });
})();
