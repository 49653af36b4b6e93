"""Sending one text message through an HTTP SMS gateway.

The gateway speaks Twilio's Messages API (the most widely copied SMS HTTP API):
``POST {base}/2010-04-01/Accounts/{account}/Messages.json`` with form fields ``To``,
``From``, ``Body`` and HTTP basic auth (account, token); 201 with ``{"sid": ...}``.
A connection error, a timeout, 5xx or 429 means "try again later" (``GatewayDown``); any
other 4xx is the gateway refusing this message for good (``GatewayRefused``: a bad number,
an opted-out recipient) with its own ``code`` and ``message``."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


class GatewayDown(Exception):
    """Temporary: the message waits for its next attempt."""


class GatewayRefused(Exception):
    """Permanent: the message is recorded as failed with the gateway's reason."""


@dataclass(frozen=True)
class HttpGateway:
    base_url: str
    account: str
    token: str
    sender: str
    timeout_s: float = 10.0

    def send(self, to: str, body: str, client: httpx.Client | None = None) -> str:
        """The gateway's id of the accepted message."""
        url = f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account}/Messages.json"
        own = client is None
        client = client or httpx.Client(timeout=self.timeout_s)
        try:
            r = client.post(
                url,
                data={"To": to, "From": self.sender, "Body": body},
                auth=(self.account, self.token),
            )
        except httpx.HTTPError as exc:
            raise GatewayDown(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if own:
                client.close()
        if r.status_code >= 500 or r.status_code == 429:
            raise GatewayDown(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            try:
                info = r.json()
                reason = f"{info.get('code', r.status_code)}: {info.get('message', '')}"
            except ValueError:
                reason = f"HTTP {r.status_code}: {r.text[:200]}"
            if r.status_code in (401, 403):
                # Our credentials are wrong: every message would fail; keep them waiting.
                raise GatewayDown(f"the gateway refused our credentials ({reason})")
            raise GatewayRefused(reason)
        try:
            return str(r.json().get("sid", ""))[:64]
        except ValueError:
            return ""
