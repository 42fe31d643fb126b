"""The one table of CIMI statuses (cimi/errors.py), shared by the HTTP app and the Job runner."""
import pytest

import backends
from cimi import errors

CIMI = [(errors.BadRequest, 400), (errors.Forbidden, 403), (errors.NotFound, 404), (errors.NotAcceptable, 406),
        (errors.Conflict, 409), (errors.PreconditionFailed, 412), (errors.PayloadTooLarge, 413),
        (errors.UnsupportedMediaType, 415), (errors.RangeNotSatisfiable, 416), (errors.TooManyRequests, 429),
        (errors.CimiError, 500), (errors.NotImplementedYet, 501), (errors.ServiceUnavailable, 503)]
BACKEND = [(backends.NotFound, 409), (backends.Conflict, 409), (backends.Unsupported, 501),
           (backends.Unavailable, 503), (backends.BackendError, 500)]


@pytest.mark.parametrize("cls, status", CIMI)
def test_each_domain_error_has_its_status_and_is_plain_data(cls, status):
    exc = cls("what went wrong")
    assert errors.status_of(exc) == status
    assert exc.message == str(exc) == "what went wrong" and exc.headers == {}
    assert all(c.__module__ in ("builtins", "cimi.errors") for c in type(exc).__mro__)     # no falcon


@pytest.mark.parametrize("cls, status", BACKEND)
def test_a_backend_error_has_the_same_status_raw_or_as_a_cimi_error(cls, status):
    assert errors.status_of(cls("gone")) == errors.status_of(errors.BackendFailure(cls("gone"))) == status


def test_headers_are_plain_data():
    assert errors.MethodNotAllowed("no", allowed=["GET", "PUT"]).headers == {"Allow": "GET, PUT"}
    assert errors.status_of(errors.MethodNotAllowed("no", allowed=["GET"])) == 405
    assert errors.Unauthorized().headers == {"WWW-Authenticate": 'Basic realm="cimi"'}
    assert errors.status_of(errors.Unauthorized()) == 401
    unavailable = errors.BackendFailure(backends.Unavailable("restarting"))
    assert unavailable.headers == {"Retry-After": "5"}
    assert unavailable.message == "the hypervisor is unavailable: restarting"


def test_anything_else_is_a_500():
    assert errors.status_of(ValueError("bug")) == 500
