"""CIMI errors: one exception type per HTTP status, rendered by app.py.

Everything a client can get wrong ends here as a 4xx with a message; backend
faults are translated once (`from_backend`).
"""
import falcon

import backends


class CimiError(falcon.HTTPError):
    status_code = 500

    def __init__(self, message, headers=None):
        super().__init__(falcon.code_to_http_status(self.status_code), title=message,
                         description=message, headers=headers)


def _error(code, name):
    return type(name, (CimiError,), {"status_code": code})


BadRequest = _error(400, "BadRequest")
Forbidden = _error(403, "Forbidden")
NotFound = _error(404, "NotFound")
NotAcceptable = _error(406, "NotAcceptable")
RangeNotSatisfiable = _error(416, "RangeNotSatisfiable")
Conflict = _error(409, "Conflict")
PreconditionFailed = _error(412, "PreconditionFailed")
PayloadTooLarge = _error(413, "PayloadTooLarge")
UnsupportedMediaType = _error(415, "UnsupportedMediaType")
TooManyRequests = _error(429, "TooManyRequests")
NotImplementedYet = _error(501, "NotImplemented")
ServiceUnavailable = _error(503, "ServiceUnavailable")


class MethodNotAllowed(CimiError):
    status_code = 405

    def __init__(self, message, allowed):
        super().__init__(message, headers={"Allow": ", ".join(allowed)})


class Unauthorized(CimiError):
    status_code = 401

    def __init__(self, message="authentication required"):
        super().__init__(message, headers={"WWW-Authenticate": 'Basic realm="cimi"'})


def from_backend(exc):
    """Map a backend error to what the caller of a synchronous call sees."""
    if isinstance(exc, backends.Unavailable):
        return ServiceUnavailable(f"the hypervisor is unavailable: {exc}", headers={"Retry-After": "5"})
    if isinstance(exc, backends.NotFound):
        return Conflict(f"the hypervisor no longer has it: {exc}")
    if isinstance(exc, backends.Conflict):
        return Conflict(str(exc))
    if isinstance(exc, backends.Unsupported):
        return NotImplementedYet(str(exc))
    return CimiError(f"backend failure: {exc}")
