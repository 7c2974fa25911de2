"""age encryption of stored artifacts: keys (who may read) and stream layers (encrypt, decrypt).

Encryption is a layer on any artifact format, applied after compression: the stored object is
``<artifact>.age``, a standard age file that the reference CLI decrypts (``age -d -i key.txt``).
Library: pyrage (Python bindings of rage, the Rust implementation of age): a maintained wheel with no
system dependency, interoperable with the Go reference CLI, and it streams (``encrypt_io`` /
``decrypt_io`` work in 64 KiB STREAM chunks, so memory does not grow with the artifact). Writing
age's X25519 + HKDF + ChaCha20-Poly1305 STREAM construction by hand on top of ``cryptography`` would
be our own crypto; shelling out to the ``age`` binary would need the identity in a file or pipe of a
child process and a binary in the image.
"""

from shared.encryption.keys import (
    AGE_SUFFIX,
    IDENTITY_SECRET_KEY,
    NO_ENCRYPTION,
    DecryptionSettings,
    EncryptionConfigError,
    EncryptionSettings,
    IdentityMissingError,
    load_decryption_settings,
    load_encryption_settings,
    load_identities,
    parse_recipients,
)
from shared.encryption.streams import (
    DecryptionError,
    WrongIdentityError,
    decrypt_bytes,
    decrypting_reader,
    encrypt_bytes,
    encrypting_reader,
)

__all__ = [
    "AGE_SUFFIX",
    "IDENTITY_SECRET_KEY",
    "NO_ENCRYPTION",
    "DecryptionError",
    "DecryptionSettings",
    "EncryptionConfigError",
    "EncryptionSettings",
    "IdentityMissingError",
    "WrongIdentityError",
    "decrypt_bytes",
    "decrypting_reader",
    "encrypt_bytes",
    "encrypting_reader",
    "load_decryption_settings",
    "load_encryption_settings",
    "load_identities",
    "parse_recipients",
]
