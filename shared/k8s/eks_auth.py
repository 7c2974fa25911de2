"""EKS bearer token: a presigned STS GetCallerIdentity URL, as ``aws eks get-token`` makes it.

The API server's authenticator calls the URL; STS answers with the caller's ARN, which EKS maps to
a Kubernetes user through an access entry. The ``x-k8s-aws-id`` header is part of the signature so
the token is only valid for the named cluster. Signing is local: no network call happens here.

Environment: ``EKS_CLUSTER_NAME`` and the region (``AWS_REGION``, which Lambda always sets).
Credentials come from the default chain (the Lambda execution role).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.config import ConfigError
from shared.k8s.bearer import BearerToken, ClusterCredentialsError

if TYPE_CHECKING:
    import boto3

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105  # the format marker EKS expects, not a credential
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# Same as aws-iam-authenticator and `aws eks get-token`; the API server accepts the token for 15 min.
_PRESIGN_EXPIRES_SECONDS = 60


def fetch_token(env: Mapping[str, str]) -> BearerToken:
    import boto3

    cluster = env.get("EKS_CLUSTER_NAME", "").strip()
    if not cluster:
        raise ConfigError("EKS_CLUSTER_NAME is not set: the EKS token is bound to one cluster")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError("AWS_REGION is not set: the STS endpoint of the token is regional")
    return eks_token(cluster_name=cluster, session=boto3.session.Session(region_name=region))


def eks_token(*, cluster_name: str, session: boto3.session.Session) -> BearerToken:
    """``k8s-aws-v1.`` + unpadded base64url of the presigned GetCallerIdentity URL."""
    from botocore.model import ServiceId
    from botocore.signers import RequestSigner

    region = session.region_name
    credentials = session.get_credentials()
    if credentials is None or region is None:
        raise ClusterCredentialsError("no AWS credentials or region for the EKS token (default credential chain)")
    signer = RequestSigner(ServiceId("sts"), region, "sts", "v4", credentials, session.events)
    url = signer.generate_presigned_url(
        {
            "method": "GET",
            "url": f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            "body": {},
            "headers": {CLUSTER_ID_HEADER: cluster_name},
            "context": {},
        },
        region_name=region,
        expires_in=_PRESIGN_EXPIRES_SECONDS,
        operation_name="",
    )
    token = TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    identity = (f"the AWS identity from credential source {credentials.method!r} "
                f"(see `aws sts get-caller-identity`; it needs an EKS access entry on cluster {cluster_name!r})")
    return BearerToken(token=token, identity=identity)
