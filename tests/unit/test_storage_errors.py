"""Each SDK's failures become the storage error that decides the exit code and whether to retry.

No network: SDK exceptions are built the way the SDKs raise them, and the configuration failures
below fail before any request is sent. The same mapping runs against real servers in
``tests/integration/test_storage_contract.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import EXIT_BAD_INPUT, EXIT_FAILED
from shared.storage import (
    ObjectNotFoundError,
    StorageConfigError,
    StorageError,
    TransientStorageError,
    open_storage,
)

MISSING_IS_CONFIG = StorageConfigError


def s3_client_error(code: str, status: int, message: str = "text from S3") -> Exception:
    from botocore.exceptions import ClientError

    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchBucket", 404, StorageConfigError),
        ("AccessDenied", 403, StorageConfigError),
        ("InvalidAccessKeyId", 403, StorageConfigError),
        ("SignatureDoesNotMatch", 403, StorageConfigError),
        ("NoSuchKey", 404, ObjectNotFoundError),
        ("404", 404, ObjectNotFoundError),  # HeadObject has no body, only the status
        ("SlowDown", 503, TransientStorageError),
        ("InternalError", 500, TransientStorageError),
        ("RequestTimeout", 400, TransientStorageError),
        ("InvalidArgument", 400, StorageError),
    ],
)
def test_s3_client_errors(code: str, status: int, expected: type[Exception]) -> None:
    from shared.storage.s3 import _translate

    error = _translate(s3_client_error(code, status), what="read s3://b/k")

    assert type(error) is expected
    assert str(error).startswith("read s3://b/k: ") and code in str(error)


def test_s3_transport_and_credential_errors() -> None:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError

    from shared.storage.s3 import _translate

    assert type(_translate(NoCredentialsError(), what="w")) is StorageConfigError
    assert type(_translate(EndpointConnectionError(endpoint_url="http://x"), what="w")) is TransientStorageError
    assert type(_translate(ReadTimeoutError(endpoint_url="http://x"), what="w")) is TransientStorageError


def test_gcs_errors() -> None:
    from google.api_core import exceptions as gx
    from google.auth.exceptions import DefaultCredentialsError
    from requests import ConnectionError as RequestsConnectionError

    from shared.storage.gcs import _translate

    def kind(exc: Exception, missing: type[Exception] = ObjectNotFoundError) -> type[Exception]:
        return type(_translate(exc, what="w", missing=missing))

    assert kind(gx.NotFound("no such bucket"), missing=MISSING_IS_CONFIG) is StorageConfigError
    assert kind(gx.NotFound("no such object")) is ObjectNotFoundError
    assert kind(gx.Forbidden("denied")) is StorageConfigError
    assert kind(gx.Unauthorized("who")) is StorageConfigError
    assert kind(gx.ServiceUnavailable("busy")) is TransientStorageError
    assert kind(gx.TooManyRequests("slow down")) is TransientStorageError
    assert kind(RequestsConnectionError("reset")) is TransientStorageError
    assert kind(DefaultCredentialsError("none")) is StorageConfigError
    assert kind(gx.Conflict("precondition")) is StorageError


def test_azure_errors_never_echo_the_service_message() -> None:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    from shared.storage.azure import _translate

    def http(cls: type[HttpResponseError], code: str, status: int) -> HttpResponseError:
        error = cls(message="Signature did not match. AccountKey=c2VjcmV0LWtleQ==")
        error.status_code = status
        error.error_code = code  # type: ignore[attr-defined]  # azure.storage sets it at runtime
        return error

    cases = [
        (http(ResourceNotFoundError, "ContainerNotFound", 404), StorageConfigError),
        (http(ResourceNotFoundError, "BlobNotFound", 404), ObjectNotFoundError),
        (http(ClientAuthenticationError, "AuthenticationFailed", 403), StorageConfigError),
        (http(HttpResponseError, "AuthorizationPermissionMismatch", 403), StorageConfigError),
        (http(HttpResponseError, "ServerBusy", 503), TransientStorageError),
        (http(HttpResponseError, "LeaseIdMissing", 412), StorageError),
        (ServiceRequestError("connection refused"), TransientStorageError),
        (ServiceResponseError("connection reset"), TransientStorageError),
    ]
    for exc, expected in cases:
        error = _translate(exc, what="list azblob://c/p", missing=ObjectNotFoundError)
        assert type(error) is expected, exc
        assert "c2VjcmV0" not in str(error)


def test_storage_error_classes_decide_exit_codes() -> None:
    assert StorageConfigError("x").exit_code == EXIT_BAD_INPUT
    for cls in (StorageError, TransientStorageError, ObjectNotFoundError):
        assert cls("x").exit_code == EXIT_FAILED


def test_s3_without_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    storage = open_storage("s3://bucket?region=eu-west-1&endpoint=http://127.0.0.1:9")

    with pytest.raises(StorageConfigError, match="credentials"):
        list(storage.list(""))


def test_gcs_with_a_missing_credentials_file_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))

    with pytest.raises(StorageConfigError, match="credentials"):
        list(open_storage("gs://bucket").list(""))


def test_azure_without_connection_string_or_account_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT", raising=False)

    with pytest.raises(StorageConfigError, match="AZURE_STORAGE_ACCOUNT"):
        open_storage("azblob://container")


@pytest.mark.parametrize("url", ["s3://", "gs://", "azblob://"])
def test_a_url_without_bucket_is_a_config_error(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")

    with pytest.raises(StorageConfigError, match=r"bucket|container"):
        open_storage(url)


def test_malformed_azure_connection_string_is_a_config_error_that_hides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=a;AccountKey=c2VjcmV0LWtleQ==;garbage")

    with pytest.raises(StorageConfigError) as caught:
        list(open_storage("azblob://container").list(""))
    assert "c2VjcmV0" not in str(caught.value)


def test_malformed_s3_endpoint_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    with pytest.raises(StorageConfigError, match="endpoint"):
        list(open_storage("s3://bucket?region=eu-west-1&endpoint=not-a-url").list(""))
