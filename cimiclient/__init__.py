"""The CIMI client library shared by the ``cimi`` command and the Libcloud driver."""
from cimiclient.client import (
                                ACTION,
                                CONSOLE,
                                ITEMS,
                                NS,
                                Client,
                                Result,
                                filter_literal,
                                items_of,
                                short_id,
)
from cimiclient.errors import (
                                Ambiguous,
                                BadRequest,
                                CimiError,
                                Conflict,
                                ConnectionFailed,
                                Forbidden,
                                JobFailed,
                                JobTimeout,
                                NotFound,
                                NotImplementedByServer,
                                NotOffered,
                                Unauthorized,
                                Unavailable,
)
from cimiclient.transport import HttpTransport, Response

__all__ = ["ACTION", "CONSOLE", "Ambiguous", "NotOffered", "ITEMS", "NS", "BadRequest", "CimiError", "Client", "Conflict", "ConnectionFailed",
           "Forbidden", "HttpTransport", "JobFailed", "JobTimeout", "NotFound", "NotImplementedByServer",
           "Response", "Result", "Unauthorized", "Unavailable", "filter_literal", "items_of", "short_id"]
