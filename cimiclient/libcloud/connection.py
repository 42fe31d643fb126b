"""Libcloud's Connection as the CIMI client's transport (HTTP Basic, libcloud's session and retries)."""
import urllib.parse

from libcloud.common.base import ConnectionUserAndKey, JsonResponse

from cimiclient import Response
from cimiclient.transport import Headers, basic_auth


class CIMIResponse(JsonResponse):
    """Every answer goes back to the CIMI client, which raises for error answers (cimiclient.errors)."""

    def __init__(self, response, connection):
        self.content = response.content       # the bytes as sent (libcloud's body is stripped text)
        super().__init__(response, connection)

    def success(self):
        return True

    def parse_body(self):
        if not self.body:
            return None
        if not self.headers.get("content-type", "").startswith("application/json"):
            return self.body
        return super().parse_body()


class CIMIConnection(ConnectionUserAndKey):
    """HTTP Basic authentication with the user name as key and the password as secret."""

    responseCls = CIMIResponse

    def add_default_headers(self, headers):
        headers["Authorization"] = basic_auth(self.user_id, self.key)
        headers.setdefault("Accept", "application/json")
        return headers


class LibcloudTransport:
    """The shared CIMI client's transport, over a libcloud Connection."""

    def __init__(self, connection):
        self.connection = connection

    def request(self, method, url, params=None, body=None, headers=None) -> Response:
        parts = urllib.parse.urlsplit(url)
        action = parts.path + ("?" + parts.query if parts.query else "")
        params = {k: v for k, v in (params or {}).items() if v is not None}
        resp = self.connection.request(action, params=params, data=body, headers=headers or {}, method=method)
        return Response(resp.status, Headers(resp.headers), resp.content or b"")
