"""Is a stored artifact intact? ``integrity`` checks the bytes against the .sha1 sidecar and the
manifest in one streaming pass; ``unpacking`` opens an artifact (decrypt, decompress, untar) for
every reader, restore included."""

from agent.verify.chains import ChainReport, verify_chain
from agent.verify.integrity import VerifyReport, raise_if_failed, verify_backup

__all__ = ["ChainReport", "VerifyReport", "raise_if_failed", "verify_backup", "verify_chain"]
