"""AKS bearer token: an Entra ID token for the AKS AAD server application.

AKS clusters with Entra ID integration accept tokens whose audience is the well-known AKS server
app id below; Azure RBAC (or a Kubernetes RoleBinding) grants that identity access. Credentials come
from azure-identity's default chain: on a Function App, its managed identity (``AZURE_CLIENT_ID``
picks a user-assigned one).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.k8s.bearer import BearerToken, ClusterCredentialsError

# The Azure Kubernetes Service AAD Server application, the same for every tenant.
AKS_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"


def fetch_token(env: Mapping[str, str]) -> BearerToken:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    client_id = env.get("AZURE_CLIENT_ID")
    identity = (f"managed identity with client id {client_id!r}" if client_id
                else "the Function App's system-assigned managed identity")
    credential = DefaultAzureCredential()
    try:
        token = credential.get_token(AKS_SCOPE).token
    except ClientAuthenticationError as exc:
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise ClusterCredentialsError(f"could not get an Entra ID token for AKS as {identity}: {message}") from None
    finally:
        credential.close()
    return BearerToken(token=token, identity=identity)
