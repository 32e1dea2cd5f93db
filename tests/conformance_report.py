#!/usr/bin/env python3
"""Writes target/conformance.md: one line per seed step (1-38) and per variation, with the tests
that proved it (recorded by the suites in target/conformance/steps.jsonl as each proof passes) and
the mutation check's results (target/conformance/mutations.tsv). A step or variation no test
proved in this run is listed as NOT PROVEN. Run by tests/run-all.sh after the suites."""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIR = ROOT / "target" / "conformance"

STEPS = {
    "1": "browser → BFF: GET /protected without a session",
    "2": "BFF → browser: redirect to /authorize (code, scopes, state, nonce, PKCE S256)",
    "3": "browser → Entra: GET /authorize",
    "4": "Entra → user: sign-in and MFA pages",
    "5": "user → Entra: credentials",
    "6": "Entra → browser: redirect with the code",
    "7": "browser → BFF: callback with the code",
    "8": "BFF → Entra: code redeemed with the client secret",
    "9": "Entra → BFF: access, ID and refresh tokens",
    "10": "BFF → session store: tokens stored server-side",
    "11": "BFF → browser: session cookie (HttpOnly, SameSite=Strict)",
    "12": "browser → BFF: request with the cookie",
    "13": "BFF → session store: tokens read",
    "14": "BFF → JWKS: keys fetched",
    "15": "JWKS → BFF: key by kid, JWT verified",
    "16": "BFF → browser: the protected resource",
    "17": "BFF → Entra: refresh token request (access token expired)",
    "18": "Entra → BFF: new tokens (refresh token rotated)",
    "19": "BFF → session store: tokens updated",
    "20": "BFF → browser: the protected resource",
    "21": "user → SPA: sign-in clicked",
    "22": "SPA → browser: redirect to /authorize with PKCE",
    "23": "browser → Entra: GET /authorize",
    "24": "Entra → user: sign-in pages",
    "25": "user → Entra: credentials",
    "26": "Entra → browser: redirect with the code (fragment)",
    "27": "browser → SPA: the page reads the code",
    "28": "SPA → Entra: code redeemed cross-origin with code_verifier",
    "29": "Entra → SPA: access, ID and refresh tokens",
    "30": "SPA → API: bearer request",
    "31": "API → JWKS: keys fetched",
    "32": "JWKS → API: key by kid",
    "33": "API → SPA: the protected resource",
    "34": "SPA → Entra: refresh token request",
    "35": "Entra → SPA: new tokens",
    "36": "SPA → API: request with the new access token",
    "37": "API → JWKS: JWT verified (cached key)",
    "38": "API → SPA: the protected resource",
}

VARIATIONS = {
    "access-token-expired-refreshed": "access token expired: refreshed before the API call",
    "refresh-rotation": "refresh token rotated on every refresh",
    "refresh-reuse-detect": "under the detect policy, reuse of a rotated refresh token revokes the family",
    "refresh-refused-ends-session": "a refused refresh ends the BFF session (logged as possible theft)",
    "key-rollover": "signing key rolled over (publish, activate, retire), the API following by kid",
    "jwks-refetch-limit": "unknown kid: the JWKS refetched at most once per interval",
    "jwks-down-cache-then-fail-closed": "JWKS down and slow: known kids from the cache, then fail closed",
    "mfa-step-up": "MFA step-up through the API's claims challenge (BFF)",
    "api-claims-challenge": "the API's claims challenge in Entra's form",
    "presets-in-clients": "each fault preset surfacing correctly in each client",
    "logout": "logout ends the BFF session, the SSO session and (front-channel) the session by sid",
    "csrf-refused": "CSRF token missing or wrong: refused",
    "login-csrf": "a sign-in answer carried to another browser: refused (state bound to the browser)",
    "callback-refusals": "callback with an unknown state or an Entra error: refused, nothing stored",
    "api-refuses-defects": "tampered, expired, wrong-audience, wrong-issuer, alg none tokens refused by the API",
    "bob-totp": "bob signs in with TOTP",
    "carol-passkey": "carol signs in with a passkey (software authenticator)",
    "dave-enrols-totp": "dave enrols TOTP at first sign-in",
    "browser-bff": "browser: bob signs in to the BFF with TOTP, tasks, MFA call, logout",
    "browser-spa": "browser: alice in the SPA, tokens only in memory, refresh after the clock moves, MFA step-up, logout",
    "browser-carol-passkey": "browser: carol registers a passkey in Chrome's virtual authenticator and signs in with it (SPA)",
    "browser-msal": "browser: msal-browser loginRedirect, ssoSilent, logoutRedirect",
    "interop-python": "MSAL Python (auth code, silent refresh, client credentials with secret and certificate, claims challenge), azure-identity and Authlib (discovery, code flow with PKCE, ID token, c_hash and at_hash checks), PyJWT validating access tokens (broken tokens refused, key rollover)",
    "interop-node": "openid-client v6 (non-repudiation checks), oauth4webapi, msal-node and jose (access-token validation) over HTTPS with the local CA",
}


def main() -> int:
    proofs: dict[str, list[str]] = {}
    path = DIR / "steps.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            where = f"{rec.get('suite', '?')}: {rec.get('test', '?')}"
            proofs.setdefault(str(rec.get("id")), [])
            if where not in proofs[str(rec.get("id"))]:
                proofs[str(rec.get("id"))].append(where)

    out = ["# Conformance report", "",
           "Written by `tests/conformance_report.py` from the suites run by `tests/run-all.sh`.", ""]
    missing = 0

    def table(title: str, items: dict[str, str]) -> None:
        nonlocal missing
        out.extend([f"## {title}", "", "| | what | result | proved by |", "|---|---|---|---|"])
        for key, what in items.items():
            tests = proofs.get(key, [])
            if not tests:
                missing += 1
            result = "pass" if tests else "NOT PROVEN"
            out.append(f"| {key} | {what} | {result} | {'<br>'.join(tests) or '-'} |")
        out.append("")

    table("Seed steps", STEPS)
    table("Variations", VARIATIONS)

    mutations = DIR / "mutations.tsv"
    out.extend(["## Mutation check", ""])
    if mutations.exists():
        out.extend(["| mutation | result | tests that went red |", "|---|---|---|"])
        for line in mutations.read_text().splitlines():
            name, result, tests = (line.split("\t") + ["", ""])[:3]
            out.append(f"| {name} | {result} | {tests or '-'} |")
    else:
        out.append("Not run (`tests/mutations.sh`).")
    out.append("")
    out.append(f"{missing} of {len(STEPS) + len(VARIATIONS)} steps and variations not proven in this run.")
    (ROOT / "target" / "conformance.md").write_text("\n".join(out) + "\n")
    print(f"wrote target/conformance.md ({missing} not proven)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
