"""The one boundary error of the OVF package.

Every refusal of untrusted input (descriptor, manifest, archive, disk
bytes) is an :class:`OVFError`; the API maps it to a 400 and the CLI to
exit status 2. Programming errors stay ordinary exceptions.
"""


class OVFError(Exception):
    """Refuse an OVF package, with a reason a user can act on.

    Attributes:
        reason: One human-readable sentence, safe to show to the client
            (it never contains file contents, only names and numbers).
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
