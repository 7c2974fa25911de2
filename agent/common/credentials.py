"""Where the database password comes from: MARIADB_PASSWORD, MARIADB_PASSWORD_FILE or the Secret.

shared.config has already refused two sources at once, so exactly one of the three applies here.
"""

from __future__ import annotations

from shared.config import ConfigError, SourceSettings


def resolve_password(source: SourceSettings) -> str:
    """MARIADB_PASSWORD, else MARIADB_PASSWORD_FILE, else the Kubernetes Secret (key MARIADB_HA_SECRET_KEY)."""
    if source.password is not None:
        return source.password
    if source.password_file is not None:
        try:
            return source.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"MARIADB_PASSWORD_FILE {source.password_file}: cannot read it ({type(exc).__name__})"
            ) from None
    from shared.k8s.secret import read_root_password  # the kubernetes client is heavy: import only when used

    assert source.namespace and source.secret_name  # guaranteed by load_source
    return read_root_password(namespace=source.namespace, secret_name=source.secret_name, key=source.secret_key)
