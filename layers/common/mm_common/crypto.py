"""Envelope encryption with KMS: secrets in Postgres are only ever stored encrypted.

Each sealed value gets a fresh 256-bit data key from KMS (GenerateDataKey); the value is
encrypted locally with AES-256-GCM and only the KMS-encrypted data key is kept beside it. The
encryption context binds a ciphertext to what it belongs to (a project, a user), so a value
copied to another row does not decrypt.

``cryptography`` is imported by the first seal or unseal (with boto3, by the KMS client), not
with this module: most requests handle no secret.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from mm_common.aws import client
from mm_common.config import get_settings

FORMAT_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(plaintext: str, context: dict[str, str]) -> dict[str, Any]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = client("kms").generate_data_key(KeyId=get_settings().kms_key_id, KeySpec="AES_256", EncryptionContext=context)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key["Plaintext"]).encrypt(nonce, plaintext.encode("utf-8"), None)
    return {"v": FORMAT_VERSION, "key": _b64(key["CiphertextBlob"]), "nonce": _b64(nonce), "data": _b64(ciphertext)}


def unseal(sealed: dict[str, Any], context: dict[str, str]) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = client("kms").decrypt(CiphertextBlob=base64.b64decode(sealed["key"]), EncryptionContext=context)
    plaintext = AESGCM(data_key["Plaintext"]).decrypt(
        base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["data"]), None
    )
    return plaintext.decode("utf-8")


def variable_context(project_id: Any, name: str) -> dict[str, str]:
    """What binds a project's sealed environment variable to its project and name: a value copied to another
    project or name does not open."""
    return {"projectId": str(project_id), "variable": name}
