"""Records in target/conformance/steps.jsonl that the Python interop suite passed (MSAL Python and
azure-identity), for the conformance report (tests/conformance_report.py)."""

import json
import pathlib


def pytest_sessionfinish(session, exitstatus):
    if exitstatus != 0 or session.testscollected == 0:
        return
    out = pathlib.Path(__file__).resolve().parents[2] / "target" / "conformance"
    out.mkdir(parents=True, exist_ok=True)
    line = {"id": "interop-python", "suite": "interop",
            "test": f"msal_python_test.py: {session.testscollected} tests (MSAL Python, azure-identity)"}
    with open(out / "steps.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
