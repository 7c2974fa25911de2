"""The age layer on its own: keys parsed the way ``age -R`` / ``age -i`` read them, streams that the
reference ``age`` CLI (Debian ``age``) reads and writes, and failures that never look like a clean end."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from shared.encryption import (
    DecryptionError,
    EncryptionConfigError,
    IdentityMissingError,
    WrongIdentityError,
    decrypting_reader,
    encrypting_reader,
    load_decryption_settings,
    load_encryption_settings,
    load_identities,
    parse_recipients,
)
from shared.logs import redact

DATA = os.urandom(256 * 1024) * 12  # 3 MiB: many 64 KiB age chunks, several pipe buffers


def keygen(path: Path) -> str:
    """A real identity file from ``age-keygen``; returns its public key."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()


def secret_line(path: Path) -> str:
    return next(line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))


def read_all(stream) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    while chunk := stream.read(1 << 16):
        out.write(chunk)
    return out.getvalue()


def identities_of(path: Path) -> list:  # type: ignore[type-arg]
    return load_identities(load_decryption_settings({"BACKUP_DECRYPT_IDENTITY_FILE": str(path)}), what="test")


def test_recipients_from_env_and_file_like_age_R(tmp_path):
    one, two = keygen(tmp_path / "a.txt"), keygen(tmp_path / "b.txt")
    listing = tmp_path / "recipients.txt"
    listing.write_text(f"# ops team\n{two}\n\n  {one}  \n")

    settings = load_encryption_settings(
        {"BACKUP_ENCRYPT_RECIPIENTS": f"{one}, ", "BACKUP_ENCRYPT_RECIPIENTS_FILE": str(listing)}
    )

    assert settings.recipients == (one, two)  # order kept, duplicate dropped
    assert settings.enabled and not load_encryption_settings({}).enabled


def test_a_secret_key_given_as_recipient_is_refused_without_echoing_it(tmp_path):
    keygen(tmp_path / "k.txt")
    secret = secret_line(tmp_path / "k.txt")
    with pytest.raises(EncryptionConfigError) as caught:
        parse_recipients(secret, source="BACKUP_ENCRYPT_RECIPIENTS")
    assert "age-keygen -y" in str(caught.value)
    assert secret[16:] not in str(caught.value)


def test_malformed_recipient_names_the_setting():
    with pytest.raises(EncryptionConfigError, match=r"^BACKUP_ENCRYPT_RECIPIENTS: 'age1notakey' is not an age X25519"):
        parse_recipients("age1notakey", source="BACKUP_ENCRYPT_RECIPIENTS")


def test_reference_cli_decrypts_what_the_layer_encrypts(tmp_path):
    public = keygen(tmp_path / "key.txt")
    (tmp_path / "x.age").write_bytes(read_all(encrypting_reader(io.BytesIO(DATA), [public])))

    done = subprocess.run(["age", "-d", "-i", str(tmp_path / "key.txt"), str(tmp_path / "x.age")], capture_output=True)

    assert done.returncode == 0, done.stderr
    assert done.stdout == DATA


def test_layer_decrypts_what_the_reference_cli_encrypts(tmp_path):
    public = keygen(tmp_path / "key.txt")
    encrypted = subprocess.run(["age", "-r", public], input=DATA, capture_output=True, check=True).stdout

    plain = read_all(decrypting_reader(io.BytesIO(encrypted), identities_of(tmp_path / "key.txt"), what="x"))

    assert plain == DATA


def test_several_recipients_any_one_identity_decrypts(tmp_path):
    publics = [keygen(tmp_path / f"k{n}.txt") for n in range(3)]
    encrypted = read_all(encrypting_reader(io.BytesIO(DATA), publics))
    for n in range(3):
        assert (
            read_all(decrypting_reader(io.BytesIO(encrypted), identities_of(tmp_path / f"k{n}.txt"), what="x")) == DATA
        )


def test_wrong_identity_is_refused_before_the_reader_is_returned(tmp_path):
    keygen(tmp_path / "other.txt")
    encrypted = read_all(encrypting_reader(io.BytesIO(DATA), [keygen(tmp_path / "right.txt")]))
    with pytest.raises(WrongIdentityError, match="backup X: none of the configured identities can decrypt it"):
        decrypting_reader(io.BytesIO(encrypted), identities_of(tmp_path / "other.txt"), what="backup X")


def test_truncated_file_raises_instead_of_ending_cleanly(tmp_path):
    encrypted = read_all(encrypting_reader(io.BytesIO(DATA), [keygen(tmp_path / "k.txt")]))
    reader = decrypting_reader(
        io.BytesIO(encrypted[: len(encrypted) - 1000]), identities_of(tmp_path / "k.txt"), what="x"
    )
    with pytest.raises(DecryptionError, match="is not a readable age file"):
        read_all(reader)


def test_source_failure_is_reraised_unchanged(tmp_path):
    class DumpDied(Exception):
        pass

    class Failing(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer):  # type: ignore[no-untyped-def]
            if self.sent > 1 << 20:
                raise DumpDied("dump exited 3")
            buffer[:4096] = b"x" * 4096
            self.sent += 4096
            return 4096

    reader = encrypting_reader(io.BufferedReader(Failing()), [keygen(tmp_path / "k.txt")])
    with pytest.raises(DumpDied, match="dump exited 3"):
        read_all(reader)


def test_identity_file_is_registered_as_a_secret_and_never_echoed(tmp_path):
    key = tmp_path / "key.txt"
    keygen(key)
    identities_of(key)
    assert secret_line(key) not in redact(f"oops {secret_line(key)}")

    broken = tmp_path / "broken.txt"
    broken.write_text(secret_line(key)[:-3] + "qqq\n")
    with pytest.raises(EncryptionConfigError) as caught:
        identities_of(broken)
    assert "entry 1 is not a valid age identity" in str(caught.value)
    assert secret_line(key)[16:-3] not in str(caught.value)


def test_no_identity_names_both_settings():
    with pytest.raises(
        IdentityMissingError, match=r"BACKUP_DECRYPT_IDENTITY_FILE .* or BACKUP_DECRYPT_IDENTITY_SECRET"
    ):
        load_identities(load_decryption_settings({}), what="backup 20240101T000000Z")


def test_identity_from_a_secret_reads_key_age_identity(tmp_path):
    key = tmp_path / "key.txt"
    keygen(key)
    calls = []

    def read_secret(**kwargs: str) -> str:
        calls.append(kwargs)
        return key.read_text()

    settings = load_decryption_settings(
        {"BACKUP_DECRYPT_IDENTITY_SECRET": "backup-key", "CELL_DEFAULT_NAMESPACE": "db"}
    )
    found = load_identities(settings, what="x", read_secret=read_secret)

    assert len(found) == 1
    assert calls == [{"namespace": "db", "secret_name": "backup-key", "key": "age-identity"}]


def test_identity_secret_without_namespace_is_bad_input():
    with pytest.raises(EncryptionConfigError, match="needs CELL_DEFAULT_NAMESPACE"):
        load_decryption_settings({"BACKUP_DECRYPT_IDENTITY_SECRET": "backup-key"})


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.gz", "sql.zst"])
def test_encryption_is_a_layer_on_every_format(fmt):
    from shared.encryption import EncryptionSettings
    from shared.layout import BackupKeys

    layers = EncryptionSettings(recipients=("age1x",)).layers
    keys = BackupKeys(prefix="p", backup_id="20240101T000000Z", format=fmt, layers=layers)

    assert keys.artifact_name == f"mariadb-ha-backup.{fmt}.age"
    assert keys.sha1 == f"p/20240101T000000Z/mariadb-ha-backup.{fmt}.age.sha1"
    assert EncryptionSettings().layers == ()


def test_a_manifest_naming_an_unknown_layer_is_refused():
    from shared.formats import UnknownFormatError, layers_named

    with pytest.raises(UnknownFormatError, match="unknown artifact layer 'rot13'"):
        layers_named(["age", "rot13"])


def test_small_artifacts_round_trip_through_bytes_and_the_cli(tmp_path):
    from shared.encryption import decrypt_bytes, encrypt_bytes

    public = keygen(tmp_path / "k.txt")
    segment = b"\xfebin" + os.urandom(5000)
    stored = encrypt_bytes(segment, [public])
    (tmp_path / "seg.age").write_bytes(stored)

    by_cli = subprocess.run(["age", "-d", "-i", str(tmp_path / "k.txt"), str(tmp_path / "seg.age")], capture_output=True)

    assert by_cli.stdout == segment
    assert decrypt_bytes(stored, identities_of(tmp_path / "k.txt"), what="segment 1") == segment
    keygen(tmp_path / "other.txt")
    with pytest.raises(WrongIdentityError, match="segment 1: none of the configured identities"):
        decrypt_bytes(stored, identities_of(tmp_path / "other.txt"), what="segment 1")


@pytest.mark.parametrize("value", [" , ", "# only a comment"])
def test_a_recipient_setting_without_recipients_is_refused_not_ignored(value, tmp_path):
    listing = tmp_path / "r.txt"
    listing.write_text(value + "\n")
    with pytest.raises(EncryptionConfigError, match="BACKUP_ENCRYPT_RECIPIENTS lists no age recipient"):
        load_encryption_settings({"BACKUP_ENCRYPT_RECIPIENTS": value})
    with pytest.raises(EncryptionConfigError, match=f"BACKUP_ENCRYPT_RECIPIENTS_FILE {listing} lists no age recipient"):
        load_encryption_settings({"BACKUP_ENCRYPT_RECIPIENTS_FILE": str(listing)})
