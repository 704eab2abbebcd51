"""The API's access keys: binlake generates a pair, prints the secret once, and keeps it as it keeps endpoint
passwords — a file readable by its owner only, which the state directory references (``file:/path``) and never
copies into the state store, a log or a response.

``<state>/api/access-keys.json`` maps each AccessKeyId to its SecretRef and creation time.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from binlake.config.secret import Secret, SecretRef
from binlake.errors import BinlakeError

KEYS_FILE = "access-keys.json"
_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret: Secret
    created: str

    def created_shape(self) -> dict[str, dict[str, object]]:
        """IAM's CreateAccessKey shape, the one time the secret is shown."""
        return {
            "AccessKey": {
                "UserName": "binlake",
                "AccessKeyId": self.access_key_id,
                "Status": "Active",
                "SecretAccessKey": self.secret.reveal(),
                "CreateDate": self.created,
            }
        }


def api_dir(state_dir: Path) -> Path:
    return state_dir / "api"


def _index(state_dir: Path) -> dict[str, dict[str, str]]:
    path = api_dir(state_dir) / KEYS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BinlakeError(
            f"cannot read {path}: {exc}", fix="remove it and run binlake api create-access-key"
        ) from None


def create(state_dir: Path, secret_file: Path | None = None) -> AccessKey:
    """A new key pair; the secret is written to ``secret_file`` (default under ``<state>/api/``), mode 0600."""
    key_id = "BLAK" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    directory = api_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = (secret_file or directory / f"{key_id}.secret").absolute()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BinlakeError(
            f"cannot create the secret file {path}: {exc.strerror}", fix="pass --secret-file with a new file's path"
        ) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    index = _index(state_dir)
    index[key_id] = {"SecretRef": str(SecretRef("file", str(path))), "CreateDate": created}
    temporary = directory / (KEYS_FILE + ".tmp")
    temporary.write_text(json.dumps(index, indent=2) + "\n")
    os.replace(temporary, directory / KEYS_FILE)
    return AccessKey(key_id, Secret(secret), created)


def access_key_ids(state_dir: Path) -> list[str]:
    return sorted(_index(state_dir))


def lookup(state_dir: Path, access_key_id: str) -> Secret | None:
    """The secret of ``access_key_id``, read from where it lives; None for a key binlake did not issue."""
    entry = _index(state_dir).get(access_key_id)
    if entry is None:
        return None
    return SecretRef.parse(entry["SecretRef"]).resolve()
