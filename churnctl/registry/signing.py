"""Signed manifests: integrity against someone who can write the artifacts directory but not the key.

Every manifest lists the SHA-256 of each file of its version and every setting that changes
answers (threshold, schema, parameters). Its canonical JSON (sorted keys, no whitespace, without
the ``signature`` member) is signed with HMAC-SHA256 under a secret key kept outside the artifacts
directory, and the signature is checked before any file of the version is opened. A swapped
``model.joblib`` with a rewritten checksum, or an edited threshold, no longer verifies.

The key comes from ``$CHURNCTL_SIGNING_KEY`` or from a key file (``[security] key_file``, default
``$XDG_CONFIG_HOME/churnctl/signing.key``), which the first command that writes creates with mode
0600. Whoever can read the key can sign: keep it as private as the right to deploy a model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from churnctl.errors import ArtifactError, UsageError

ENV_KEY = "CHURNCTL_SIGNING_KEY"
ALGORITHM = "HMAC-SHA256"
MIN_KEY_BYTES = 16


def default_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "churnctl" / "signing.key"


def canonical_bytes(document: dict) -> bytes:
    """What is signed: the document without its signature, as sorted compact JSON."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


@dataclass(frozen=True)
class SigningKey:
    secret: bytes
    origin: str  # where it came from, for messages

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key in manifests and messages without revealing it."""
        return hashlib.sha256(b"churnctl-key-id:" + self.secret).hexdigest()[:16]

    def sign(self, document: dict) -> dict:
        """``document`` with a fresh signature member (the document is first normalised through JSON)."""
        body = json.loads(json.dumps({k: v for k, v in document.items() if k != "signature"}, default=str))
        digest = hmac.new(self.secret, canonical_bytes(body), hashlib.sha256).hexdigest()
        body["signature"] = {"algorithm": ALGORITHM, "key_id": self.key_id, "value": digest}
        return body

    def verify(self, document: dict, what: str) -> None:
        signature = document.get("signature")
        if signature is None:
            raise ArtifactError(
                f"{what} is not signed: it was written by a churnctl release before signing, or altered",
                hint="if this artifacts directory is yours and unaltered, sign it once with "
                "'churnctl models adopt --yes'",
            )
        if (
            not isinstance(signature, dict)
            or signature.get("algorithm") != ALGORITHM
            or not isinstance(signature.get("value"), str)
            or not re.fullmatch(r"[0-9a-f]{64}", signature["value"])
        ):
            raise ArtifactError(f"{what} has a malformed signature", hint="restore it from a backup or retrain")
        if signature.get("key_id") != self.key_id:
            raise ArtifactError(
                f"{what} was signed with key {signature.get('key_id')!r}, not with this key ({self.key_id}, "
                f"from {self.origin})",
                hint=f"use the key that signed this registry ({ENV_KEY} or [security] key_file)",
            )
        expected = hmac.new(self.secret, canonical_bytes(document), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature["value"]):
            raise ArtifactError(
                f"{what} was modified after it was signed (signature mismatch)",
                hint="it will not be used; restore it from a backup or retrain",
            )


class KeySource:
    """Finds the signing key when it is first needed, creating the key file for a writer."""

    def __init__(self, key_file: str | os.PathLike | None = None, artifacts: str | os.PathLike | None = None):
        self.key_file = Path(key_file).expanduser() if key_file else None
        self.artifacts = Path(artifacts) if artifacts is not None else None
        self._key: SigningKey | None = None

    def exists(self) -> bool:
        """Whether a key is there to use (the environment variable, or an existing key file)."""
        if os.environ.get(ENV_KEY):
            return True
        path = self.key_file or default_key_path()
        self._check_outside_artifacts(path)
        return path.exists()

    def describe(self) -> str:
        return f"{ENV_KEY} is not set and {self.key_file or default_key_path()} does not exist"

    def get(self, create: bool = False) -> SigningKey:
        if self._key is None:
            self._key = self._load(create)
        return self._key

    def _load(self, create: bool) -> SigningKey:
        value = os.environ.get(ENV_KEY)
        if value:
            secret = value.strip().encode()
            if len(secret) < MIN_KEY_BYTES:
                raise UsageError(
                    f"{ENV_KEY} holds {len(secret)} bytes; a signing key needs at least {MIN_KEY_BYTES}",
                    hint="use a long random value, e.g. from 'openssl rand -hex 32'",
                )
            return SigningKey(secret, ENV_KEY)
        path = self.key_file or default_key_path()
        self._check_outside_artifacts(path)
        if not path.exists():
            if not create:
                raise UsageError(
                    f"no signing key: {ENV_KEY} is not set and the key file {path} does not exist",
                    hint=f"set {ENV_KEY} or [security] key_file to the key that signed this registry",
                )
            return self._create(path)
        return self._read(path)

    def _check_outside_artifacts(self, path: Path) -> None:
        if self.artifacts is None:
            return
        try:
            path.resolve().relative_to(self.artifacts.resolve())
        except ValueError:
            return
        raise UsageError(
            f"the signing key file {path} lies inside the artifacts directory {self.artifacts}",
            hint="anyone who can write the artifacts could then forge signatures; keep the key "
            "elsewhere ([security] key_file)",
        )

    @staticmethod
    def _create(path: Path) -> SigningKey:
        """Write a new random key to ``path`` (mode 0600) in one step: a concurrent reader sees no file or
        the whole key, and of two concurrent creators the first one wins and both use its key."""
        secret = secrets.token_hex(32)
        try:
            missing = [parent for parent in [path.parent, *path.parent.parents] if not parent.exists()]
            for parent in reversed(missing):  # every folder created here is private, not just the last
                parent.mkdir(mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".signing-", dir=path.parent)  # mode 0600
        except OSError as exc:
            raise UsageError(
                f"cannot create the signing key file {path}: {exc.strerror}",
                hint=f"set {ENV_KEY}, or [security] key_file to a writable place",
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secret + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            return KeySource._read(path)
        finally:
            os.unlink(tmp)
        return SigningKey(secret.encode(), str(path))

    @staticmethod
    def _read(path: Path) -> SigningKey:
        try:
            # A link is allowed (mounted secrets); what it reaches is checked. Opened without blocking, so
            # that a FIFO named as the key is refused instead of waiting for a writer forever.
            with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise UsageError(
                        f"the signing key {path} is not a regular file",
                        hint=f"point [security] key_file or {ENV_KEY} at the key itself",
                    )
                if info.st_uid != os.geteuid():
                    raise UsageError(
                        f"the signing key file {path} belongs to another account (uid {info.st_uid}); whoever "
                        "owns it can sign models for you",
                        hint="use a key file of your own, or set " + ENV_KEY,
                    )
                if info.st_mode & 0o077:
                    raise UsageError(
                        f"the signing key file {path} has mode {stat.S_IMODE(info.st_mode):04o}: other "
                        "accounts can read or change it",
                        hint=f"chmod 600 {path}",
                    )
                secret = handle.read().strip()
        except OSError as exc:
            raise UsageError(
                f"cannot read the signing key file {path}: {exc.strerror}",
                hint=f"check its permissions, or set {ENV_KEY}",
            ) from None
        if len(secret) < MIN_KEY_BYTES:
            raise UsageError(
                f"the signing key file {path} holds {len(secret)} bytes; at least {MIN_KEY_BYTES} are needed",
                hint="remove it to have a new key created, then run 'models adopt'",
            )
        return SigningKey(secret, str(path))
