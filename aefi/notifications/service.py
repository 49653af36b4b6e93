"""Tell the users whom an event concerns: in the app at once, by e-mail through the outbox."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from sqlmodel import Session, col, func, select

from aefi import clock, outbox
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.auth.users import service as auth_users
from aefi.errors import NotFound
from aefi.notifications.models import Notification, OutboxMessage, OutboxStatus
from aefi.settings import Settings, get_settings

MAX_ATTEMPTS = 12  # with doubling back-off from 30 s: about 17 hours of retries


def notify(
    session: Session,
    *,
    county_id: int,
    roles: tuple[Role, ...],
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    urgent: bool = False,
    site_id: int | None = None,
    hospital_id: int | None = None,
    settings: Settings | None = None,
) -> list[Notification]:
    """Notify every active user of these roles in scope; queue mail for those with an
    address when SMTP is configured. Runs in the caller's transaction."""
    settings = settings or get_settings()
    users = auth_users.users_to_notify(
        session, county_id, roles, site_id=site_id, hospital_id=hospital_id
    )
    return notify_users(
        session,
        users,
        kind=kind,
        title=title,
        body=body,
        link=link,
        urgent=urgent,
        settings=settings,
    )


def notify_users(
    session: Session,
    users: list[User],
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    urgent: bool = False,
    settings: Settings | None = None,
) -> list[Notification]:
    settings = settings or get_settings()
    out = []
    for user in users:
        n = Notification(
            user_id=user.id,
            kind=kind,
            title=title[:300],
            body=body[:4000],
            link=link,
            urgent=urgent,
        )
        session.add(n)
        out.append(n)
        if settings.smtp_host and user.email:
            session.add(
                OutboxMessage(
                    to_address=user.email,
                    subject=f"[aefi] {title}"[:300],
                    body=f"{body}\n\n{link}".strip()[:8000],
                )
            )
    session.flush()
    return out


def unread_count(session: Session, actor: Actor) -> int:
    return session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == actor.user_id, col(Notification.read_at).is_(None))
    ).one()


def list_for(session: Session, actor: Actor, limit: int = 100) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == actor.user_id)
        .order_by(col(Notification.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def mark_read(session: Session, actor: Actor, notification_id: int | None = None) -> None:
    """Mark one (or, with None, all) of the actor's notifications read."""
    stmt = select(Notification).where(
        Notification.user_id == actor.user_id, col(Notification.read_at).is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
        if (
            session.exec(stmt).first() is None
            and session.get(Notification, notification_id) is None
        ):
            raise NotFound("Not found.")
    now = clock.now()
    for n in session.exec(stmt):
        n.read_at = now
        session.add(n)
    session.commit()


# 30 s, doubling, up to MAX_ATTEMPTS (the wait capped at about 17 hours).
MAIL = outbox.Box(
    OutboxMessage,
    pending=OutboxStatus.pending,
    sent=OutboxStatus.sent,
    failed=OutboxStatus.failed,
    first_s=30,
    max_attempts=MAX_ATTEMPTS,
    cap_s=30 * 2**11,
)


def deliver_outbox(session: Session, settings: Settings | None = None, limit: int = 100) -> int:
    """Send what is due; a failure schedules a retry with doubling back-off. Returns sent."""
    settings = settings or get_settings()
    if not settings.smtp_host:
        return 0

    @contextmanager
    def connect() -> Iterator[smtplib.SMTP]:
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10)
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
        except (OSError, smtplib.SMTPException) as exc:
            # The server is down or refuses us: every due message waits for its next attempt.
            if smtp is not None:
                smtp.close()
            raise outbox.Unreachable(outbox.reason(exc)) from exc
        with smtp:
            yield smtp

    def send(smtp: smtplib.SMTP, msg: OutboxMessage) -> None:
        email = EmailMessage()
        email["From"] = settings.smtp_sender
        email["To"] = msg.to_address
        email["Subject"] = msg.subject
        email.set_content(msg.body)
        try:
            smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise outbox.Failed(outbox.reason(exc)) from exc

    done = outbox.deliver_due(session, MAIL, send, limit=limit, connect=connect)
    return done[OutboxStatus.sent]
