"""Mail goes out from the outbox on the background timer."""

from aefi import background
from aefi.notifications import service

background.register("deliver_outbox", lambda session: service.deliver_outbox(session), 30)
