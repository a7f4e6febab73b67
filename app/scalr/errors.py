"""Errors of the Scalr Query API client; each says whether a retry may help."""

from __future__ import annotations


class ScalrError(Exception):
    """Base of every error the Scalr client raises."""

    retryable: bool = False

    def __init__(self, message: str, *, action: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, action={self.action!r})"


class ScalrConfigError(ValueError):
    """A Scalr environment setting that cannot be used; the message names where it came from."""


class ScalrActionNotSupported(ScalrError):
    """An action refused before sending: unknown, too new for the Version, or bad parameters."""


class ScalrAPIError(ScalrError):
    """Scalr answered with an <Error> document (protocol 3.4)."""

    def __init__(
        self, message: str, transaction_id: str | None = None, action: str | None = None
    ) -> None:
        super().__init__(message, action=action)
        self.transaction_id = transaction_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, transaction_id={self.transaction_id!r}, "
            f"action={self.action!r})"
        )


class ScalrLaunchFailed(ScalrAPIError):
    """ServerLaunch answered an empty <ServerID/>: the cloud launch failed (Scalr <= 4.x)."""


class ScalrTransportError(ScalrError):
    """The call did not produce a usable answer: network, timeout, 5xx or unparsable body."""

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        status_code: int | None = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, action=action)
        self.status_code = status_code
        self.retryable = retryable


class ScalrRateLimited(ScalrError):
    """Scalr answered 429, or our own hourly budget for the environment is spent."""

    retryable = True

    def __init__(
        self,
        message: str,
        retry_after_seconds: float,
        *,
        action: str | None = None,
        local: bool = False,
    ) -> None:
        super().__init__(message, action=action)
        self.retry_after_seconds = retry_after_seconds
        self.local = local


class ScalrVersionError(ScalrError):
    """Scalr refused the API Version (HTTP 400 with an empty body, protocol 3.4)."""

    def __init__(self, version: str, *, action: str | None = None) -> None:
        super().__init__(
            f"Scalr does not support API Version {version!r} (HTTP 400, empty body)", action=action
        )
        self.version = version
