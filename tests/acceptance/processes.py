"""Starting the real ``neuronx`` processes for the acceptance tier."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support import free_port

NEURONX = shutil.which("neuronx", path=str(Path(sys.executable).parent)) or "neuronx"


def environment(store_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "NEURONX_DATABASE_URL": store_url,
            "NEURONX_SECRET_KEY": "test-secret-key",
            "NEURONX_ADMIN_TOKEN": "admin-token-for-tests",
            **extra,
        }
    )
    return env


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / "neuronx.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class Server:
    """``neuronx serve`` in a child process, with its stderr kept in a file."""

    def __init__(
        self, store_url: str, config: Path, workdir: Path, *, workers: int = 0
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"serve-{self.port}.log"
        command = [
            NEURONX,
            "serve",
            "--port",
            str(self.port),
            "--config",
            str(config),
            "--workers",
            str(workers),
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=workdir, env=environment(store_url), stderr=log
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("serve did not become healthy")

    def hook(self, source: str, tenant: str = "acme") -> str:
        return f"{self.url}/v1/hooks/{tenant}/{source}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
