"""Who can read a backup: age recipients (public keys, for ``backup``) and identities (secret keys, for
``verify``, ``restore``, the restore drill and binlog replay).

Recipients are public and may be echoed in messages and recorded in the manifest. Identities are
secrets: they are read from a file or a Kubernetes Secret, registered with ``shared.logs`` at once so
no log line can carry them, handed to pyrage in memory, and never echoed by an error message (not even
part of a malformed line: a typo'd key is still mostly the key).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from shared.errors import BadInputError
from shared.logs import register_secret

AGE_SUFFIX = ".age"
AGE_LAYER = "age"  # its name in shared.formats.LAYERS and in a manifest's artifact.layers
# The key in BACKUP_DECRYPT_IDENTITY_SECRET that holds the identity file's text.
IDENTITY_SECRET_KEY = "age-identity"  # noqa: S105  # a key name, not a secret
RECIPIENTS_ENV = "BACKUP_ENCRYPT_RECIPIENTS"
RECIPIENTS_FILE_ENV = "BACKUP_ENCRYPT_RECIPIENTS_FILE"
IDENTITY_FILE_ENV = "BACKUP_DECRYPT_IDENTITY_FILE"
IDENTITY_SECRET_ENV = "BACKUP_DECRYPT_IDENTITY_SECRET"  # noqa: S105  # a setting name
_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# An identity file is a few lines; anything much larger is the wrong file, and must not be read whole.
_MAX_IDENTITY_FILE = 64 * 1024

SecretReader = Callable[..., str]


class EncryptionConfigError(BadInputError):
    """A recipient or identity setting is missing or malformed (exit 2); never quotes a secret."""


class IdentityMissingError(EncryptionConfigError):
    """An encrypted backup was asked for without any identity configured (exit 2, before any download)."""


@dataclass(frozen=True)
class EncryptionSettings:
    """The recipients new artifacts are encrypted to; empty means "store unencrypted"."""

    recipients: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.recipients)

    @property
    def layers(self) -> tuple[str, ...]:
        """The artifact layers this setting adds (names in shared.formats.LAYERS)."""
        return (AGE_LAYER,) if self.enabled else ()

    def encoders(self) -> tuple[Callable[[BinaryIO], BinaryIO], ...]:
        """One stream encoder per layer, for the pipeline to apply after compression."""
        from shared.encryption.streams import encrypting_reader

        recipients = self.recipients
        return tuple(lambda stream: encrypting_reader(stream, recipients) for _ in self.layers)

    @property
    def layer_suffix(self) -> str:
        """What the layers add to a stored object's name (``.age``)."""
        return AGE_SUFFIX if self.enabled else ""

    def encode_bytes(self, data: bytes) -> bytes:
        """A small artifact (a binlog segment, an accounts sidecar) with the layers applied, in memory."""
        from shared.encryption.streams import encrypt_bytes

        return encrypt_bytes(data, self.recipients) if self.enabled else data


NO_ENCRYPTION = EncryptionSettings()


@dataclass(frozen=True)
class DecryptionSettings:
    """Where the age identity for reading encrypted artifacts comes from: a file, or a Secret in ``namespace``."""

    identity_file: Path | None = None
    identity_secret: str | None = None
    namespace: str | None = None

    @property
    def configured(self) -> bool:
        return self.identity_file is not None or self.identity_secret is not None


def load_encryption_settings(raw: Mapping[str, str]) -> EncryptionSettings:
    """Recipients from BACKUP_ENCRYPT_RECIPIENTS (comma-separated) and/or BACKUP_ENCRYPT_RECIPIENTS_FILE.
    A setting that is given but lists no recipient is refused: it must never mean "store in clear"."""
    found: list[str] = []
    if RECIPIENTS_ENV in raw:
        found += _some(parse_recipients(raw[RECIPIENTS_ENV], source=RECIPIENTS_ENV), source=RECIPIENTS_ENV)
    if RECIPIENTS_FILE_ENV in raw:
        source = f"{RECIPIENTS_FILE_ENV} {raw[RECIPIENTS_FILE_ENV]}"
        text = _read_text(Path(raw[RECIPIENTS_FILE_ENV]), RECIPIENTS_FILE_ENV)
        found += _some(parse_recipients(text, source=source), source=source)
    return EncryptionSettings(recipients=tuple(dict.fromkeys(found)))


def _some(recipients: list[str], *, source: str) -> list[str]:
    if not recipients:
        raise EncryptionConfigError(f"{source} lists no age recipient (age1...)")
    return recipients


def parse_recipients(text: str, *, source: str) -> list[str]:
    """age X25519 recipients, one per comma or line; blank lines and ``#`` comments skipped (as ``age -R``)."""
    from pyrage import RecipientError, x25519

    recipients = []
    for entry in _entries(text.replace(",", "\n")):
        if entry.startswith(_IDENTITY_PREFIX):
            raise EncryptionConfigError(
                f"{source} holds an age identity (a secret key), not a recipient: give its public key "
                "(age-keygen -y key.txt prints it) and keep the identity away from the backup job"
            )
        try:
            recipients.append(str(x25519.Recipient.from_str(entry)))
        except RecipientError:
            raise EncryptionConfigError(
                f"{source}: {_head(entry)!r} is not an age X25519 recipient (age1..., from age-keygen)"
            ) from None
    return recipients


def load_decryption_settings(raw: Mapping[str, str]) -> DecryptionSettings:
    secret = raw.get(IDENTITY_SECRET_ENV) or None
    namespace = raw.get("CELL_DEFAULT_NAMESPACE") or None
    if secret is not None and not _SECRET_NAME.match(secret):
        raise EncryptionConfigError(f"{IDENTITY_SECRET_ENV} {_head(secret)!r} is not a Secret name")
    if secret is not None and namespace is None:
        raise EncryptionConfigError(f"{IDENTITY_SECRET_ENV} needs CELL_DEFAULT_NAMESPACE (where the Secret lives)")
    identity_file = Path(raw[IDENTITY_FILE_ENV]) if raw.get(IDENTITY_FILE_ENV) else None
    return DecryptionSettings(identity_file=identity_file, identity_secret=secret, namespace=namespace)


def load_identities(settings: DecryptionSettings, *, what: str, read_secret: SecretReader | None = None) -> list[Any]:
    """The identities (pyrage ``x25519.Identity``) that may decrypt ``what``; every key is registered as a
    secret before anything else can see it. Raises ``IdentityMissingError`` when none is configured."""
    if not settings.configured:
        raise IdentityMissingError(
            f"{what} is encrypted: set {IDENTITY_FILE_ENV} (an age identity file) or {IDENTITY_SECRET_ENV} "
            f"(a Secret with key {IDENTITY_SECRET_KEY!r})"
        )
    texts: list[tuple[str, str]] = []
    if settings.identity_file is not None:
        source = f"{IDENTITY_FILE_ENV} {settings.identity_file}"
        texts.append((_read_text(settings.identity_file, IDENTITY_FILE_ENV), source))
    if settings.identity_secret is not None:
        texts.append((_secret_text(settings, read_secret), f"{IDENTITY_SECRET_ENV} {settings.identity_secret}"))
    return [identity for text, source in texts for identity in parse_identities(text, source=source)]


def parse_identities(text: str, *, source: str) -> list[Any]:
    """X25519 identities from an age identity file's text (``age-keygen`` output: comments + one key)."""
    from pyrage import IdentityError, x25519

    register_secret(text.strip())
    entries = list(_entries(text))
    for entry in entries:
        register_secret(entry)
    identities = []
    for number, entry in enumerate(entries, start=1):
        if not entry.startswith(_IDENTITY_PREFIX):
            raise EncryptionConfigError(f"{source}: entry {number} is not an age X25519 identity (AGE-SECRET-KEY-1...)")
        try:
            identities.append(x25519.Identity.from_str(entry))
        except IdentityError:
            raise EncryptionConfigError(f"{source}: entry {number} is not a valid age identity") from None
    if not identities:
        raise EncryptionConfigError(f"{source} holds no age identity")
    return identities


def _secret_text(settings: DecryptionSettings, read_secret: SecretReader | None) -> str:
    # The Kubernetes client is injected (agent/common/decryption.py passes shared.k8s.secret's reader), so this
    # module, and the binlog code that uses it, stays below shared.k8s in the layering.
    if read_secret is None:
        raise EncryptionConfigError(f"{IDENTITY_SECRET_ENV} is set but this command cannot read Secrets")
    assert settings.namespace is not None and settings.identity_secret is not None  # load_decryption_settings
    return read_secret(namespace=settings.namespace, secret_name=settings.identity_secret, key=IDENTITY_SECRET_KEY)


def _entries(text: str) -> Iterable[str]:
    for line in text.splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            yield entry


def _read_text(path: Path, setting: str) -> str:
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_IDENTITY_FILE + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EncryptionConfigError(f"{setting} {path}: cannot read it ({reason})") from None
    if len(data) > _MAX_IDENTITY_FILE:
        raise EncryptionConfigError(f"{setting} {path}: larger than {_MAX_IDENTITY_FILE // 1024} KiB, not a key file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EncryptionConfigError(f"{setting} {path}: not UTF-8 text") from None


def _head(value: str) -> str:
    """A bounded, one-line excerpt of user input (enough to recognise a typo, not a whole pasted blob)."""
    flat = value.replace("\n", " ")
    return flat if len(flat) <= 16 else flat[:12] + "..."
