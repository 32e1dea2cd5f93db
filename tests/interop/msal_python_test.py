"""Interop: the real MSAL Python and azure-identity libraries against entra-mock's HTTPS listener
(the server and the sign-in driver: entra_mock_interop.py), with `instance_discovery=False`:
client credentials with a secret, a certificate and a federated credential, the auth-code flow
and a forced silent refresh, claims challenges, on-behalf-of, the device code flow, workload
identity and managed identity.
"""

import base64
import json
import os
import subprocess
import time
from urllib.parse import urljoin

import msal
import pytest

from entra_mock_interop import (
    ALICE,
    ALICE_OID,
    API,
    API_SCOPE,
    BFF,
    BFF_REDIRECT,
    BFF_SECRET,
    BOB,
    CERT_KEY,
    CERT_PEM,
    DAEMON,
    DAEMON_SECRET,
    GRAPH,
    PASSWORD,
    TENANT,
    Forms,
    claims_of,
    fill,
    sign_in,
)


def confidential_app(server, client_id, credential):
    """An MSAL confidential client of the built-in tenant, as README's "Pointing clients at it" sets
    one up: no instance discovery, the local CA trusted."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=server.authority,
        instance_discovery=False,
        http_client=server.http(),
    )


def public_app(server, client_id, **kwargs):
    return msal.PublicClientApplication(
        client_id, authority=server.authority, instance_discovery=False, http_client=server.http(), **kwargs
    )


def test_client_credentials_for_daemon(server):
    app = confidential_app(server, DAEMON, DAEMON_SECRET)
    result = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    claims = claims_of(result["access_token"])
    assert claims["aud"] == API
    assert claims["iss"] == f"{server.authority}/v2.0"
    assert claims["roles"] == ["Tasks.ReadWrite.All"]
    assert claims["idtyp"] == "app"
    assert "scp" not in claims

    # MSAL caches app tokens: the second call is served from its cache.
    again = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert again["access_token"] == result["access_token"]


def sha1_thumbprint_hex():
    import hashlib
    import ssl

    return hashlib.sha1(ssl.PEM_cert_to_DER_cert(CERT_PEM)).hexdigest()


def test_private_key_jwt_ps256_with_x5t_s256_from_the_public_certificate(server):
    # Given the certificate, MSAL signs PS256 with x5t#S256.
    app = confidential_app(server, BFF, {"private_key": CERT_KEY, "public_certificate": CERT_PEM})
    result = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["azpacr"] == "2"


def test_private_key_jwt_rs256_with_x5t_from_a_sha1_thumbprint(server):
    # Given a SHA-1 thumbprint, MSAL signs RS256 with x5t (base64url with padding).
    app = confidential_app(server, BFF, {"private_key": CERT_KEY, "thumbprint": sha1_thumbprint_hex()})
    result = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["azpacr"] == "2"


def test_msal_gets_two_tokens_in_a_row_with_its_cached_client_assertion(server):
    # MSAL Python re-sends one cached client assertion (same jti) for several minutes; Entra, and
    # entra-mock by default, accept it.
    app = confidential_app(server, BFF, {"private_key": CERT_KEY, "public_certificate": CERT_PEM})
    first = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert "access_token" in first, first
    second = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in second, second


def test_azure_identity_certificate_credential_gets_two_tokens_in_a_row(server, tmp_path):
    # azure-identity takes the authority host with its port, and no instance discovery.
    from azure.identity import CertificateCredential

    pem = tmp_path / "bff.pem"
    pem.write_text(CERT_KEY + "\n" + CERT_PEM)
    credential = CertificateCredential(
        TENANT,
        BFF,
        certificate_path=str(pem),
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=server.ca,
    )
    first = credential.get_token(f"api://{API}/.default")
    second = credential.get_token("https://graph.microsoft.com/.default")
    assert claims_of(first.token)["aud"] == API
    assert claims_of(second.token)["aud"] == "00000003-0000-0000-c000-000000000000"
    assert first.expires_on > time.time()


def test_azure_identity_client_secret_credential_gets_an_app_token(server):
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        TENANT,
        DAEMON,
        DAEMON_SECRET,
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=server.ca,
    )
    token = credential.get_token(f"api://{API}/.default")
    claims = claims_of(token.token)
    assert claims["aud"] == API
    assert claims["roles"] == ["Tasks.ReadWrite.All"]
    assert claims["idtyp"] == "app"
    wrong = ClientSecretCredential(
        TENANT, DAEMON, "wrong", authority=server.url, disable_instance_discovery=True,
        connection_verify=server.ca,
    )
    try:
        wrong.get_token(f"api://{API}/.default")
        raise AssertionError("a wrong secret must be refused")
    except Exception as e:  # azure.identity raises ClientAuthenticationError
        assert "AADSTS7000215" in str(e), e


def test_the_strict_single_use_rule_refuses_msals_cached_assertion(server_single_use_assertions):
    # Under `mock.clientAssertionReuse = "reject"` (strict RFC 7523) the re-sent assertion fails.
    app = confidential_app(
        server_single_use_assertions, BFF, {"private_key": CERT_KEY, "public_certificate": CERT_PEM}
    )
    first = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert "access_token" in first, first
    second = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert second.get("error") == "invalid_client", second
    assert 700027 in second.get("error_codes", []), second


def test_auth_code_flow_for_alice_then_forced_silent_refresh(server):
    app = confidential_app(server, BFF, BFF_SECRET)
    flow = app.initiate_auth_code_flow(scopes=[API_SCOPE], redirect_uri=BFF_REDIRECT)
    auth_response = sign_in(server.http(), flow["auth_uri"])

    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == ALICE_OID
    assert result["id_token_claims"]["preferred_username"] == ALICE
    assert claims_of(result["access_token"])["scp"] == "access_as_user"
    assert "refresh_token" in result

    accounts = app.get_accounts(username=ALICE)
    assert len(accounts) == 1
    assert accounts[0]["home_account_id"] == f"{ALICE_OID}.{TENANT}"

    refreshed = app.acquire_token_silent([API_SCOPE], account=accounts[0], force_refresh=True)
    assert refreshed and "access_token" in refreshed, refreshed
    assert refreshed["access_token"] != result["access_token"]
    assert claims_of(refreshed["access_token"])["oid"] == ALICE_OID



def test_a_desktop_app_signs_in_on_a_loopback_port_and_refreshes_as_a_public_client(server_desktop_redirect):
    """MSAL's public client on `http://localhost:{port}`: the app's `http://localhost` under
    `publicClient` matches any port, and a code sent there is redeemed without the app's secret
    (the client type is the redirect URI's platform, not the app's)."""
    server = server_desktop_redirect
    app = public_app(server, BFF)
    redirect = "http://localhost:54321"
    flow = app.initiate_auth_code_flow(scopes=[API_SCOPE], redirect_uri=redirect)
    auth_response = sign_in(server.http(), flow["auth_uri"], redirect=redirect)
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == ALICE_OID
    account = app.get_accounts(username=ALICE)[0]
    refreshed = app.acquire_token_silent([API_SCOPE], account=account, force_refresh=True)
    assert refreshed and "access_token" in refreshed, refreshed
    # The same app's web redirect URI still needs the secret.
    web = public_app(server, BFF)
    flow = web.initiate_auth_code_flow(scopes=[API_SCOPE], redirect_uri=BFF_REDIRECT)
    refused = web.acquire_token_by_auth_code_flow(flow, sign_in(server.http(), flow["auth_uri"]))
    assert refused.get("error") == "invalid_client", refused
    assert 7000218 in refused.get("error_codes", []), refused


def test_a_default_scope_asks_the_registered_permissions_and_an_unregistered_api_is_650057(server_static_consent):
    """`{resource}/.default` with nothing consented: the consent page asks for the app's API
    permissions (`requiredResourceAccess`) and MSAL gets the token; for an API the app does not
    register, Entra's AADSTS650057 comes back to the redirect URI and MSAL hands it over."""
    server = server_static_consent
    app = confidential_app(server, BFF, BFF_SECRET)
    flow = app.initiate_auth_code_flow(scopes=["api://notes.contoso/.default"], redirect_uri=BFF_REDIRECT)
    result = app.acquire_token_by_auth_code_flow(flow, sign_in(server.http(), flow["auth_uri"]))
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["aud"] == "api://notes.contoso", claims
    assert claims["scp"] == "Notes.Read", claims
    flow = app.initiate_auth_code_flow(scopes=["api://reports.contoso/.default"], redirect_uri=BFF_REDIRECT)
    refused = app.acquire_token_by_auth_code_flow(flow, sign_in(server.http(), flow["auth_uri"]))
    assert refused.get("error") == "invalid_client", refused
    assert refused["error_description"].startswith("AADSTS650057: Invalid resource."), refused


def token_requests(server):
    """The ids of bff's requests to the token endpoint in the request log."""
    r = server.http().get(f"{server.url}/_mock/requests", params={"endpoint": "token", "client_id": BFF})
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["requests"]]


@pytest.mark.parametrize(
    "scope",
    ["https://graph.microsoft.com/User.Read", f"api://{API}/.default", API_SCOPE],
)
def test_msal_answers_silent_calls_from_its_cache_after_an_auth_code_sign_in(server, scope):
    """MSAL finds a cached access token by the response's `scope`: Entra names each scope as the
    request did (a URL prefix stays, `.default` is echoed), so the next calls need no request."""
    app = confidential_app(server, BFF, BFF_SECRET)
    flow = app.initiate_auth_code_flow(scopes=[scope], redirect_uri=BFF_REDIRECT)
    result = app.acquire_token_by_auth_code_flow(flow, sign_in(server.http(), flow["auth_uri"]))
    assert "access_token" in result, result
    account = app.get_accounts(username=ALICE)[0]
    before = token_requests(server)

    for _ in range(2):
        again = app.acquire_token_silent([scope], account=account)
        assert again and again["access_token"] == result["access_token"], again
        assert again["token_source"] == "cache", again
    assert token_requests(server) == before, "no new POST to the token endpoint"



def test_mfa_required_preset_surfaces_as_a_claims_challenge_and_an_mfa_sign_in_answers_it(server):
    """Conditional Access demanding MFA, rehearsed with `POST /_mock/faults {"preset": "mfa-required"}`:
    MSAL's silent refresh returns Entra's claims challenge; an interactive sign-in with
    `claims_challenge` and the one-time code gets tokens with `mfa` in `amr`."""
    control = server.http()
    app = confidential_app(server, BFF, BFF_SECRET)

    def otp():
        r = control.get(f"{server.url}/_mock/users/{BOB}/totp")
        assert r.status_code == 200, r.text
        return r.json()["code"]

    flow = app.initiate_auth_code_flow(scopes=[API_SCOPE], redirect_uri=BFF_REDIRECT)
    first = app.acquire_token_by_auth_code_flow(flow, sign_in(server.http(), flow["auth_uri"], BOB, otp))
    assert "access_token" in first, first
    account = app.get_accounts(username=BOB)[0]

    rule = control.post(
        f"{server.url}/_mock/faults",
        json={"endpoint": "token", "preset": "mfa-required", "client_id": BFF},
    )
    assert rule.status_code == 201, rule.text
    try:
        refused = app.acquire_token_silent_with_error([API_SCOPE], account=account, force_refresh=True)
        assert refused["error"] == "invalid_grant", refused
        assert 50076 in refused["error_codes"], refused
        assert refused["suberror"] == "basic_action", refused
        challenge = refused["claims"]
        assert json.loads(challenge)["access_token"]["amr"]["values"] == ["mfa"]

        # The one-time code of the first sign-in is spent: wait for the next window by the
        # virtual clock.
        control.post(f"{server.url}/_mock/clock", json={"advance": 30})
        flow = app.initiate_auth_code_flow(
            scopes=[API_SCOPE], redirect_uri=BFF_REDIRECT, claims_challenge=challenge
        )
        assert "claims=" in flow["auth_uri"]
        answered = app.acquire_token_by_auth_code_flow(
            flow, sign_in(server.http(), flow["auth_uri"], BOB, otp)
        )
        assert "access_token" in answered, answered
        assert "mfa" in claims_of(answered["access_token"])["amr"]
    finally:
        control.delete(f"{server.url}/_mock/faults")
        control.delete(f"{server.url}/_mock/clock")


SPA = "11112222-bbbb-3333-cccc-4444dddd5555"
API_SECRET = "api-secret-local-dev-only"


def alice_token_for_api(server):
    """alice's access token for `api`, by MSAL's username/password flow on the public `spa` app.

    MSAL Python first asks `https://{host}/common/userrealm/...` with the authority's port
    dropped (port 443); a host it has marked as having no user-realm endpoint is not asked. On
    a port of its own, entra-mock's host is marked so (README, "Username and password")."""
    msal.authority.Authority._domains_without_user_realm_discovery.add("localhost")
    spa = public_app(server, SPA)
    result = spa.acquire_token_by_username_password(ALICE, PASSWORD, scopes=[API_SCOPE])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["aud"] == API
    return result["access_token"]


def test_msal_on_behalf_of_exchanges_alices_token_for_a_graph_token(server):
    incoming = alice_token_for_api(server)
    api = confidential_app(server, API, API_SECRET)
    result = api.acquire_token_on_behalf_of(incoming, scopes=["https://graph.microsoft.com/User.Read"])
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["aud"] == GRAPH
    assert claims["oid"] == ALICE_OID
    assert "User.Read" in claims["scp"]
    # A scope the middle tier holds no consent for: Entra's error, as MSAL reports it.
    refused = api.acquire_token_on_behalf_of(
        incoming, scopes=["https://graph.microsoft.com/Mail.Read"]
    )
    assert refused.get("error") == "invalid_grant", refused
    assert 65001 in refused.get("error_codes", []), refused


def test_azure_identity_on_behalf_of_credential(server):
    from azure.identity import OnBehalfOfCredential

    credential = OnBehalfOfCredential(
        TENANT,
        API,
        client_secret=API_SECRET,
        user_assertion=alice_token_for_api(server),
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=server.ca,
    )
    token = credential.get_token("https://graph.microsoft.com/User.Read")
    claims = claims_of(token.token)
    assert claims["aud"] == GRAPH
    assert claims["oid"] == ALICE_OID


def device_sign_in(browser, verification_uri, user_code, user=ALICE):
    """The person of the device code flow: opens the verification URI, types the user code,
    confirms the app and signs in through the pages until entra-mock says the device is signed in."""
    page = browser.get(verification_uri, allow_redirects=False)
    assert page.status_code == 200 and 'name="otc"' in page.text, page.text[:500]
    res = browser.post(verification_uri, data={"otc": user_code}, allow_redirects=False)
    for _ in range(20):
        if res.is_redirect:
            res = browser.get(urljoin(res.url, res.headers["Location"]), allow_redirects=False)
            continue
        assert res.status_code == 200, f"{res.status_code} at {res.url}: {res.text[:500]}"
        if "You have signed in to the" in res.text:
            return
        parser = Forms()
        parser.feed(res.text)
        assert parser.forms, f"no form on {res.url}: {res.text[:500]}"
        form = parser.forms[0]
        res = browser.post(urljoin(res.url, form["action"]), data=fill(form, user), allow_redirects=False)
    pytest.fail("the device sign-in did not finish in 20 steps")


def test_msal_device_flow_with_the_code_entered_by_a_test_driver(server):
    app = public_app(server, SPA)
    flow = app.initiate_device_flow(scopes=[API_SCOPE])
    assert "user_code" in flow, flow
    assert flow["verification_uri"] == f"{server.url}/devicelogin"
    assert flow["user_code"] in flow["message"]
    device_sign_in(server.http(), flow["verification_uri"], flow["user_code"])
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["oid"] == ALICE_OID
    assert result["id_token_claims"]["preferred_username"] == ALICE
    # MSAL keeps the account: a silent call answers from its cache or with the refresh token.
    accounts = app.get_accounts(username=ALICE)
    assert accounts
    again = app.acquire_token_silent([API_SCOPE], account=accounts[0], force_refresh=True)
    assert again and "access_token" in again, again


def test_azure_identity_device_code_credential(server):
    from azure.identity import DeviceCodeCredential

    def prompt(verification_uri, user_code, expires_on):
        device_sign_in(server.http(), verification_uri, user_code)

    credential = DeviceCodeCredential(
        client_id=SPA,
        tenant_id=TENANT,
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=server.ca,
        prompt_callback=prompt,
    )
    token = credential.get_token(API_SCOPE)
    claims = claims_of(token.token)
    assert claims["aud"] == API
    assert claims["oid"] == ALICE_OID


def test_msal_cae_client_gets_graphs_claims_challenge_after_revocation(server):
    """MSAL's clientCapabilities ["cp1"]: the Graph token carries xms_cc; once alice's sessions
    are revoked, /oidc/userinfo (Graph's stand-in) answers 401 with a claims challenge, and MSAL
    passing it on gets the revoked grant's error (interactive sign-in needed)."""
    msal.authority.Authority._domains_without_user_realm_discovery.add("localhost")
    app = public_app(server, SPA, client_capabilities=["cp1"])
    result = app.acquire_token_by_username_password(ALICE, PASSWORD, scopes=["User.Read"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["xms_cc"] == ["cp1"]
    http = server.http()
    userinfo = lambda: http.get(f"{server.url}/oidc/userinfo",
                                headers={"Authorization": "Bearer " + result["access_token"]})
    assert userinfo().status_code == 200
    revoked = http.post(f"{server.url}/_mock/users/{ALICE}/revokeSignInSessions")
    assert revoked.status_code == 200, revoked.text
    challenged = userinfo()
    assert challenged.status_code == 401
    header = challenged.headers["WWW-Authenticate"]
    assert 'error="insufficient_claims"' in header, header
    claims = base64.b64decode(header.split('claims="')[1].rstrip('"')).decode()
    assert json.loads(claims)["access_token"]["nbf"]["essential"] is True
    account = app.get_accounts(username=ALICE)[0]
    again = app.acquire_token_silent_with_error(["User.Read"], account, claims_challenge=claims)
    assert again and again.get("error") == "invalid_grant", again
    assert 50173 in again.get("error_codes", []), again


FEDERATED_SUBJECT = "repo:contoso/app:ref:refs/heads/main"


def ci_token(server, subject=FEDERATED_SUBJECT):
    """A token of entra-mock's test issuer, as a CI job's OIDC token."""
    res = server.http().post(f"{server.url}/_mock/federation/token", json={"subject": subject})
    assert res.status_code == 200, res.text
    return res.json()["token"]


def test_msal_client_credentials_with_a_federated_credential(server):
    app = confidential_app(server, DAEMON, {"client_assertion": lambda: ci_token(server)})
    result = app.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["roles"] == ["Tasks.ReadWrite.All"]
    pull_request = {"client_assertion": lambda: ci_token(server, "repo:contoso/app:pull_request")}
    wrong = confidential_app(server, DAEMON, pull_request)
    result = wrong.acquire_token_for_client(scopes=[f"api://{API}/.default"])
    assert 700213 in result.get("error_codes", []), result


WI_SCRIPT = """
import base64, json, sys
from azure.identity import DefaultAzureCredential, WorkloadIdentityCredential
credential = WorkloadIdentityCredential() if sys.argv[1] == "workload" else DefaultAzureCredential()
token = credential.get_token(sys.argv[2]).token
payload = token.split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))))
"""


def test_azure_identity_workload_identity_with_environment_variables_only(server, tmp_path):
    """WorkloadIdentityCredential and DefaultAzureCredential as a pod or CI job runs them:
    AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST."""
    import sys

    token_file = tmp_path / "federated-token"
    token_file.write_text(ci_token(server) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env.update({
        "AZURE_CLIENT_ID": DAEMON,
        "AZURE_TENANT_ID": TENANT,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": server.url,
        "REQUESTS_CA_BUNDLE": server.ca,
    })
    for kind in ("workload", "default"):
        out = subprocess.run(
            [sys.executable, "-c", WI_SCRIPT, kind, f"api://{API}/.default"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, out.stderr
        claims = json.loads(out.stdout.strip().splitlines()[-1])
        assert claims["azp"] == DAEMON, claims
        assert claims["roles"] == ["Tasks.ReadWrite.All"], claims


MI_SCRIPT = """
import base64, json, sys
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
kind, resource = sys.argv[1], sys.argv[2]
if kind == "default":
    credential = DefaultAzureCredential()
elif kind == "user-assigned":
    credential = ManagedIdentityCredential(client_id=sys.argv[3])
else:
    credential = ManagedIdentityCredential()
token = credential.get_token(resource + "/.default").token
payload = token.split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))))
"""


def managed_identity_claims(server, env, *args):
    """azure-identity in a process of its own, configured by environment variables only, as
    code running in Azure is; REQUESTS_CA_BUNDLE trusts entra-mock's CA."""
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    clean.update(env)
    clean["REQUESTS_CA_BUNDLE"] = server.ca
    out = subprocess.run(
        [sys.executable, "-c", MI_SCRIPT, *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])



def test_azure_identity_managed_identity_on_the_app_service_protocol(server):
    env = {
        "IDENTITY_ENDPOINT": f"{server.url}/msi/token",
        "IDENTITY_HEADER": "identity-header-local-dev-only",
    }
    for kind in ("managed", "default"):
        claims = managed_identity_claims(server, env, kind, f"api://{API}")
        assert claims["aud"] == API, claims
        assert claims["azp"] == "44445555-eeee-6666-ffff-7777aaaa8888", claims
        assert claims["roles"] == ["Tasks.ReadWrite.All"], claims


def test_azure_identity_managed_identity_on_imds_for_a_user_assigned_identity(server):
    env = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": server.url}
    claims = managed_identity_claims(
        server, env, "user-assigned", "https://graph.microsoft.com",
        "66667777-aaaa-8888-bbbb-9999cccc0000",
    )
    assert claims["aud"] == GRAPH, claims
    # Graph's tokens are v1: the client is `appid`.
    assert claims["appid"] == "66667777-aaaa-8888-bbbb-9999cccc0000", claims
