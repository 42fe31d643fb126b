"""The one error type of the collection query language.

Every user mistake in a ``$filter``, ``$orderby``, ``$first``/``$last``,
``$select`` or ``$expand`` parameter surfaces as a :class:`QueryError`, so
the HTTP layer maps a single type to 400 Bad Request (DSP0263 4.1.6).
"""


class QueryError(ValueError):
    """A collection query parameter the provider refuses.

    Attributes:
        message: What is wrong, phrased for the API consumer.
        position: 0-based character offset into the offending parameter
            value, or None when the problem has no single location.
    """

    def __init__(self, message, position=None):
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self):
        if self.position is None:
            return self.message
        return f"{self.message} at {self.position}"


class FilterError(QueryError):
    """A ``$filter`` expression that does not parse or does not type-check."""
