"""The EKS token decodes to a presigned STS GetCallerIdentity URL whose SigV4 signature covers the
``x-k8s-aws-id`` header. The signature is recomputed here from the AWS SigV4 spec (not by botocore),
with fixed test credentials; no network is involved."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest

from shared.errors import BadInputError
from shared.k8s.eks_auth import eks_token, fetch_token

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"
CLUSTER = "prod-cluster"


def decode(token: str) -> str:
    assert token.startswith("k8s-aws-v1.")
    body = token.removeprefix("k8s-aws-v1.")
    assert "=" not in body  # unpadded, as the EKS authenticator expects
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def expected_signature(url: str, *, cluster: str, secret: str) -> str:
    """SigV4 query-string signature of a GET with headers host and x-k8s-aws-id, per the AWS spec."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"]
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params))
    query = dict(params)
    headers = {"host": parts.netloc, "x-k8s-aws-id": cluster}
    signed = query["X-Amz-SignedHeaders"]
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in signed.split(";"))
    canonical_request = "\n".join(["GET", parts.path or "/", canonical_query, canonical_headers, signed,
                                   hashlib.sha256(b"").hexdigest()])
    amz_date = query["X-Amz-Date"]
    scope = query["X-Amz-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def test_token_is_a_signed_get_caller_identity_for_the_cluster() -> None:
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                    region_name=REGION)
    token = eks_token(cluster_name=CLUSTER, session=session)
    url = decode(token.token)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))

    assert (parts.scheme, parts.netloc, parts.path) == ("https", f"sts.{REGION}.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Expires"] == "60"
    date = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - date) < timedelta(minutes=1)
    assert query["X-Amz-Credential"] == f"{ACCESS_KEY}/{date:%Y%m%d}/{REGION}/sts/aws4_request"
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
    assert query["X-Amz-Signature"] == expected_signature(url, cluster=CLUSTER, secret=SECRET_KEY)
    # Bound to the cluster: the same URL claimed for another cluster does not verify.
    assert query["X-Amz-Signature"] != expected_signature(url, cluster="other-cluster", secret=SECRET_KEY)
    assert SECRET_KEY not in url
    assert f"cluster {CLUSTER!r}" in token.identity and "token" not in repr(token).replace("BearerToken", "")


def test_fetch_token_uses_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    token = fetch_token({"EKS_CLUSTER_NAME": CLUSTER, "AWS_REGION": "us-east-2"})
    query = dict(parse_qsl(urlsplit(decode(token.token)).query))
    assert "/us-east-2/sts/aws4_request" in query["X-Amz-Credential"]
    assert "credential source 'env'" in token.identity


@pytest.mark.parametrize(("env", "message"), [
    ({"AWS_REGION": REGION}, "EKS_CLUSTER_NAME is not set"),
    ({"EKS_CLUSTER_NAME": CLUSTER}, "AWS_REGION is not set"),
])
def test_missing_settings(env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(BadInputError, match=message):
        fetch_token(env)
