"""The public pages' own refusal: too many requests."""

from __future__ import annotations

from aefi.errors import DomainError
from aefi.i18n import N_

TOO_MANY = N_("Too many requests; wait {seconds} seconds and try again. Nothing was lost.")


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(TOO_MANY, seconds=retry_after)
        self.wait_s = retry_after  # the API handler sends it as Retry-After
