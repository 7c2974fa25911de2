"""GKE bearer token: an OAuth access token of the function's Google service account.

GKE accepts Google access tokens directly; it needs the ``userinfo.email`` scope to learn which
account is calling (RBAC and IAM bind to that email) and ``cloud-platform`` for the container API.
Credentials come from ``google.auth.default()`` (the runtime service account on Cloud Run functions).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.k8s.bearer import BearerToken, ClusterCredentialsError

SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
)


def fetch_token(env: Mapping[str, str]) -> BearerToken:
    import google.auth
    import google.auth.transport.requests
    from google.auth.exceptions import GoogleAuthError

    try:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
        credentials.refresh(google.auth.transport.requests.Request())
    except GoogleAuthError as exc:
        raise ClusterCredentialsError(f"could not get a Google access token for GKE: {_first_line(exc)}") from None
    if not credentials.token:
        raise ClusterCredentialsError("google-auth returned no access token for GKE")
    email = getattr(credentials, "service_account_email", None)
    identity = (f"Google service account {email!r}" if email
                else "the Google application default credentials")
    return BearerToken(token=credentials.token, identity=identity)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
