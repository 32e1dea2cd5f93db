"""The resource-server side in Python: PyJWT's PyJWKClient validates entra-mock's access tokens as a
Python API validates Entra's (the key found by `kid` in the key set that the discovery document's
`jwks_uri` names, RS256 only, `aud`, `iss`, `exp` and `nbf`), refuses each of the test-control
API's broken tokens (`POST /_mock/tokens` with a `defect`) for its own reason, and follows a
signing-key rollover (`POST /_mock/keys/rotate`) by fetching the key set again on a new `kid`.
"""

import ssl

import jwt
import pytest

from entra_mock_interop import ALICE, API, API_SCOPE, BFF, start_server, stop_server


@pytest.fixture
def own_server():
    """A server of the test's own: the rollover changes the keys every test of it sees."""
    s = start_server()
    yield s
    stop_server(s)


def mint(server, defect=None):
    body = {"type": "access", "client_id": BFF, "user": ALICE, "scope": API_SCOPE}
    if defect:
        body["defect"] = defect
    r = server.http().post(f"{server.url}/_mock/tokens", json=body)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def rotate(server, phase):
    r = server.http().post(f"{server.url}/_mock/keys/rotate", json={"phase": phase})
    assert r.status_code == 200, r.text


class Api:
    """What a Python API keeps: the issuer and a PyJWKClient on the `jwks_uri` of the tenant's
    discovery document, trusting entra-mock's CA. `cooldown_duration=0`: PyJWT's default waits 30
    seconds after a fetch before it fetches again for an unknown `kid`."""

    def __init__(self, server, cooldown_duration=0):
        config = server.http().get(f"{server.authority}/v2.0/.well-known/openid-configuration").json()
        self.issuer = config["issuer"]
        self.keys = jwt.PyJWKClient(
            config["jwks_uri"],
            ssl_context=ssl.create_default_context(cafile=server.ca),
            cooldown_duration=cooldown_duration,
        )

    def validate(self, token):
        return jwt.decode(
            token,
            self.keys.get_signing_key_from_jwt(token),
            algorithms=["RS256"],
            audience=API,
            issuer=self.issuer,
            options={"require": ["exp", "nbf", "iat", "iss", "aud"]},
        )


@pytest.mark.parametrize(
    "defect, refusal",
    [
        ("expired", jwt.ExpiredSignatureError),
        ("not-yet-valid", jwt.ImmatureSignatureError),
        ("wrong-audience", jwt.InvalidAudienceError),
        ("wrong-issuer", jwt.InvalidIssuerError),
        ("wrong-tenant", jwt.InvalidIssuerError),
        ("unknown-kid", jwt.PyJWKClientError),
        ("bad-signature", jwt.InvalidSignatureError),
        # No `kid`: no key of the set is its key.
        ("alg-none", jwt.PyJWKClientError),
        ("hs256-with-public-key", jwt.InvalidAlgorithmError),
    ],
)
def test_pyjwt_accepts_the_good_token_and_refuses_each_broken_one_for_its_reason(server, defect, refusal):
    api = Api(server)
    claims = api.validate(mint(server))
    assert claims["aud"] == API and claims["scp"] == "access_as_user" and claims["azp"] == BFF
    with pytest.raises(refusal):
        api.validate(mint(server, defect))


def test_a_token_without_scope_or_roles_passes_pyjwt_for_the_api_to_refuse(server):
    claims = Api(server).validate(mint(server, "missing-scope"))
    assert "scp" not in claims and "roles" not in claims


def test_pyjwt_follows_a_signing_key_rollover_and_refuses_retired_keys(own_server):
    api = Api(own_server)
    first = mint(own_server)
    api.validate(first)
    first_kid = jwt.get_unverified_header(first)["kid"]

    # publish, activate: the new key signs; its kid, unknown to the cached set, makes PyJWT fetch
    # the set again. The old key's tokens still validate: it stays published as `previous`.
    rotate(own_server, "publish")
    rotate(own_server, "activate")
    second = mint(own_server)
    assert jwt.get_unverified_header(second)["kid"] != first_kid
    assert api.validate(second)["aud"] == API
    api.validate(first)

    # retire: the old key leaves the set, and an API that fetches it anew refuses its tokens.
    rotate(own_server, "retire")
    fresh = Api(own_server)
    with pytest.raises(jwt.PyJWKClientError):
        fresh.validate(first)
    with pytest.raises(jwt.PyJWKClientError):
        fresh.validate(mint(own_server, "retired-key"))
    fresh.validate(second)

    # roll-now (an emergency rollover): the new key at once, the old one gone. With PyJWT's
    # default cooldown, an API that has just fetched the set refuses the new kid for 30 seconds.
    rotate(own_server, "roll-now")
    third = mint(own_server)
    cooling = Api(own_server, cooldown_duration=30)
    cooling.validate(mint(own_server))
    rotate(own_server, "roll-now")
    with pytest.raises(jwt.PyJWKClientError):
        cooling.validate(mint(own_server))
    assert fresh.validate(mint(own_server))["aud"] == API
    with pytest.raises(jwt.PyJWKClientError):
        Api(own_server).validate(third)
