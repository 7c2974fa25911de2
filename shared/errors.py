"""The two kinds of failure every entry point must tell apart, and the exit codes they map to.

A ``BadInputError`` means retrying cannot help (bad configuration, credentials, a missing Secret or
bucket): exit 2, one line on stderr, nothing written. Kubernetes' podFailurePolicy turns exit 2 into
FailJob so a bad config is not retried by the Job controller either. Everything else that escapes
the retries is a ``BackupFailedError`` (exit 1). Specific errors subclass these where they are raised.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ALREADY_RUNNING = 3
EXIT_GAP = 4  # archive-binlogs (without --follow) recorded a gap in the binlog archive
# 128+N: stopped by signal N, after cleaning up (agent.cli)


class ToolError(Exception):
    """Base of the errors this tool raises on purpose; ``str()`` is safe to show a user."""

    exit_code = EXIT_FAILED


class BadInputError(ToolError):
    exit_code = EXIT_BAD_INPUT


class BackupFailedError(ToolError):
    exit_code = EXIT_FAILED


class VerifyFailedError(BackupFailedError):
    """A stored artifact does not match its records (SHA1, sizes, chain); ``str()`` lists every difference."""


class AlreadyRunningError(ToolError):
    exit_code = EXIT_ALREADY_RUNNING


class TerminatedError(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM/SIGINT arrives.

    It subclasses KeyboardInterrupt on purpose: libraries such as s3transfer treat that as "cancel
    and clean up" (abort the multipart upload), and ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum
