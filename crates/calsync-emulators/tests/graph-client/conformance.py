"""Conformance of the Microsoft Graph emulator with Microsoft's official Python SDK (msgraph-sdk).

Usage: conformance.py BASE_URL ACCESS_TOKEN NOTIFICATION_URL

BASE_URL is the emulator's root (http://127.0.0.1:PORT, no trailing slash), ACCESS_TOKEN an
access token it minted for the default user (Calendars.ReadWrite User.Read), NOTIFICATION_URL a
webhook receiver that answers Graph's validation handshake. The SDK's request adapter is pointed
at BASE_URL/v1.0 and authenticates with the static token; every call goes through the SDK's own
request builders. Each check prints one line; any mismatch is reported and the script exits
with status 1 (2 for bad arguments).

The last line on success is `calsync-result {json}`: what the caller must see arrive at the
receiver (subscription id, clientState, the id of the event created after subscribing).

Run by crates/calsync-emulators/tests/official_graph_client.rs; see protocols.md §2 for the
behaviour asserted here.
"""

import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from urllib.parse import urlparse

from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_http.middleware.options import ResponseHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription

# The helpers both conformance scripts share live in ../python-support.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python-support"))
from conformance_support import CheckFailed, Failures, bypass_proxies_for_loopback, check, ok  # noqa: E402

# The delta round's window (May 2026); the other checks write outside it.
WINDOW = ("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z")
PAGE = 3
# The emulator's default subscription_max_minutes: Microsoft's limit for Outlook resources.
MAX_SUBSCRIPTION = dt.timedelta(minutes=10080)


class StaticToken(AccessTokenProvider):
    """Hands the SDK the emulator's token; only for the emulator's host (for any other host the
    SDK sends no Authorization header at all)."""

    def __init__(self, token, host):
        self.token = token
        self.hosts = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return self.hosts


def build_client(base, token):
    auth = BaseBearerTokenAuthenticationProvider(StaticToken(token, urlparse(base).hostname))
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{base}/v1.0"  # instead of https://graph.microsoft.com/v1.0
    return GraphServiceClient(request_adapter=adapter)


def headers(**values):
    """A request configuration carrying only headers (what a request built `with_url` takes)."""
    cfg = RequestConfiguration()
    for name, value in values.items():
        cfg.headers.add(name.replace("_", "-"), value)
    return cfg


def prefer_page(n):
    return headers(Prefer=f"odata.maxpagesize={n}")


def timed(subject, day, hour=9, month=5, **extra):
    return Event(
        subject=subject,
        start=DateTimeTimeZone(date_time=f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00", time_zone="UTC"),
        end=DateTimeTimeZone(date_time=f"2026-{month:02d}-{day:02d}T{hour + 1:02d}:00:00", time_zone="UTC"),
        **extra,
    )


def describe_error(e):
    if isinstance(e, ODataError) and e.error is not None:
        return f"ODataError {e.response_status_code} {e.error.code}: {e.error.message}"
    return f"{type(e).__name__} {getattr(e, 'response_status_code', None)}: {e}"


async def odata_error(call, what):
    """Awaits `call()`, which must fail with the SDK's ODataError; returns (status, error code)."""
    try:
        result = await call()
    except ODataError as e:
        code = e.error.code if e.error is not None else None
        return e.response_status_code, code
    except APIError as e:
        raise CheckFailed(f"{what}: expected an ODataError, got {describe_error(e)}") from None
    raise CheckFailed(f"{what}: expected an ODataError, the SDK returned {result!r:.300}")


def etag(event, what):
    value = (event.additional_data or {}).get("@odata.etag")
    check(isinstance(value, str) and value, f"{what}: no @odata.etag in the event's additional_data")
    return value


def removed(item):
    return (item.additional_data or {}).get("@removed")


def first_delta_page(builder):
    """The first request of a round on `builder` (a calendarView delta request builder): the
    window as the builder's own query parameters, and a small page size."""
    query = type(builder).DeltaRequestBuilderGetQueryParameters(start_date_time=WINDOW[0], end_date_time=WINDOW[1])
    cfg = RequestConfiguration(query_parameters=query)
    cfg.headers.add("Prefer", f"odata.maxpagesize={PAGE}")
    return cfg


async def delta_round(builder, first_config, base, label):
    """Gets the first page with `first_config`, follows odata_next_link with `with_url` (same
    page size) until odata_delta_link; returns (items, pages, delta_link)."""
    pages = [await builder.get(request_configuration=first_config)]
    while True:
        page = pages[-1]
        n = len(pages)
        check(page is not None, f"{label}: page {n} is empty (no body)")
        nxt, delta = page.odata_next_link, page.odata_delta_link
        check(
            bool(nxt) != bool(delta),
            f"{label}: page {n} must carry exactly one of nextLink/deltaLink, got {nxt!r} and {delta!r}",
        )
        link = nxt or delta
        check(link.startswith(base + "/v1.0/"), f"{label}: page {n}'s link {link!r} is not on {base}/v1.0/")
        size = len(page.value or [])
        check(size <= PAGE, f"{label}: page {n} has {size} items > maxpagesize {PAGE}")
        if delta:
            items = [item for p in pages for item in (p.value or [])]
            return items, pages, delta
        check(n < 200, f"{label}: more than 200 pages, the round never ends")
        pages.append(await builder.with_url(nxt).get(request_configuration=prefer_page(PAGE)))


async def check_delta(client, base):
    created = []
    for i in range(7):
        ev = await client.me.events.post(timed(f"delta {i}", 1 + 2 * i))
        check(ev is not None and ev.id, f"events.post answered {ev!r}")
        created.append(ev.id)
    outside = await client.me.events.post(timed("outside the window", 15, month=6))

    builder = client.me.calendar.calendar_view.delta
    items, pages, delta_link = await delta_round(builder, first_delta_page(builder), base, "first delta round")
    seen = [item.id for item in items]
    duplicates = sorted({i for i in seen if seen.count(i) > 1})
    check(not duplicates, f"first delta round: ids seen more than once: {duplicates}")
    missing = sorted(set(created) - set(seen))
    check(not missing, f"first delta round: events created in the window never reported: {missing}")
    check(outside.id not in seen, "first delta round: reports an event outside the window")
    check(len(pages) >= 3, f"first delta round: 7 events with maxpagesize={PAGE} came in {len(pages)} pages")
    gone = [item.id for item in items if removed(item) is not None]
    check(not gone, f"first delta round: @removed items in an initial round: {gone}")
    by_id = {item.id: item for item in items}
    check(
        by_id[created[0]].subject == "delta 0" and by_id[created[0]].start is not None,
        f"first delta round: event {created[0]} comes back as {by_id[created[0]]!r:.300}",
    )
    ok(f"calendarView delta: {len(seen)} events in {len(pages)} pages via with_url(odata_next_link), then a deltaLink")

    # The same round through /me/calendarView/delta (the mailbox's default calendar).
    mailbox = client.me.calendar_view.delta
    mailbox_items, _, _ = await delta_round(mailbox, first_delta_page(mailbox), base, "me/calendarView delta round")
    check(
        sorted(i.id for i in mailbox_items) == sorted(seen),
        "me/calendarView/delta and me/calendar/calendarView/delta report different events",
    )
    ok("me/calendarView/delta reports the same events as me/calendar/calendarView/delta")

    changed_id, deleted_id = created[0], created[1]
    await client.me.events.by_event_id(changed_id).patch(Event(subject="delta 0 changed"))
    await client.me.events.by_event_id(deleted_id).delete()
    resumed = builder.with_url(delta_link)
    items, _, _ = await delta_round(resumed, prefer_page(PAGE), base, "delta from the deltaLink")
    report = {item.id: item for item in items}
    check(changed_id in report, f"incremental delta: the changed event {changed_id} is missing from {sorted(report)}")
    check(
        removed(report[changed_id]) is None and report[changed_id].subject == "delta 0 changed",
        f"incremental delta: the changed event comes back as subject {report[changed_id].subject!r},"
        f" @removed {removed(report[changed_id])!r}",
    )
    check(deleted_id in report, f"incremental delta: the deleted event {deleted_id} is missing from {sorted(report)}")
    check(
        removed(report[deleted_id]) == {"reason": "deleted"},
        f"incremental delta: the deleted event has additional_data {report[deleted_id].additional_data!r},"
        " expected '@removed': {'reason': 'deleted'}",
    )
    unchanged = sorted(set(report) & set(created[2:]))
    check(not unchanged, f"incremental delta: unchanged events reported: {unchanged}")
    ok("delta from the deltaLink: the change, and the deletion as additional_data['@removed'] = {'reason': 'deleted'}")


async def list_events(client):
    """Every event of me/events, in pages of PAGE, following odata_next_link with `with_url`;
    returns (events, pages)."""
    page = await client.me.events.get(request_configuration=prefer_page(PAGE))
    events = list(page.value or [])
    pages = 1
    while page.odata_next_link:
        size = len(page.value or [])
        check(size <= PAGE, f"me/events: page {pages} has {size} items > {PAGE}")
        check(pages < 200, "me/events: more than 200 pages")
        page = await client.me.events.with_url(page.odata_next_link).get(request_configuration=prefer_page(PAGE))
        events += page.value or []
        pages += 1
    return events, pages


async def check_transaction_id(client):
    tx = str(uuid.uuid4())
    subject = f"transaction {tx}"
    first = await client.me.events.post(timed(subject, 1, month=7, transaction_id=tx))
    again = await client.me.events.post(timed(subject, 1, month=7, transaction_id=tx))
    check(first.id and again.id, f"events.post with transactionId answered ids {first.id!r} and {again.id!r}")
    check(first.id == again.id, f"the same transactionId twice created two events: {first.id} and {again.id}")
    check(first.transaction_id == tx, f"transactionId comes back as {first.transaction_id!r}, expected {tx!r}")
    events, pages = await list_events(client)
    listed = [e.id for e in events if e.subject == subject]
    check(listed == [first.id], f"me/events lists {len(listed)} events with the repeated transactionId: {listed}")
    ids = [e.id for e in events]
    check(len(ids) == len(set(ids)), f"me/events: ids listed more than once across {pages} pages")
    ok(f"the same transactionId twice: the same event id; me/events ({len(ids)} events in {pages} pages) lists it once")


async def check_if_match(client):
    ev = await client.me.events.post(timed("if-match", 2, month=7))
    item = client.me.events.by_event_id(ev.id)
    stale = etag(ev, "events.post")
    changed = await item.patch(Event(subject="changed"))
    current = etag(changed, "events.patch")
    check(current != stale, f"a PATCH kept the etag {stale}")

    status, code = await odata_error(
        lambda: item.patch(Event(subject="stale write"), request_configuration=headers(If_Match=stale)),
        "PATCH with a stale If-Match",
    )
    check(status == 412, f"PATCH with a stale If-Match: ODataError status {status}, expected 412 (code {code})")
    check(code == "ErrorIrresolvableConflict", f"PATCH with a stale If-Match: code {code!r}")
    got = await item.get()
    check(got.subject == "changed", f"PATCH with a stale If-Match was applied anyway: subject {got.subject!r}")

    replaced = await item.patch(Event(subject="replaced"), request_configuration=headers(If_Match=current))
    check(replaced.subject == "replaced", f"PATCH with the current If-Match answered subject {replaced.subject!r}")
    ok("PATCH with a stale If-Match: ODataError 412 ErrorIrresolvableConflict; with the current etag: applied")


async def check_delete(client):
    ev = await client.me.events.post(timed("to delete", 3, month=7))
    item = client.me.events.by_event_id(ev.id)
    # The native response handler makes the SDK hand back the HTTP response itself.
    native = RequestConfiguration(options=[ResponseHandlerOption(NativeResponseHandler())])
    response = await item.delete(request_configuration=native)
    status = getattr(response, "status_code", None)
    check(status == 204, f"DELETE answered {status}, expected 204")
    status, code = await odata_error(item.get, "GET after DELETE")
    check(status == 404, f"GET after DELETE: ODataError status {status}, expected 404 (code {code})")
    check(code == "ErrorItemNotFound", f"GET after DELETE: code {code!r}, expected 'ErrorItemNotFound'")
    ok("DELETE: 204; GET afterwards: ODataError 404 ErrorItemNotFound")


async def check_subscription(client, notification_url, result):
    client_state = f"calsync-{uuid.uuid4().hex[:16]}"
    asked_at = dt.datetime.now(dt.timezone.utc)
    wanted = asked_at + dt.timedelta(days=30)
    sub = await client.subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=notification_url,
            resource="me/events",
            expiration_date_time=wanted,
            client_state=client_state,
        )
    )
    answered_at = dt.datetime.now(dt.timezone.utc)
    check(sub is not None and sub.id, f"subscriptions.post answered {sub!r}")
    check(sub.client_state == client_state, f"subscription clientState {sub.client_state!r}, expected {client_state!r}")
    check(sub.notification_url == notification_url, f"subscription notificationUrl {sub.notification_url!r}")
    check(sub.change_type == "created,updated,deleted", f"subscription changeType {sub.change_type!r}")
    expires = sub.expiration_date_time
    check(isinstance(expires, dt.datetime), f"subscription expirationDateTime {expires!r} is not a datetime")
    slack = dt.timedelta(seconds=5)
    low, high = asked_at + MAX_SUBSCRIPTION - slack, answered_at + MAX_SUBSCRIPTION + slack
    check(
        low <= expires <= high,
        f"subscription expirationDateTime {expires.isoformat()}: 30 days were asked, expected it clamped to"
        f" {MAX_SUBSCRIPTION} from now ({low.isoformat()} .. {high.isoformat()})",
    )
    ok(f"subscriptions.post with a live validation endpoint: 201, expiration clamped to {expires.isoformat()}")

    ev = await client.me.events.post(timed("notify me", 4, month=7))
    result.update({"subscriptionId": sub.id, "clientState": client_state, "eventId": ev.id})
    ok("an event created after subscribing (the caller checks its notification at the receiver)")


async def main_async(base, token, notification_url):
    client = build_client(base, token)
    try:
        me = await client.me.get()
    except Exception as e:  # noqa: BLE001 - nothing else can work; say why and stop
        why = describe_error(e)
        print(f"FAIL  preflight: GET me on {base}/v1.0 failed, is the emulator up and the token valid? {why}")
        return 1
    ok(f"preflight: me is {me.user_principal_name}")

    result = {}
    checks = [
        ("calendarView delta", lambda: check_delta(client, base)),
        ("transactionId", lambda: check_transaction_id(client)),
        ("If-Match", lambda: check_if_match(client)),
        ("delete", lambda: check_delete(client)),
        ("subscription", lambda: check_subscription(client, notification_url, result)),
    ]
    failures = Failures(len(checks), lambda e: f"unexpected {describe_error(e)}" if isinstance(e, APIError) else None)
    for name, run in checks:
        try:
            await run()
        except Exception as e:  # noqa: BLE001 - every failure is reported; the other groups still run
            failures.add(name, e)
    status = failures.report()
    if status == 0:
        print(f"calsync-result {json.dumps(result)}", flush=True)
    return status


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bypass_proxies_for_loopback()
    return asyncio.run(main_async(argv[1].rstrip("/"), argv[2], argv[3]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
