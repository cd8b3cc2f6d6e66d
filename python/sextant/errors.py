"""The exceptions Sextant raises: one per engine status code.

Every class derives from :class:`SextantError` and from the builtin that fits
its code, so ``except ValueError`` catches bad input as it would elsewhere.
The message is the engine's: it names the field, the sample id or row and what
was expected.
"""

from ._core import (
    AlreadyExistsError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    SextantError,
    SextantIOError,
    UnauthenticatedError,
)

__all__ = [
    "AlreadyExistsError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "SextantError",
    "SextantIOError",
    "UnauthenticatedError",
]
