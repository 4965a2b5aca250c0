"""Schemathesis against a real `newsletter serve` with two worker processes, fuzzed by two
concurrent schemathesis workers, once with an admin key and once with a federation key, on each
database backend. Every operation in /openapi.json (public and staff) is exercised; the checks
are the in-process fuzzer's (tests/test_openapi_fuzz.py), and no request may get a 5xx.

FUZZ_LIVE_EXAMPLES sets the examples per operation (default 10: about two minutes per backend
on a small machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.live import Install, create_api_key, open_installation
from tests.fixtures.smtp import SmtpRecorder

pytestmark = pytest.mark.slow

SLUG = "sf-fuzz"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


@pytest.fixture
def live(backend: str, smtp_server: SmtpRecorder) -> Iterator[Install]:
    with open_installation(backend, "fuzzlive", SLUG) as install:
        yield install


def _seed(url: str, admin: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as client:
        for i in range(3):
            created = client.post(
                f"/api/v1/federations/{SLUG}/subscribers",
                json={"email": f"fuzz{i}@example.se", "name": f"Fuzz {i}"},
            )
            assert created.status_code == 201, created.text


def _schemathesis(
    install: Install, url: str, key: str, name: str, phases: str, **pinned: str
) -> None:
    """One schemathesis run with two concurrent workers; fails the test on any finding."""
    config = install.folder / f"schemathesis-{name}.toml"
    lines = ["[parameters]", f'"path.slug" = "{SLUG}"']
    lines += [f'"path.{param}" = {value}' for param, value in pinned.items()]
    config.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{url}/openapi.json",
            "--workers",
            "2",
            "--max-examples",
            os.environ.get("FUZZ_LIVE_EXAMPLES", "10"),
            "--checks",
            CHECKS,
            "--phases",
            phases,
            "--header",
            f"Authorization: Bearer {key}",
            "--request-timeout",
            "30",
            "--seed",
            "9",
            "--no-color",
            "--generation-database",
            "none",
        ],
        cwd=install.folder,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    report = run.stdout
    summary = report[report.rfind("SUMMARY") :]
    # Findings (a 5xx, an undocumented status, a body off the schema) are "Failures"; network
    # errors would be "Network Error". A "Runtime Error" is the fuzzer itself failing to build
    # a case (CPython 3.11's "AST constructor recursion depth mismatch" in its worker threads),
    # not something the server answered, so it alone does not fail the run.
    assert "Failures:" not in summary, f"schemathesis ({name}) found problems:\n{report[-20000:]}"
    # Only the summary's "Errors:" block: a phase with a runtime error is marked 🚫 as well
    # ("🚫 Examples" under "Test Phases"), which is the same error, not another one.
    block = summary.split("Errors:", 1)[1].split("\n\n", 1)[0] if "Errors:" in summary else ""
    errors = [line.strip() for line in block.splitlines() if line.strip()]
    details = report[report.find("ERRORS") :][:6000] if "ERRORS" in report else ""
    assert all("Runtime Error" in line for line in errors), f"{details}\n…\n{report[-20000:]}"
    assert run.returncode == 0 or errors, report[-20000:]


class TestLiveServer:
    def test_no_server_errors_with_admin_and_federation_keys(self, live: Install) -> None:
        _, admin = create_api_key(live, "--admin")
        _, federation_key = create_api_key(live, "--federation", SLUG)
        # Revoking the fuzzer's own admin key would turn the rest of its run into 401s: the
        # key id it may revoke is pinned to a decoy's.
        decoy_id, _ = create_api_key(live, "--admin", "--name", "decoy")
        url = live.serve(workers=2)
        _seed(url, admin)
        # The coverage phase (boundary and negative values of every parameter) is most of the
        # time and hardly depends on the key, so the federation key's run skips it.
        _schemathesis(live, url, admin, "admin", "examples,coverage,fuzzing", key_id=str(decoy_id))
        _schemathesis(live, url, federation_key, "federation", "examples,fuzzing")
        live.stop_all()
        log = live.log("serve")
        assert "Traceback" not in log, log[-5000:]
