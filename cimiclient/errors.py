"""What can go wrong talking to a CIMI provider, as exceptions carrying the server's words.

A CIMI error answer is a Job-shaped document (DSP0263 4.2.2) whose
``statusMessage`` says what went wrong; :func:`from_response` turns one into
the matching exception so callers can catch by meaning (404, 409, ...).
"""
import json


class CimiError(Exception):
    """An error answer from the provider, or a failure to reach it.

    ``status`` is the HTTP status (None when no answer came), ``message`` the
    provider's statusMessage (or our own words), ``body`` the decoded error
    document when there was one.
    """

    status = None

    def __init__(self, message, status=None, body=None):
        super().__init__(message)
        self.message = message
        self.answered = status is not None        # the provider said so (not refused on our side)
        if status is not None:
            self.status = status
        self.body = body

    def __str__(self):
        return f"{self.message} (HTTP {self.status})" if self.answered else self.message


class BadRequest(CimiError):
    status = 400


class Unauthorized(CimiError):
    status = 401


class Forbidden(CimiError):
    status = 403


class NotFound(CimiError):
    status = 404


class Conflict(CimiError):
    status = 409


class Ambiguous(Conflict):
    """A name given where an id was expected matches several resources."""


class NotOffered(Conflict):
    """The resource does not advertise the operation asked for (in its current state)."""


class NotImplementedByServer(CimiError):
    status = 501


class Unavailable(CimiError):
    status = 503


class ConnectionFailed(CimiError):
    """No HTTP answer at all: refused, unresolvable, timed out."""


class JobFailed(CimiError):
    """A Job ended FAILED or STOPPED; ``job`` is its last representation."""

    def __init__(self, job):
        self.job = job
        state = job.get("state", "FAILED")
        reason = job.get("statusMessage") or f"the job ended {state}"
        super().__init__(f"job {state.lower()}: {reason}", None, job)


class JobTimeout(CimiError):
    """A Job was still running when the caller stopped waiting."""

    def __init__(self, job, timeout):
        self.job = job
        super().__init__(f"job {job.get('id', '')} still {job.get('state')} after {timeout:g}s")


_BY_STATUS = {cls.status: cls for cls in (BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
                                          NotImplementedByServer, Unavailable)}


def message_of(body: bytes, status: int) -> tuple[str, dict | None]:
    """The provider's message from an error body (JSON or XML Job), else a plain one."""
    text = body.decode("utf-8", "replace") if body else ""
    doc = None
    try:
        doc = json.loads(text) if text.strip().startswith("{") else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        message = doc.get("statusMessage") or doc.get("message")
        if message:
            return str(message), doc
    if text.lstrip().startswith("<"):
        try:
            from lxml import etree
            root = etree.fromstring(body)
            found = root.xpath("//*[local-name()='statusMessage']/text()")
            if found:
                return str(found[0]), None
        except Exception:  # noqa: BLE001 - an unreadable error body still yields the status line below
            pass
    return (text.strip()[:200] or f"HTTP {status}"), doc


def from_response(status: int, body: bytes) -> CimiError:
    """The exception for an error answer, with the provider's statusMessage."""
    message, doc = message_of(body, status)
    cls = _BY_STATUS.get(status, CimiError)
    return cls(message, status, doc)
