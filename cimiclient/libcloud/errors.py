"""Libcloud's exception types for what the CIMI client raises: the one mapping, applied to every call.

The client library has the one error hierarchy (cimiclient/errors.py: the
server's answers and our own refusals alike); a driver method lets any of
them out only as the libcloud type a Libcloud user catches. The driver's own
types (:class:`CIMIError` and below) stay in that hierarchy too: each is a
libcloud ``ProviderError`` and a :class:`cimiclient.CimiError` at once.
"""
import functools
import inspect

from libcloud.common.types import InvalidCredsError, LibcloudError, ProviderError, ServiceUnavailableError

from cimiclient import CimiError, ConnectionFailed, Forbidden, JobFailed, JobTimeout, NotFound, Unauthorized
from cimiclient.errors import Conflict, Unavailable


class CIMIError(ProviderError, CimiError):
    """A CIMI error: ``http_code``, the provider's statusMessage as ``value``, the error document as ``body``.

    Being a :class:`CimiError` as well, it also carries ``status`` and ``message``.
    """

    def __init__(self, value, http_code, driver=None, body=None):
        ProviderError.__init__(self, value, http_code, driver)
        CimiError.__init__(self, value, http_code, body)


class CIMINotFoundError(CIMIError):
    """The resource does not exist (or the user may not see it): HTTP 404."""


class CIMIConflictError(CIMIError):
    """Not allowed in the resource's current state, or a name matching several resources: HTTP 409."""


class CIMIServiceUnavailableError(CIMIError, ServiceUnavailableError):
    """The provider cannot serve now (HTTP 503): retry later."""


class CIMIJobFailedError(CIMIError):
    """The operation's CIMI Job ended FAILED; ``job`` is its last representation."""

    def __init__(self, value, http_code, driver=None, body=None):
        super().__init__(value, http_code, driver, body)
        self.job = body


_BY_TYPE = ((JobFailed, CIMIJobFailedError), (NotFound, CIMINotFoundError), (Conflict, CIMIConflictError),
            (Unavailable, CIMIServiceUnavailableError))


def to_libcloud(exc: CimiError, driver=None) -> LibcloudError:
    """The libcloud exception for a client error."""
    if isinstance(exc, (Unauthorized, Forbidden)):
        return InvalidCredsError(exc.message, driver)
    if isinstance(exc, (ConnectionFailed, JobTimeout)):
        return LibcloudError(exc.message, driver)
    cls = next((lc for cimi, lc in _BY_TYPE if isinstance(exc, cimi)), CIMIError)
    return cls(exc.message, exc.status, driver, exc.body)


def mapped(cls):
    """Class decorator: every public method of ``cls`` raises libcloud types only."""
    for name, method in list(vars(cls).items()):
        if inspect.isfunction(method) and not name.startswith("_"):
            setattr(cls, name, _mapping(method))
    return cls


def _mapping(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except LibcloudError:   # already mapped (one driver method calling another): as it is
            raise
        except CimiError as exc:
            raise to_libcloud(exc, self) from exc
    return call
