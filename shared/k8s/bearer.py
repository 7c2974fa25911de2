"""A bearer token for the Kubernetes API plus a description of whose token it is.

The description goes into "refused" errors: a 401/403 from the cluster is only actionable when the
message says which identity to grant access to (an IAM role, a Google service account, a managed
identity). Token providers describe the identity from what they know locally, without a network call.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import BadInputError


class ClusterCredentialsError(BadInputError):
    """The platform identity could not produce a token (no credentials, refresh refused)."""


@dataclass(frozen=True)
class BearerToken:
    token: str
    identity: str

    def __repr__(self) -> str:  # never show the token itself in a traceback or log record
        return f"BearerToken(identity={self.identity!r})"
