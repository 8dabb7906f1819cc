"""Outbound webhooks: targets, signed deliveries sent by jobs, and the delivery log.

Every delivery is a POST of a JSON body with these headers:

    Content-Type: application/json
    User-Agent: Assay-Webhooks/0.1
    Assay-Event: <event name>
    Assay-Delivery: <delivery id>     (the same on every retry: receivers deduplicate on it)
    Assay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

To verify one, recompute the HMAC over the timestamp, a dot and the raw body exactly as
received, compare in constant time, and refuse timestamps far from now (replays):
`verify_signature(secret, header, body)` does all three.

Deliveries to targets carry an envelope `{"id", "event", "created_at", "data"}`; one-off
callbacks (`send_callback`) send their payload as is. A 2xx answer is success; 408, 429, 5xx,
network errors and hosts that do not resolve are retried with the job system's exponential
backoff, up to `webhook_max_attempts`; any other answer (redirects are not followed), or a
destination the outbound policy refuses at send time, fails the delivery at once. Deliveries go
out through `core.outbound` (one resolution, the checked address pinned). Every attempt is
recorded in the delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, select, true
from sqlalchemy.orm import Session

from assay.core import jobs, models, outbound
from assay.core.auth import Actor
from assay.core.db import utcnow
from assay.core.errors import Conflict, Invalid, NotFound
from assay.core.ids import new_id
from assay.core.jobs import PermanentError
from assay.core.pagination import PageResult, paginate
from assay.core.prepared import Prepared
from assay.core.settings import Settings, get_settings

DELIVER_KIND = "webhook.deliver"
USER_AGENT = "Assay-Webhooks/0.1"
SIGNATURE_HEADER = "Assay-Signature"
RESPONSE_BODY_LIMIT = 2048
PING_EVENT = "ping"

# --- signatures ------------------------------------------------------------------------


def generate_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The `Assay-Signature` header value for `body`."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes | str,
    tolerance_seconds: float | None = 300,
    *,
    now: float | None = None,
) -> bool:
    """True if `header` signs `body` with `secret` and its timestamp is within tolerance."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if tolerance_seconds is not None and abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def subscribed(events: list[str], event: str) -> bool:
    """`*` matches every event, `task.*` every event under `task.`, otherwise exact names."""
    return any(
        pattern in ("*", event) or (pattern.endswith(".*") and event.startswith(pattern[:-1]))
        for pattern in events
    )


# --- targets ---------------------------------------------------------------------------


def check_target_url(url: str, settings: Settings, field: str = "url") -> None:
    """Refuse early what the outbound policy refuses without DNS; the rest is checked when
    sent (a name's addresses may change, and creation must not depend on DNS)."""
    outbound.check_url(
        url, policy=outbound.Policy.from_settings(settings), resolve=False, field=field
    )


def _created_by(actor: Actor | None) -> str | None:
    return actor.user_id if actor is not None and actor.via != "system" else None


def create_target(
    *, session: Session, url: str, events: list[str], actor: Actor, settings: Settings
) -> tuple[models.WebhookTarget, str]:
    """Returns the target and its signing secret (the API shows the secret once)."""
    check_target_url(url, settings)
    secret = generate_secret()
    target = models.WebhookTarget(
        url=url.strip(),
        events=list(dict.fromkeys(events)),
        secret=secret,
        mode=actor.mode,
        created_by=_created_by(actor),
    )
    session.add(target)
    session.flush()
    return target, secret


def get_target(*, session: Session, target_id: str) -> models.WebhookTarget:
    target = session.get(models.WebhookTarget, target_id)
    if target is None:
        raise NotFound(f"no webhook with id {target_id}", field="webhook_id")
    return target


def list_targets(
    *, session: Session, mode: str, cursor: str | None, limit: int
) -> PageResult[models.WebhookTarget]:
    """The targets of one key mode (live or test)."""
    return paginate(
        session,
        select(models.WebhookTarget).where(models.WebhookTarget.mode == mode),
        key=models.WebhookTarget.id,
        cursor=cursor,
        limit=limit,
    )


def update_target(
    *,
    session: Session,
    target: models.WebhookTarget,
    settings: Settings,
    url: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
) -> models.WebhookTarget:
    """Change what was given; a new URL is checked like a new target's."""
    if url is not None:
        check_target_url(url, settings)
        target.url = url.strip()
    if events is not None:
        target.events = list(dict.fromkeys(events))
    if is_active is not None:
        target.is_active = is_active
    session.flush()
    return target


def rotate_secret(*, session: Session, target: models.WebhookTarget) -> str:
    """A new signing secret, used from the next attempt on, even for pending retries."""
    target.secret = generate_secret()
    session.flush()
    return target.secret


def delete_target(*, session: Session, target: models.WebhookTarget) -> None:
    """Deletes its delivery log too; queued deliveries find nothing to send and stop."""
    session.delete(target)
    session.flush()


# --- deliveries ------------------------------------------------------------------------


def _enqueue_delivery(
    session: Session,
    *,
    target_id: str | None,
    url: str,
    event: str,
    body: dict[str, Any],
    actor: Actor | None,
    settings: Settings | None,
    delivery_id: str | None = None,
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> models.WebhookDelivery:
    delivery_id = delivery_id or new_id()
    job = jobs.enqueue(
        session=session,
        kind=DELIVER_KIND,
        payload={"delivery_id": delivery_id},
        actor=actor,
        max_attempts=(settings or get_settings()).webhook_max_attempts,
    )
    delivery = models.WebhookDelivery(
        id=delivery_id,
        target_id=target_id,
        url=url,
        event=event,
        payload=body,
        status="pending",
        job_id=job.id,
        secret=secret,
        headers=headers,
    )
    session.add(delivery)
    session.flush()
    return delivery


def _envelope(delivery_id: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": delivery_id, "event": event, "created_at": utcnow().isoformat(), "data": data}


def _to_target(
    session: Session,
    target: models.WebhookTarget,
    event: str,
    data: dict[str, Any],
    actor: Actor | None,
    settings: Settings | None,
) -> models.WebhookDelivery:
    delivery_id = new_id()
    return _enqueue_delivery(
        session,
        target_id=target.id,
        url=target.url,
        event=event,
        body=_envelope(delivery_id, event, data),
        actor=actor,
        settings=settings,
        delivery_id=delivery_id,
    )


_TARGETS = models.WebhookTarget.__table__
_ACTIVE_TARGETS = Prepared(
    select(_TARGETS.c.id, _TARGETS.c.events)
    .where(_TARGETS.c.is_active == true(), _TARGETS.c.mode == bindparam("mode"))
    .order_by(_TARGETS.c.id)
)


def subscribers(conn: Connection, event: str, mode: str) -> list[str]:
    """Ids of the active targets of this key mode subscribed to `event` (one indexed read)."""
    return [
        row.id for row in _ACTIVE_TARGETS.all(conn, {"mode": mode}) if subscribed(row.events, event)
    ]


def emit(
    *,
    session: Session,
    event: str,
    payload: dict[str, Any],
    actor: Actor | None = None,
    settings: Settings | None = None,
) -> list[models.WebhookDelivery]:
    """Queue `event` to every active target subscribed to it, in the caller's transaction.

    Events caused by test-key traffic go to targets created with a test key, and live to live.
    """
    mode = actor.mode if actor is not None else "live"
    # A Core probe first: most events have no subscriber, and loading none is the common case.
    wanted = subscribers(session.connection(), event, mode)
    return [
        _to_target(
            session, session.get(models.WebhookTarget, target_id), event, payload, actor, settings
        )
        for target_id in wanted
    ]


def send_ping(
    *,
    session: Session,
    target: models.WebhookTarget,
    actor: Actor,
    settings: Settings | None = None,
) -> models.WebhookDelivery:
    """Queue a `ping` event to one target, whatever it subscribes to."""
    if not target.is_active:
        raise Conflict("this webhook is inactive; activate it before testing it", field="is_active")
    data = {"webhook_id": target.id, "message": "ping from Assay"}
    return _to_target(session, target, PING_EVENT, data, actor, settings)


def send_callback(
    *,
    session: Session,
    url: str,
    event: str,
    payload: dict[str, Any],
    secret: str | None,
    headers: dict[str, str] | None = None,
    actor: Actor | None = None,
    settings: Settings | None = None,
) -> models.WebhookDelivery:
    """Queue a one-off POST of `payload` (sent as is) to `url`, signed with `secret`.

    The URL is checked against the outbound policy when sent; callers taking a callback URL
    from a user should also `check_target_url` it when they accept it, to fail early.
    """
    return _enqueue_delivery(
        session,
        target_id=None,
        url=url.strip(),
        event=event,
        body=payload,
        actor=actor,
        settings=settings,
        secret=secret,
        headers=dict(headers) if headers else None,
    )


@dataclass
class DeliveryLog:
    """A delivery with its attempts, oldest first."""

    delivery: models.WebhookDelivery
    attempts: list[models.WebhookAttempt] = field(default_factory=list)


def _with_attempts(session: Session, deliveries: list[models.WebhookDelivery]) -> list[DeliveryLog]:
    by_delivery: dict[str, list[models.WebhookAttempt]] = defaultdict(list)
    ids = [d.id for d in deliveries]
    if ids:
        for attempt in session.scalars(
            select(models.WebhookAttempt)
            .where(models.WebhookAttempt.delivery_id.in_(ids))
            .order_by(models.WebhookAttempt.delivery_id, models.WebhookAttempt.attempt)
        ):
            by_delivery[attempt.delivery_id].append(attempt)
    return [DeliveryLog(d, by_delivery[d.id]) for d in deliveries]


def list_deliveries(
    *, session: Session, target_id: str, cursor: str | None, limit: int
) -> PageResult[DeliveryLog]:
    """Newest first, each with its attempts (one query for the whole page's attempts)."""
    page = paginate(
        session,
        select(models.WebhookDelivery).where(models.WebhookDelivery.target_id == target_id),
        key=models.WebhookDelivery.id,
        cursor=cursor,
        limit=limit,
    )
    return PageResult(_with_attempts(session, page.items), page.next_cursor)


def get_delivery(
    *, session: Session, delivery_id: str, target_id: str | None = None
) -> DeliveryLog:
    delivery = session.get(models.WebhookDelivery, delivery_id)
    if delivery is None or (target_id is not None and delivery.target_id != target_id):
        raise NotFound(f"no delivery with id {delivery_id}", field="delivery_id")
    return _with_attempts(session, [delivery])[0]


# --- the job that sends ----------------------------------------------------------------


class DeliveryFailed(Exception):
    """A retryable failure: the job system retries the delivery with backoff."""


@dataclass(frozen=True)
class _Plan:
    delivery_id: str
    url: str
    event: str
    body: dict[str, Any]
    secret: str | None
    headers: dict[str, str]
    attempt_limit: int
    target_inactive: bool


@dataclass(frozen=True)
class _Outcome:
    kind: Literal["succeeded", "retry", "permanent"]
    status_code: int | None = None
    error: str | None = None
    response_body: str = ""
    duration_ms: float = 0.0


def _load_plan(ctx: Any, job_payload: dict[str, Any]) -> _Plan | None:
    with ctx.db.read() as session:
        delivery = session.get(models.WebhookDelivery, job_payload["delivery_id"])
        if delivery is None or delivery.status in ("succeeded", "failed"):
            return None
        target = (
            session.get(models.WebhookTarget, delivery.target_id) if delivery.target_id else None
        )
        job = session.get(models.Job, ctx.job_id)
        limit = ctx.settings.webhook_max_attempts
        if job is not None:
            limit = min(limit, job.max_attempts)
        # A target's current URL and secret: fixing the URL or rotating the secret applies
        # to retries already queued.
        return _Plan(
            delivery_id=delivery.id,
            url=target.url if target else delivery.url,
            event=delivery.event,
            body=delivery.payload,
            secret=target.secret if target else delivery.secret,
            headers={} if target else dict(delivery.headers or {}),
            attempt_limit=max(1, limit),
            target_inactive=target is not None and not target.is_active,
        )


def _classify(status_code: int) -> Literal["succeeded", "retry", "permanent"]:
    if 200 <= status_code < 300:
        return "succeeded"
    if status_code in (408, 429) or status_code >= 500:
        return "retry"
    return "permanent"  # 3xx (redirects are not followed) and 4xx: a retry will not help


def _send(plan: _Plan, settings: Settings) -> _Outcome:
    if plan.target_inactive:
        return _Outcome("permanent", error="the webhook was deactivated; not sent")
    body = json.dumps(plan.body, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        **plan.headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Assay-Event": plan.event,
        "Assay-Delivery": plan.delivery_id,
    }
    if plan.secret:
        headers[SIGNATURE_HEADER] = sign(plan.secret, body)
    started = time.monotonic()
    try:
        with outbound.stream(
            plan.url,
            policy=outbound.Policy.from_settings(settings),
            method="POST",
            headers=headers,
            body=body,
            timeout=settings.webhook_timeout_seconds,
        ) as response:
            prefix = response.read_prefix(RESPONSE_BODY_LIMIT)
            status_code = response.status_code
    except outbound.FetchFailed as exc:  # unresolved hosts included: DNS recovers
        elapsed = (time.monotonic() - started) * 1000
        return _Outcome("retry", error=exc.message, duration_ms=elapsed)
    except Invalid as exc:  # a malformed URL or a refused destination: nothing was sent
        return _Outcome("permanent", error=f"not sent: {exc.message}")
    elapsed = (time.monotonic() - started) * 1000
    kind = _classify(status_code)
    error = None if kind == "succeeded" else f"HTTP {status_code}"
    text = prefix.decode("utf-8", errors="replace")
    return _Outcome(
        kind, status_code=status_code, error=error, response_body=text, duration_ms=elapsed
    )


def _record(ctx: Any, plan: _Plan, outcome: _Outcome, status: str, sent_at: Any) -> None:
    """One committed transaction per attempt, so the log survives whatever happens next."""
    with ctx.db.write() as session:
        delivery = session.get(models.WebhookDelivery, plan.delivery_id, with_for_update=True)
        if delivery is None:
            return
        delivery.attempts += 1
        session.add(
            models.WebhookAttempt(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                status_code=outcome.status_code,
                error=outcome.error,
                response_body=outcome.response_body,
                duration_ms=outcome.duration_ms,
                created_at=sent_at,
            )
        )
        delivery.status, delivery.url = status, plan.url
        if status == "succeeded":
            delivery.delivered_at = utcnow()


def _give_up(session: Session, job: models.Job) -> None:
    """The job failed without the handler recording it (its worker died on the last try)."""
    delivery = session.get(models.WebhookDelivery, job.payload.get("delivery_id"))
    if delivery is not None and delivery.status not in ("succeeded", "failed"):
        delivery.status = "failed"


@jobs.job_kind(
    DELIVER_KIND,
    max_attempts=8,
    on_failed=_give_up,
    description="POST one webhook delivery; retried with exponential backoff.",
)
def deliver(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Send one attempt of a delivery and log it; raise so the job system retries or fails."""
    plan = _load_plan(ctx, payload)
    if plan is None:
        return {"skipped": "the delivery was deleted or already finished"}
    sent_at = utcnow()
    outcome = _send(plan, ctx.settings)
    final = outcome.kind == "permanent" or (
        outcome.kind == "retry" and ctx.attempt >= plan.attempt_limit
    )
    status = "succeeded" if outcome.kind == "succeeded" else "failed" if final else "retrying"
    _record(ctx, plan, outcome, status, sent_at)
    if outcome.kind == "succeeded":
        return {"delivery_id": plan.delivery_id, "status_code": outcome.status_code}
    message = f"delivery {plan.delivery_id} to {plan.url}: {outcome.error}"
    if final:
        raise PermanentError(message)
    raise DeliveryFailed(message)
