"""HTTP for the CIMI client: one small interface, two implementations.

A transport sends one request and returns a :class:`Response`; it never
interprets CIMI. :class:`HttpTransport` uses the standard library (what the
``cimi`` command uses); the Libcloud driver plugs in its own Connection.
"""
import base64
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from cimiclient.errors import ConnectionFailed


class Headers(dict):
    """Response headers, looked up case-insensitively (servers spell them freely)."""

    def __init__(self, items=()):
        super().__init__((k.lower(), v) for k, v in dict(items).items())

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)

    def __contains__(self, key):
        return super().__contains__(key.lower())


@dataclass
class Response:
    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""


def with_query(url: str, params: dict | None) -> str:
    """The URL with the query parameters appended (values percent-encoded)."""
    if not params:
        return url
    query = urllib.parse.urlencode([(k, v) for k, v in params.items() if v is not None], safe="$")
    return url + ("&" if "?" in url else "?") + query if query else url


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class HttpTransport:
    """Requests over urllib with HTTP Basic authentication."""

    def __init__(self, user: str | None = None, password: str | None = None, timeout: float = 60):
        self.auth = basic_auth(user, password or "") if user else None
        self.timeout = timeout

    def request(self, method: str, url: str, params: dict | None = None, body: bytes | None = None,
                headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        if self.auth:
            headers["Authorization"] = self.auth
        req = urllib.request.Request(with_query(url, params), data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return Response(resp.status, Headers(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Response(exc.code, Headers(exc.headers.items()), exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectionFailed(f"cannot reach {url}: {reason}") from exc
