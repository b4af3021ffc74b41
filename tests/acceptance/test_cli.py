"""The installed ``neuronx`` command, run as a user would, in its own process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "neuronx.yaml"
EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EXAMPLE_KEY = "nx_acme_example_key"
LEAD = '{"type":"lead.created","data":{"email":"a@example.com"}}'

BAD_CONFIG = """\
settings:
  timestamp_tolerance_seconds: 0
  retry: {max_attempts: 0}
plans:
  - id: starter
tenants:
  - id: acme
    plan: starter
    api_key: short
    sources:
      - id: forms
        scheme: carrier-pigeon
        secrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw]
"""
BAD_PATHS = [
    "settings.timestamp_tolerance_seconds",
    "settings.retry.max_attempts",
    "tenants.0.api_key",
    "tenants.0.sources.0.scheme",
]


def neuronx_executable() -> str:
    beside = Path(sys.executable).parent / "neuronx"
    if beside.exists():
        return str(beside)
    found = shutil.which("neuronx")
    assert found is not None, "the neuronx console script is not installed"
    return found


@dataclass
class Cli:
    cwd: Path
    env: dict[str, str]

    def run(
        self, *args: str, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [neuronx_executable(), *args],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEURONX_")}
    env["NEURONX_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    env["NEURONX_SECRET_KEY"] = "cli-test-secret-key"
    return Cli(tmp_path, env)


def assert_clean_failure(
    result: subprocess.CompletedProcess[str], *, one_line: bool = False
) -> None:
    """Exit status 2 and a message, never a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert result.stderr.strip(), "no message on stderr"
    if one_line:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("neuronx: "), result.stderr


def test_help(cli: Cli) -> None:
    result = cli.run("--help")

    assert result.returncode == 0, result.stderr
    for command in ("serve", "worker", "migrate", "apply", "send", "dlq", "secrets"):
        assert command in result.stdout


def test_python_dash_m_help(cli: Cli) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "neuronx", "--help"],
        cwd=cli.cwd,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


def test_apply_of_a_bad_config_names_every_bad_field(cli: Cli) -> None:
    (cli.cwd / "bad.yaml").write_text(BAD_CONFIG)

    result = cli.run("apply", "bad.yaml")

    assert_clean_failure(result)
    assert result.stderr.startswith("neuronx: ")
    assert result.stderr.count("neuronx:") == 1, result.stderr
    for path in BAD_PATHS:
        assert path in result.stderr


def test_apply_of_a_missing_file(cli: Cli) -> None:
    result = cli.run("apply", "missing.yaml")

    assert_clean_failure(result, one_line=True)
    assert "missing.yaml" in result.stderr


def test_apply_of_the_example(cli: Cli) -> None:
    result = cli.run("apply", str(EXAMPLE))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_against_an_unreachable_database(cli: Cli) -> None:
    result = cli.run(
        "migrate", NEURONX_DATABASE_URL="postgresql://nobody@127.0.0.1:1/x"
    )

    assert_clean_failure(result, one_line=True)


def test_migrate_with_an_unsupported_url(cli: Cli) -> None:
    result = cli.run("migrate", NEURONX_DATABASE_URL="mysql://x")

    assert_clean_failure(result, one_line=True)


@pytest.mark.parametrize("port", ["0", "70000"])
def test_serve_refuses_a_bad_port(cli: Cli, port: str) -> None:
    result = cli.run("serve", "--port", port, timeout=20)

    assert_clean_failure(result)


def test_dlq_replay_needs_ids_or_all(cli: Cli) -> None:
    assert_clean_failure(cli.run("dlq", "replay"), one_line=True)
    assert_clean_failure(cli.run("dlq", "replay", "1", "--all"), one_line=True)


def test_dlq_show_of_a_missing_id(cli: Cli) -> None:
    result = cli.run("dlq", "show", "999")

    assert_clean_failure(result, one_line=True)
    assert "999" in result.stderr


def test_dlq_on_an_id_beyond_any_stored_one(cli: Cli) -> None:
    result = cli.run("dlq", "show", "9" * 20)

    assert_clean_failure(result, one_line=True)


def test_send_to_a_closed_port(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/hooks/acme/forms"

    result = cli.run(
        "send",
        url,
        "--scheme",
        "standard-webhooks",
        "--secret",
        EXAMPLE_SECRET,
        "--data",
        LEAD,
        "--timeout",
        "5",
    )

    assert_clean_failure(result, one_line=True)


def test_send_takes_exactly_one_body(cli: Cli) -> None:
    (cli.cwd / "lead.json").write_text(LEAD)
    common = [
        "send",
        "http://127.0.0.1:9/v1/hooks/acme/forms",
        "--scheme",
        "standard-webhooks",
        "--secret",
        EXAMPLE_SECRET,
    ]

    both = cli.run(*common, "--data", LEAD, "--file", "lead.json")
    neither = cli.run(*common)

    assert_clean_failure(both, one_line=True)
    assert_clean_failure(neither, one_line=True)


def wait_until_healthy(url: str, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            raise AssertionError(f"serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"serve did not come up:\n{log.read_text()}")
        time.sleep(0.05)


def wait_until_done(url: str, event_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(
            f"{url}/v1/tenants/acme/events/{event_id}",
            headers={"authorization": f"Bearer {EXAMPLE_KEY}"},
        )
        assert response.status_code == 200, response.text
        event: dict[str, object] = response.json()
        if event["status"] == "done":
            return event
        assert event["status"] in {"accepted", "processing"}, event
        if time.monotonic() > deadline:
            raise AssertionError(f"the event never reached done: {event}")
        time.sleep(0.05)


def test_serve_send_and_process_a_lead(cli: Cli) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = cli.cwd / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [
                neuronx_executable(),
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--config",
                str(EXAMPLE),
            ],
            cwd=cli.cwd,
            env=cli.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until_healthy(url, server, log)
            sent = cli.run(
                "send",
                f"{url}/v1/hooks/acme/forms",
                "--scheme",
                "standard-webhooks",
                "--secret",
                EXAMPLE_SECRET,
                "--data",
                LEAD,
            )
            assert sent.returncode == 0, sent.stdout + sent.stderr
            status, body = sent.stdout.strip().split("\n", 1)
            assert status == "202"
            answer = json.loads(body)
            assert answer["status"] == "accepted"

            event = wait_until_done(url, answer["event_id"])
            assert event["event_id"] == answer["event_id"]

            server.send_signal(signal.SIGTERM)
            returncode = server.wait(timeout=20)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()

    output = log.read_text()
    assert returncode == 0, output
    assert "Traceback" not in output
