"""The servers the Python interop tests run against (one per module that asks for it), and a line
in target/conformance/steps.jsonl when the suite passed, for the conformance report
(tests/conformance_report.py)."""

import json
import pathlib

import pytest

from entra_mock_interop import builtin_tenant_with, start_server, stop_server


@pytest.fixture(scope="module")
def server():
    s = start_server()
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def server_single_use_assertions(tmp_path_factory):
    """The built-in tenant with `bff` set to the strict RFC 7523 rule (a jti is single use)."""
    anchor = 'passwordCredentials = [{ secretText = "bff-secret-local-dev-only"'
    path = builtin_tenant_with(
        tmp_path_factory.mktemp("fixtures"), anchor, 'mock = { clientAssertionReuse = "reject" }\n' + anchor
    )
    s = start_server("--fixtures", str(path))
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def server_implicit_grants(tmp_path_factory):
    """The built-in tenant with `bff` allowed ID tokens and access tokens from the authorization
    endpoint (its `implicitGrantSettings`), for the hybrid and implicit responses."""
    logout = 'logoutUrl = "http://localhost:5001/auth/frontchannel-logout" }'
    path = builtin_tenant_with(
        tmp_path_factory.mktemp("fixtures"),
        logout,
        logout[:-2]
        + ", implicitGrantSettings = { enableIdTokenIssuance = true, enableAccessTokenIssuance = true } }",
    )
    s = start_server("--fixtures", str(path))
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def server_desktop_redirect(tmp_path_factory):
    """The built-in tenant with `bff` also registered for a desktop client: `http://localhost`
    under `publicClient` ("Mobile and desktop applications")."""
    logout = 'logoutUrl = "http://localhost:5001/auth/frontchannel-logout" }'
    path = builtin_tenant_with(
        tmp_path_factory.mktemp("fixtures"),
        logout,
        logout + '\npublicClient = { redirectUris = ["http://localhost"] }',
    )
    s = start_server("--fixtures", str(path))
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def server_static_consent(tmp_path_factory):
    """The built-in tenant with two more APIs nobody consented to: `notes`, which `bff` registers
    among its API permissions (`requiredResourceAccess`), and `reports`, which it does not."""
    registered = '  { resourceAppId = "api", resourceAccess = [{ id = "access_as_user", type = "Scope" }] },\n'
    notes = (
        registered
        + '  { resourceAppId = "notes", resourceAccess = [{ id = "Notes.Read", type = "Scope" }] },\n'
    )
    apis = "".join(
        f"""
[[tenants.applications]]
name = "{name}"
appId = "{app_id}"
displayName = "Contoso {name}"
identifierUris = ["api://{name}.contoso"]
api = {{ oauth2PermissionScopes = [{{ value = "{scope}", id = "{scope_id}" }}] }}
"""
        for name, app_id, scope, scope_id in [
            ("notes", "77778888-aaaa-4000-8000-000000000077", "Notes.Read", "6e000000-0000-4000-8000-0000000000a1"),
            ("reports", "88889999-bbbb-4000-8000-000000000088", "Reports.Read", "6e000000-0000-4000-8000-0000000000b1"),
        ]
    )
    users = "# --- Users"
    path = builtin_tenant_with(tmp_path_factory.mktemp("fixtures"), registered, notes)
    text = path.read_text()
    assert text.count(users) == 1
    path.write_text(text.replace(users, apis + "\n" + users))
    s = start_server("--fixtures", str(path))
    yield s
    stop_server(s)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus != 0 or session.testscollected == 0:
        return
    out = pathlib.Path(__file__).resolve().parents[2] / "target" / "conformance"
    out.mkdir(parents=True, exist_ok=True)
    line = {"id": "interop-python", "suite": "interop",
            "test": f"python interop: {session.testscollected} tests (MSAL Python, azure-identity, Authlib, PyJWT)"}
    with open(out / "steps.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
