"""What the Python interop tests share: the built-in tenant's names, the release binary started
on a free HTTPS port (ENTRA_MOCK_BIN, default target/release/entra-mock) with an ephemeral data dir
and the CA it prints trusted, and a driver of the sign-in pages over HTTP by their element names
(each page's form is parsed generically: action, every input; `loginfmt`, `passwd` and `otc` are
filled in; the primary submit button is the one "clicked").

requests prefers REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE over `verify=`: both are unset here.
"""

import base64
import json
import os
import pathlib
import re
import subprocess
import threading
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests

TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
BFF = "00001111-aaaa-2222-bbbb-3333cccc4444"
BFF_SECRET = "bff-secret-local-dev-only"
BFF_REDIRECT = "http://localhost:5001/auth/callback"
API = "22223333-cccc-4444-dddd-5555eeee6666"
API_SCOPE = f"api://{API}/access_as_user"
DAEMON = "33334444-dddd-5555-eeee-6666ffff7777"
DAEMON_SECRET = "daemon-secret-local-dev-only"
ALICE = "alice@contoso.onmicrosoft.com"
ALICE_OID = "a11ce000-0000-4000-8000-000000000001"
PASSWORD = "Passw0rd!"
BOB = "bob@contoso.onmicrosoft.com"
GRAPH = "00000003-0000-0000-c000-000000000000"

ROOT = pathlib.Path(__file__).resolve().parents[2]

for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(var, None)


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Server:
    def __init__(self, url, ca, proc):
        self.url, self.ca, self.proc = url, ca, proc
        self.authority = f"{url}/{TENANT}"

    def http(self):
        s = requests.Session()
        s.verify = self.ca
        return s


def start_server(*extra_args):
    binary = os.environ.get("ENTRA_MOCK_BIN", str(ROOT / "target" / "release" / "entra-mock"))
    proc = subprocess.Popen(
        [binary, "--ephemeral", "--http-addr", "off", "--https-addr", "127.0.0.1:0", *extra_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = ca = None
    banner = []
    deadline = time.time() + 60
    while time.time() < deadline and ca is None:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if m := re.match(r"\s*https:\s+(\S+)", line):
            url = m.group(1)
        if m := re.match(r"\s*CA certificate:\s+(.+)$", line):
            ca = m.group(1).strip()
    if url is None or ca is None:
        proc.kill()
        pytest.fail("entra-mock did not print its banner:\n" + "".join(banner))
    # Keep draining the output so that logging never blocks the server.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return Server(url, ca, proc)


def stop_server(s):
    s.proc.terminate()
    try:
        s.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        s.proc.kill()


def builtin_tenant_with(directory, anchor, replacement):
    """The built-in tenant's fixture file (fixtures/default.toml) with its one `anchor` replaced,
    written to `directory`; its path, for `start_server("--fixtures", path)`."""
    text = (ROOT / "fixtures" / "default.toml").read_text()
    assert text.count(anchor) == 1, anchor
    path = directory / "entra.toml"
    path.write_text(text.replace(anchor, replacement))
    return path


CERT_PEM = (ROOT / "fixtures" / "certs" / "bff-dev-only.pem").read_text()
CERT_KEY = (ROOT / "fixtures" / "certs" / "bff-dev-only.key").read_text()


class Forms(HTMLParser):
    """Every form of a page: action, method, and its inputs and buttons in order."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": []})
        elif tag in ("input", "button") and self.forms:
            self.forms[-1]["fields"].append(
                {
                    "name": a.get("name", ""),
                    "value": a.get("value", ""),
                    "type": a.get("type", "submit" if tag == "button" else "text").lower(),
                    "id": a.get("id", ""),
                    "checked": "checked" in a,
                }
            )


PRIMARY_BUTTONS = ("idSIButton9", "idSubmit_SAOTCC_Continue")


def fill(form, user=ALICE, otp=None):
    """The data a user submits: hidden and text fields as given, `loginfmt`, `passwd` and the
    one-time code `otc` typed in, and the value of the one submit button pressed (Entra's primary
    button: `idSIButton9`, or `idSubmit_SAOTCC_Continue` on the one-time-code page)."""
    data = {}
    for f in form["fields"]:
        if not f["name"]:
            continue
        if f["type"] == "submit":
            if f["id"] in PRIMARY_BUTTONS:
                data[f["name"]] = f["value"]
            continue
        if f["type"] in ("checkbox", "radio") and not f["checked"]:
            continue
        data[f["name"]] = f["value"]
    if "loginfmt" in data:
        data["loginfmt"] = user
    if "passwd" in data:
        data["passwd"] = PASSWORD
    if "otc" in data:
        assert otp is not None, "a one-time code was asked for"
        data["otc"] = otp()
    return data


def sign_in(browser, auth_uri, user=ALICE, otp=None, redirect=BFF_REDIRECT):
    """Drives the sign-in pages until the browser is sent to the redirect URI (`redirect`);
    returns the authorization response parameters."""
    res = browser.get(auth_uri, allow_redirects=False)
    for _ in range(20):
        if res.is_redirect:
            target = urljoin(res.url, res.headers["Location"])
            if target.startswith(redirect):
                query = parse_qs(urlparse(target).query)
                return {k: v[0] for k, v in query.items()}
            res = browser.get(target, allow_redirects=False)
            continue
        assert res.status_code == 200, f"{res.status_code} at {res.url}: {res.text[:500]}"
        parser = Forms()
        parser.feed(res.text)
        assert parser.forms, f"no form on {res.url}: {res.text[:500]}"
        form = next(
            (f for f in parser.forms if any(x["name"] in ("loginfmt", "passwd", "otc") for x in f["fields"])),
            parser.forms[0],
        )
        action = urljoin(res.url, form["action"] or res.url)
        data = fill(form, user, otp)
        if action.startswith(redirect):  # response_mode=form_post
            return data
        if form["method"] == "post":
            res = browser.post(action, data=data, allow_redirects=False)
        else:
            res = browser.get(action, params=data, allow_redirects=False)
    pytest.fail("the sign-in did not reach the redirect URI in 20 steps")
