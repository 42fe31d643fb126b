"""CIMI errors: plain domain errors, and the one table that gives each its CIMI status.

Everything a caller can get wrong, or that goes wrong on its behalf, is raised
as one of these with a message (and, rarely, response headers as plain data).
`STATUS` says which CIMI/HTTP status each error class answers, backend errors
(backends/base.py) included; cimi/http renders them with it and the Job
runner sets a failed Job's returnCode from it, so both always agree.
"""
from typing import NamedTuple

import backends


class CimiError(Exception):
    """An error a CIMI client is told about: its message, and headers the answer carries."""

    def __init__(self, message, headers=None):
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(CimiError):
    """The request is malformed or asks for something invalid."""


class Unauthorized(CimiError):
    """No credentials, or wrong ones: the answer challenges for Basic authentication."""

    def __init__(self, message="authentication required"):
        super().__init__(message, headers={"WWW-Authenticate": 'Basic realm="cimi"'})


class Forbidden(CimiError):
    """The caller is known but may not do this."""


class NotFound(CimiError):
    """No such resource, or none the caller may see."""


class MethodNotAllowed(CimiError):
    """The resource does not offer this method; the answer lists those it does (Allow)."""

    def __init__(self, message, allowed):
        super().__init__(message, headers={"Allow": ", ".join(allowed)})


class NotAcceptable(CimiError):
    """The client accepts no format we answer in."""


class Conflict(CimiError):
    """The request contradicts the resource's state (or another resource's)."""


class PreconditionFailed(CimiError):
    """An If-Match names a version that is no longer current."""


class PayloadTooLarge(CimiError):
    """A body or an upload over its configured limit."""


class UnsupportedMediaType(CimiError):
    """A body in a format we do not read."""


class RangeNotSatisfiable(CimiError):
    """A Range outside the file served."""


class TooManyRequests(CimiError):
    """Too many attempts (failed logins); Retry-After says when to try again."""


class NotImplementedYet(CimiError):
    """Something CIMI defines that this provider (or its backend) does not offer."""


class ServiceUnavailable(CimiError):
    """The service cannot answer now; try again later."""


class BackendFailure(CimiError):
    """A backend error that ends a call at once, read as the table says (no waiting for the hypervisor)."""

    def __init__(self, cause):
        answer = _answer(cause)
        super().__init__(answer.says.format(cause), headers=answer.headers)
        self.cause = cause


class Answer(NamedTuple):
    status: int
    says: str = "{}"           # the message a client reads, from the error's own text
    headers: dict = {}


# The one table: error class -> its CIMI/HTTP status; the most specific class of an error wins.
STATUS = {
    CimiError: Answer(500),
    BadRequest: Answer(400),
    Unauthorized: Answer(401),
    Forbidden: Answer(403),
    NotFound: Answer(404),
    MethodNotAllowed: Answer(405),
    NotAcceptable: Answer(406),
    Conflict: Answer(409),
    PreconditionFailed: Answer(412),
    PayloadTooLarge: Answer(413),
    UnsupportedMediaType: Answer(415),
    RangeNotSatisfiable: Answer(416),
    TooManyRequests: Answer(429),
    NotImplementedYet: Answer(501),
    ServiceUnavailable: Answer(503),
    backends.BackendError: Answer(500, "backend failure: {}"),
    backends.NotFound: Answer(409, "the hypervisor no longer has it: {}"),
    backends.Conflict: Answer(409),
    backends.Unsupported: Answer(501),
    backends.Unavailable: Answer(503, "the hypervisor is unavailable: {}", {"Retry-After": "5"}),
}
_UNEXPECTED = Answer(500)


def _answer(exc):
    if isinstance(exc, BackendFailure):
        exc = exc.cause
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), _UNEXPECTED)


def status_of(exc):
    """The CIMI/HTTP status an error answers (500 for anything not in the table)."""
    return _answer(exc).status
