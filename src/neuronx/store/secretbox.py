"""Encryption of signing secrets at rest.

The key comes from ``NEURONX_SECRET_KEY``, or from a file generated into the
data directory on first start. Any string works as a key: it is stretched with
HKDF-SHA256 into the 32 bytes Fernet wants, so operators can paste whatever
their secret manager produces.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from neuronx.errors import NeuronXError

KEY_FILE = "neuronx.key"


class SecretKeyMismatch(NeuronXError):
    code = "secret_key_mismatch"
    title = "Stored secrets were encrypted with another NEURONX_SECRET_KEY"


class SecretBox:
    """Encrypts and decrypts signing secrets with one key."""

    def __init__(self, key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"neuronx-secrets"
        ).derive(key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise SecretKeyMismatch() from None


def load_secret_key(data_dir: Path) -> str:
    """The key from the environment, else the data directory's file, else a new one."""
    from_env = os.environ.get("NEURONX_SECRET_KEY")
    if from_env:
        return from_env
    path = data_dir / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    # O_EXCL: when two processes start at once, one writes and both read its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
