"""Conformance of the Google Calendar emulator with Google's official Python client.

Usage: conformance.py BASE_URL ACCESS_TOKEN

BASE_URL is the emulator's root (http://127.0.0.1:PORT, no trailing slash) and ACCESS_TOKEN a
token with the full calendar scope. The client is built from the calendar.v3 discovery document
shipped inside the google-api-python-client wheel, pointed at the emulator. Each check prints one
line; any mismatch is reported and the script exits with status 1 (2 for bad arguments).

Run by crates/calsync-emulators/tests/official_google_client.rs; see protocols.md §1 for the
behaviour asserted here.
"""

import http.server
import json
import os
import queue
import sys
import threading
import urllib.request
import uuid

import googleapiclient
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

# The helpers both conformance scripts share live in ../python-support.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python-support"))
from conformance_support import CheckFailed, Failures, bypass_proxies_for_loopback, check, ok  # noqa: E402

CAL = "primary"


def control(base, method, path, body=None):
    """A call to the emulator's control API (outside Google's paths): returns the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip() else None


def build_service(base, token):
    path = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents", "calendar.v3.json")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    doc["rootUrl"] = base + "/"
    doc.pop("mtlsRootUrl", None)
    return build_from_document(doc, credentials=Credentials(token=token))


def http_error(call, what):
    """Runs `call`, which must fail with an HttpError; returns (status, error body)."""
    try:
        result = call()
    except HttpError as e:
        try:
            body = json.loads(e.content)
        except (ValueError, TypeError):
            body = {"unparsed": repr(e.content)}
        return e.resp.status, body
    raise CheckFailed(f"{what}: expected an HTTP error, got success: {json.dumps(result)[:300]}")


def reason_of(body):
    errors = body.get("error", {}).get("errors") or [{}]
    return errors[0].get("reason")


def timed(day, hour=9, minute=0):
    return {
        "start": {"dateTime": f"2026-05-{day:02d}T{hour:02d}:{minute:02d}:00Z"},
        "end": {"dateTime": f"2026-05-{day:02d}T{hour + 1:02d}:{minute:02d}:00Z"},
    }


def list_all(svc, **params):
    """events.list following list_next; returns (pages, nextSyncToken of the last page)."""
    pages = []
    req = svc.events().list(calendarId=CAL, **params)
    while req is not None:
        resp = req.execute()
        pages.append(resp)
        check(len(pages) <= 100, f"events.list {params}: more than 100 pages, nextPageToken never ends")
        prev = req
        req = svc.events().list_next(prev, resp)
    return pages, pages[-1].get("nextSyncToken")


def check_sync(svc, base, label=""):
    inserted = []
    for i in range(7):
        ev = svc.events().insert(calendarId=CAL, body={"summary": f"sync {i}", **timed(1 + i)}).execute()
        inserted.append(ev["id"])

    pages, sync_token = list_all(svc, maxResults=3)
    for n, page in enumerate(pages, 1):
        last = n == len(pages)
        check(len(page.get("items", [])) <= 3, f"full sync page {n}: {len(page['items'])} items > maxResults=3")
        if last:
            check("nextSyncToken" in page, f"full sync: last page {n} has no nextSyncToken: {sorted(page)}")
            check("nextPageToken" not in page, f"full sync: last page {n} also has a nextPageToken")
        else:
            check("nextSyncToken" not in page, f"full sync: page {n} of {len(pages)} has a nextSyncToken")
            check("nextPageToken" in page, f"full sync: page {n} of {len(pages)} has no nextPageToken")
    seen = [item["id"] for page in pages for item in page.get("items", [])]
    duplicates = sorted({i for i in seen if seen.count(i) > 1})
    check(not duplicates, f"full sync: ids seen more than once across pages: {duplicates}")
    missing = sorted(set(inserted) - set(seen))
    check(not missing, f"full sync: inserted ids never listed: {missing}")
    check(len(pages) >= 3, f"full sync: 7 events with maxResults=3 came in {len(pages)} pages")
    ok(f"{label}full sync: {len(seen)} events in {len(pages)} pages, each id once, nextSyncToken on the last page only")

    patched_id, deleted_id = inserted[0], inserted[1]
    svc.events().patch(calendarId=CAL, eventId=patched_id, body={"summary": "sync 0 patched"}).execute()
    svc.events().delete(calendarId=CAL, eventId=deleted_id).execute()
    pages, next_token = list_all(svc, syncToken=sync_token)
    check(next_token, "incremental sync: no nextSyncToken on the last page")
    for n, page in enumerate(pages[:-1], 1):
        check("nextSyncToken" not in page, f"incremental sync: page {n} of {len(pages)} has a nextSyncToken")
    delta = {}
    for page in pages:
        for item in page.get("items", []):
            delta[item["id"]] = item
    check(patched_id in delta, f"incremental sync: patched event {patched_id} missing from delta {sorted(delta)}")
    check(
        delta[patched_id].get("summary") == "sync 0 patched" and delta[patched_id].get("status") != "cancelled",
        f"incremental sync: patched event comes back as {delta[patched_id]}",
    )
    check(deleted_id in delta, f"incremental sync: deleted event {deleted_id} missing from delta {sorted(delta)}")
    check(
        delta[deleted_id].get("status") == "cancelled",
        f"incremental sync: deleted event has status {delta[deleted_id].get('status')!r}, expected 'cancelled'",
    )
    unchanged = sorted(set(delta) & set(inserted[2:]))
    check(not unchanged, f"incremental sync: unchanged events in the delta: {unchanged}")
    ok(f"{label}incremental sync: delta holds the patched event and the deleted one as cancelled, nothing else")

    control(base, "POST", "/_emulator/sync-tokens/expire", {})
    status, body = http_error(
        lambda: svc.events().list(calendarId=CAL, syncToken=next_token).execute(), "list with an expired syncToken"
    )
    check(status == 410, f"expired syncToken: status {status}, expected 410; body {body}")
    check(
        reason_of(body) == "fullSyncRequired",
        f"expired syncToken: reason {reason_of(body)!r}, expected 'fullSyncRequired'; body {body}",
    )
    ok(f"{label}expired sync token: 410 fullSyncRequired")


def check_sync_ragged(svc, base):
    # Short and empty pages that still carry nextPageToken (§1.5): the client must follow them.
    control(base, "PATCH", "/_emulator/settings", {"page_mode": "ragged"})
    try:
        check_sync(svc, base, "ragged pages: ")
    finally:
        control(base, "PATCH", "/_emulator/settings", {"page_mode": "full"})


def check_ids_and_conditions(svc):
    event_id = uuid.uuid4().hex
    ev = svc.events().insert(calendarId=CAL, body={"id": event_id, "summary": "client id", **timed(10)}).execute()
    check(ev.get("id") == event_id, f"insert with id {event_id}: answered id {ev.get('id')!r}")
    ok(f"insert with a client-supplied id ({event_id})")

    status, body = http_error(
        lambda: svc.events().insert(calendarId=CAL, body={"id": event_id, "summary": "again", **timed(10)}).execute(),
        "insert with a duplicate id",
    )
    check(status == 409, f"duplicate id: status {status}, expected 409; body {body}")
    check(reason_of(body) == "duplicate", f"duplicate id: reason {reason_of(body)!r}, expected 'duplicate'")
    ok("duplicate id: 409 duplicate")

    stale = ev["etag"]
    changed = svc.events().patch(calendarId=CAL, eventId=event_id, body={"summary": "changed"}).execute()
    check(changed["etag"] != stale, f"patch did not change the etag ({stale})")
    replacement = {"summary": "replaced", **timed(10)}
    req = svc.events().update(calendarId=CAL, eventId=event_id, body=replacement)
    req.headers["If-Match"] = stale
    status, body = http_error(req.execute, "update with a stale If-Match")
    check(status == 412, f"stale If-Match: status {status}, expected 412; body {body}")
    check(
        svc.events().get(calendarId=CAL, eventId=event_id).execute().get("summary") == "changed",
        "stale If-Match: the update was applied anyway",
    )
    req = svc.events().update(calendarId=CAL, eventId=event_id, body=replacement)
    req.headers["If-Match"] = changed["etag"]
    updated = req.execute()
    check(updated.get("summary") == "replaced", f"update with the current If-Match answered {updated}")
    ok("update with a stale If-Match: 412; with the current etag: 200")

    svc.events().delete(calendarId=CAL, eventId=event_id).execute()
    got = svc.events().get(calendarId=CAL, eventId=event_id).execute()
    check(got.get("status") == "cancelled", f"get after delete: status {got.get('status')!r}, expected 'cancelled'")
    ok("delete; get of the deleted event answers status cancelled")

    status, body = http_error(
        lambda: svc.events().delete(calendarId=CAL, eventId=event_id).execute(), "delete of a deleted event"
    )
    check(status == 410, f"delete of a deleted event: status {status}, expected 410; body {body}")
    check(reason_of(body) == "deleted", f"delete of a deleted event: reason {reason_of(body)!r}, expected 'deleted'")
    ok("delete of a deleted event: 410 deleted")


def check_instances(svc):
    # Weekly from Monday 2026-03-16 09:00 Berlin; DST starts on 2026-03-29, so the UTC hour moves.
    master = svc.events().insert(
        calendarId=CAL,
        body={
            "summary": "weekly",
            "start": {"dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-16T10:00:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"],
        },
    ).execute()
    mid = master["id"]
    resp = svc.events().instances(calendarId=CAL, eventId=mid).execute()
    items = resp.get("items", [])
    while resp.get("nextPageToken"):
        resp = svc.events().instances(calendarId=CAL, eventId=mid, pageToken=resp["nextPageToken"]).execute()
        items += resp.get("items", [])
    ids = [i["id"] for i in items]
    expected = [f"{mid}_{s}" for s in ("20260316T080000Z", "20260323T080000Z", "20260330T070000Z", "20260406T070000Z")]
    check(ids == expected, f"instances of {mid}: ids {ids}, expected {expected}")
    for item in items:
        got = item.get("recurringEventId")
        check(got == mid, f"instance {item['id']}: recurringEventId {got!r}, expected {mid!r}")
        check("originalStartTime" in item, f"instance {item['id']}: no originalStartTime")
        check("recurrence" not in item, f"instance {item['id']}: carries recurrence")
    ok("instances: 4 weekly instances across DST with ids {id}_{YYYYMMDDTHHMMSSZ} and recurringEventId")


class Listener:
    """A local web_hook receiver: every POST is put on a queue as (headers, body)."""

    def __init__(self):
        received = self.received = queue.Queue()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received.put(({k.lower(): v for k, v in self.headers.items()}, self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, what, timeout=15):
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise CheckFailed(f"watch: no notification within {timeout}s ({what})") from None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def check_watch(svc):
    listener = Listener()
    try:
        channel_id = str(uuid.uuid4())
        channel = svc.events().watch(
            calendarId=CAL,
            body={
                "id": channel_id,
                "type": "web_hook",
                "address": f"http://127.0.0.1:{listener.port}/hook",
                "token": "t1",
            },
        ).execute()
        check(channel.get("id") == channel_id, f"watch: answered channel {channel}")
        resource_id = channel.get("resourceId")
        check(resource_id, f"watch: no resourceId in {channel}")

        def expect(headers, path, body, state, number):
            where = f"watch notification {number} ({state})"
            check(path == "/hook", f"{where}: posted to {path!r}, expected '/hook'")
            wanted = {
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": str(number),
                "X-Goog-Channel-ID": channel_id,
                "X-Goog-Channel-Token": "t1",
                "X-Goog-Resource-ID": resource_id,
            }
            for name, value in wanted.items():
                got = headers.get(name.lower())
                check(got == value, f"{where}: {name} is {got!r}, expected {value!r}")
            check(body == b"", f"{where}: has a body ({body[:100]!r}); Calendar notifications carry none")

        expect(*listener.next("the sync message after watch"), "sync", 1)
        ok("watch: sync message number 1 with channel id, token and resource id")

        svc.events().insert(calendarId=CAL, body={"summary": "watched", **timed(20)}).execute()
        expect(*listener.next("after an insert"), "exists", 2)
        ok("watch: exists message number 2 after an insert")

        svc.channels().stop(body={"id": channel_id, "resourceId": resource_id}).execute()
        ok("channels.stop")
    finally:
        listener.close()


def check_send_updates(svc, base):
    ev = svc.events().insert(calendarId=CAL, sendUpdates="none", body={"summary": "quiet", **timed(25)}).execute()
    requests = control(base, "GET", "/_emulator/requests")["requests"]
    inserts = [
        r
        for r in requests
        if r.get("method") == "POST"
        and r.get("path", "").endswith("/calendars/primary/events")
        and r.get("status") == 200
    ]
    check(inserts, f"request log: no successful events.insert recorded among {len(requests)} requests")
    last = inserts[-1]
    check(
        last.get("send_updates") == "none",
        f"request log: last events.insert has send_updates {last.get('send_updates')!r}"
        f" (query {last.get('query')!r}), expected 'none'",
    )
    check(ev.get("summary") == "quiet", f"insert with sendUpdates=none answered {ev}")
    ok("sendUpdates=none is recorded in the request log")


def unexpected_http(e):
    if isinstance(e, HttpError):
        return f"unexpected HTTP {e.resp.status} from {e.uri}: {e.content[:500]!r}"
    return None


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, token = argv[1].rstrip("/"), argv[2]
    bypass_proxies_for_loopback()
    svc = build_service(base, token)
    checks = [
        ("sync", lambda: check_sync(svc, base)),
        ("sync with ragged pages", lambda: check_sync_ragged(svc, base)),
        ("ids and conditional requests", lambda: check_ids_and_conditions(svc)),
        ("recurring instances", lambda: check_instances(svc)),
        ("push channels", lambda: check_watch(svc)),
        ("sendUpdates", lambda: check_send_updates(svc, base)),
    ]
    try:
        svc.events().list(calendarId=CAL, maxResults=1).execute()
    except Exception as e:  # noqa: BLE001 - nothing else can work; say why and stop
        print(f"FAIL  preflight: events.list on {base} failed, is the emulator up and the token valid? {e!r}")
        return 1
    failures = Failures(len(checks), unexpected_http)
    for name, run in checks:
        try:
            run()
        except Exception as e:  # noqa: BLE001 - every failure is reported; the other groups still run
            failures.add(name, e)
    return failures.report()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
