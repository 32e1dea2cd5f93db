"""Interop: Authlib, a strict generic OpenID Connect client, against entra-mock's HTTPS listener
with nothing Entra-specific configured: the discovery document of the issuer, then the code
flow with PKCE and a nonce, its ID token checked the way Authlib's web-framework clients check it
(`OpenIDMixin.parse_id_token`: signature by the JWKS, `iss`, `aud`, `exp`, `nonce`), refresh,
RP-initiated logout, the hybrid and implicit responses (`c_hash`, `at_hash`), and app tokens by
client secret (basic and post) and by a private-key JWT.

The app object is what Authlib's Flask and Starlette integrations are made of (`BaseApp`,
`OAuth2Mixin`, `OpenIDMixin` over a `requests` session); like a real app it trusts the local CA
through `REQUESTS_CA_BUNDLE`.
"""

import base64
import hashlib
import ssl
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from authlib.integrations.base_client import BaseApp, FrameworkIntegration, OAuth2Mixin, OpenIDMixin, OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import HybridIDToken, ImplicitIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from entra_mock_interop import (
    ALICE,
    ALICE_OID,
    API,
    BFF,
    BFF_REDIRECT,
    BFF_SECRET,
    CERT_KEY,
    CERT_PEM,
    DAEMON,
    DAEMON_SECRET,
    GRAPH,
    TENANT,
    claims_of,
    sign_in,
)


class AuthlibApp(OAuth2Mixin, OpenIDMixin, BaseApp):
    client_cls = OAuth2Session


class Integration(FrameworkIntegration):
    """Keeps the tokens Authlib refreshes on its own, which Flask's integration signals to the app
    (`token_update`) so that it stores the rotated refresh token."""

    def __init__(self):
        super().__init__("entra")
        self.updates = []

    def update_token(self, token, refresh_token=None, access_token=None):
        self.updates.append({"token": token, "refresh_token": refresh_token})


def issuer(server):
    return f"{server.url}/{TENANT}/v2.0"


def authlib_app(server, monkeypatch, scope, **client_kwargs):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca)
    return AuthlibApp(
        Integration(),
        name="entra",
        client_id=BFF,
        client_secret=BFF_SECRET,
        server_metadata_url=f"{issuer(server)}/.well-known/openid-configuration",
        client_kwargs={"scope": scope, **client_kwargs},
    )


def checked_id_token(app, answer, nonce, claims_cls):
    """The ID token of an authorization response, checked as `OpenIDMixin.parse_id_token` checks
    it, with the code and the access token that came with it given to the claims' checks (which
    `parse_id_token` leaves out once a claims class is named)."""
    keys = KeySet.import_key_set(app.fetch_jwk_set())
    token = jwt.decode(answer["id_token"], keys, registry=JWSRegistry(algorithms=["RS256"], strict_check_header=False))
    claims = claims_cls(
        token.claims,
        token.header,
        {"iss": {"values": [app.server_metadata["issuer"]]}},
        {"nonce": nonce, "client_id": BFF, "access_token": answer.get("access_token"), "code": answer.get("code")},
    )
    claims.validate(leeway=120)
    return claims


def test_the_discovery_document_passes_authlibs_provider_metadata_checks_but_the_one_entra_fails(server):
    document = server.http().get(f"{issuer(server)}/.well-known/openid-configuration").json()
    metadata = OpenIDProviderMetadata(document)
    # Entra's v2.0 document lists private_key_jwt without the signing algorithms RFC 8414 section 2
    # then requires (https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration,
    # described in https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc); so does
    # entra-mock's. Every other check of OpenID Connect Discovery 1.0 section 3 and RFC 8414 passes.
    assert "token_endpoint_auth_signing_alg_values_supported" not in document
    with pytest.raises(ValueError, match="token_endpoint_auth_signing_alg_values_supported"):
        metadata.validate()
    checks = [n for n in dir(metadata) if n.startswith("validate_")]
    assert len(checks) > 20, checks
    for name in checks:
        if name != "validate_token_endpoint_auth_signing_alg_values_supported":
            getattr(metadata, name)()
    assert metadata["issuer"] == issuer(server)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_code_flow_with_pkce_refresh_and_logout_for_alice(server, monkeypatch, method):
    app = authlib_app(
        server,
        monkeypatch,
        "openid profile email offline_access",
        code_challenge_method="S256",
        token_endpoint_auth_method=method,
    )
    b = server.http()
    start = app.create_authorization_url(redirect_uri=BFF_REDIRECT)
    query = parse_qs(urlparse(start["url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] == [start["nonce"]]

    answer = sign_in(b, start["url"])
    assert answer["state"] == start["state"], answer
    token = app.fetch_access_token(
        redirect_uri=BFF_REDIRECT,
        authorization_response=f"{BFF_REDIRECT}?{urlencode(answer)}",
        state=start["state"],
        code_verifier=start["code_verifier"],
    )
    user = app.parse_id_token(token, nonce=start["nonce"])
    assert user["iss"] == issuer(server) and user["aud"] == BFF
    assert user["oid"] == ALICE_OID and user["preferred_username"] == ALICE
    with pytest.raises(Exception, match="nonce"):
        app.parse_id_token(token, nonce="not-the-nonce-of-this-sign-in")
    assert claims_of(token["access_token"])["aud"] == GRAPH

    # Given an expired token, Authlib refreshes it before the call, tells the app the rotated
    # refresh token, and the userinfo endpoint takes the new Microsoft Graph token.
    info = app.userinfo(token=dict(token, expires_at=int(time.time()) - 60))
    assert info["sub"] == user["sub"] and info["name"] == user["name"]
    [update] = app.framework.updates
    assert update["refresh_token"] == token["refresh_token"]
    assert update["token"]["refresh_token"] != token["refresh_token"]
    assert claims_of(update["token"]["access_token"])["oid"] == ALICE_OID
    assert app.parse_id_token(update["token"], nonce=None)["sub"] == user["sub"]

    # The browser's session answers `prompt=none` until the logout Authlib builds ends it.
    silent = app.create_authorization_url(redirect_uri=BFF_REDIRECT, prompt="none")
    assert "code" in sign_in(b, silent["url"])
    logout = app.create_logout_url(post_logout_redirect_uri=BFF_REDIRECT, id_token_hint=token["id_token"])
    page = b.get(logout["url"], allow_redirects=False)
    assert page.status_code == 200, page.text
    assert f'href="{BFF_REDIRECT}?state={logout["state"]}"' in page.text
    silent = app.create_authorization_url(redirect_uri=BFF_REDIRECT, prompt="none")
    refused = sign_in(b, silent["url"])
    assert refused["error"] == "login_required", refused
    assert refused["state"] == silent["state"]


@pytest.mark.parametrize("response_type,claims_cls", [("code id_token", HybridIDToken), ("id_token token", ImplicitIDToken)])
def test_authlib_checks_c_hash_and_at_hash_of_the_hybrid_and_implicit_responses(
    server_implicit_grants, monkeypatch, response_type, claims_cls
):
    server = server_implicit_grants
    app = authlib_app(server, monkeypatch, "openid profile email")
    start = app.create_authorization_url(
        redirect_uri=BFF_REDIRECT, response_type=response_type, response_mode="form_post"
    )
    answer = sign_in(server.http(), start["url"])
    assert answer["state"] == start["state"], answer
    # HybridIDToken requires c_hash and checks it against the code; ImplicitIDToken requires at_hash
    # when an access token came with the ID token, and checks it.
    user = checked_id_token(app, answer, start["nonce"], claims_cls)
    assert user["oid"] == ALICE_OID
    if response_type == "code id_token":
        assert "c_hash" in user and "at_hash" not in user
        other = dict(answer, code=answer["code"] + "x")
        with pytest.raises(Exception, match="c_hash"):
            checked_id_token(app, other, start["nonce"], claims_cls)
    else:
        assert "at_hash" in user
        other = dict(answer, access_token=answer["access_token"] + "x")
        with pytest.raises(Exception, match="at_hash"):
            checked_id_token(app, other, start["nonce"], claims_cls)
        # The implicit access token is for Microsoft Graph, so the userinfo endpoint takes it.
        info = app.userinfo(token={"access_token": answer["access_token"], "token_type": "Bearer"})
        assert info["sub"] == user["sub"]


def app_session(server, monkeypatch, client_id, secret, method):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca)
    return OAuth2Session(client_id, secret, scope=f"api://{API}/.default", token_endpoint_auth_method=method)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_client_credentials_by_secret_and_a_wrong_secret(server, monkeypatch, method):
    token_endpoint = f"{server.authority}/oauth2/v2.0/token"
    token = app_session(server, monkeypatch, DAEMON, DAEMON_SECRET, method).fetch_token(
        token_endpoint, grant_type="client_credentials"
    )
    claims = claims_of(token["access_token"])
    assert claims["aud"] == API and claims["roles"] == ["Tasks.ReadWrite.All"] and claims["idtyp"] == "app"
    with pytest.raises(OAuthError) as refused:
        app_session(server, monkeypatch, DAEMON, "wrong", method).fetch_token(
            token_endpoint, grant_type="client_credentials"
        )
    assert refused.value.error == "invalid_client"
    assert refused.value.description.startswith("AADSTS7000215:")


def test_authlib_private_key_jwt_with_the_certificates_x5t_s256_twice(server, monkeypatch):
    token_endpoint = f"{server.authority}/oauth2/v2.0/token"
    thumbprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(CERT_PEM)).digest()
    x5t_s256 = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    auth = PrivateKeyJWT(token_endpoint, headers={"x5t#S256": x5t_s256}, alg="RS256")
    session = app_session(server, monkeypatch, BFF, CERT_KEY, auth)
    for _ in range(2):
        token = session.fetch_token(token_endpoint, grant_type="client_credentials")
        claims = claims_of(token["access_token"])
        assert claims["aud"] == API and claims["azp"] == BFF and claims["azpacr"] == "2"
    # Without a thumbprint Entra cannot tell which of the app's certificates signed: AADSTS700027.
    bare = app_session(server, monkeypatch, BFF, CERT_KEY, PrivateKeyJWT(token_endpoint, alg="RS256"))
    with pytest.raises(OAuthError) as refused:
        bare.fetch_token(token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client", refused.value
    assert refused.value.description.startswith("AADSTS700027:"), refused.value.description
