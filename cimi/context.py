"""Who asks, where the API lives, and the services a request can use."""
from dataclasses import dataclass
from typing import Any


@dataclass
class Context:
    user: Any              # cimi.store.users.User, or None for the server itself (jobs, seeding)
    base: str              # absolute base URI ending in "/", e.g. http://h:8080/cimi/
    cloud: Any             # cimi.cloud.Cloud

    @property
    def admin(self):
        return self.user is None or self.user.admin

    @property
    def owner(self):
        """Owner of what this context creates (None: the provider's)."""
        return None if self.user is None else self.user.name
