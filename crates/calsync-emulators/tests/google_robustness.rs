//! Malformed input against the Google emulator, property-based: whatever a client sends (broken
//! JSON, wrong types, impossible dates, nonsense recurrence rules, forged page and sync tokens,
//! random bytes under any content type), the emulator answers below 500, keeps answering, puts
//! every Calendar API error in Google's envelope, and a rejected write changes nothing.
//!
//! One emulator per property; the cases run one after another on a runtime built once.

mod support;

use jiff::ToSpan;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use support::*;
use tokio::runtime::Runtime;

// ---- running properties ----------------------------------------------------------------------

/// Runs `test` on `cases` inputs drawn from `strategy`; a failure panics with the minimal input.
/// Nothing is written to disk: a failure worth keeping becomes a named regression test below.
fn check<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let config =
        ProptestConfig { cases, failure_persistence: None, max_shrink_iters: 512, ..ProptestConfig::default() };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

fn runtime() -> Runtime {
    Runtime::new().expect("a tokio runtime starts")
}

/// `Ok` when `body` is Google's error envelope for `status`.
fn google_envelope(status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert_eq!(keys(body), vec!["error".to_owned()], "a {} body is not Google's envelope: {}", status, body);
    let error = &body["error"];
    prop_assert_eq!(&error["code"], &json!(status), "error.code must equal the HTTP status: {}", body);
    prop_assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "error.message in {}", body);
    let items = error["errors"].as_array();
    prop_assert!(items.is_some_and(|i| !i.is_empty()), "error.errors must be a non-empty array: {}", body);
    for item in items.into_iter().flatten() {
        prop_assert!(item["reason"].as_str().is_some_and(|r| !r.is_empty()), "errors[].reason in {}", body);
        prop_assert!(item["message"].as_str().is_some(), "errors[].message in {}", body);
        prop_assert!(item["domain"].as_str().is_some(), "errors[].domain in {}", body);
    }
    Ok(())
}

/// Below 500 always; a Google error envelope whenever it is not 2xx.
fn answered_well(what: &str, status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{} answered {}: {}", what, status, body);
    if !(200..300).contains(&status) {
        google_envelope(status, body).map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
    }
    Ok(())
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

// ---- the calendar every property starts from -------------------------------------------------

/// Events on the default user's primary calendar: one of each shape the emulator stores.
#[derive(Debug)]
struct Fixture {
    single: String,
    all_day: String,
    /// Weekly (Mon, Wed, Fri) at 09:00 Europe/Berlin from 2026-01-05, without end.
    master: String,
    /// A deleted event (a cancelled tombstone).
    tombstone: String,
    /// An instance that was moved, stored as an exception.
    exception: String,
}

impl Fixture {
    async fn create(emu: &Emu) -> Self {
        let single = id_of(&insert(&emu.api, "primary", &hour_event("single", 9)).await);
        let all_day = id_of(
            &insert(
                &emu.api,
                "primary",
                &json!({"summary": "all day", "start": {"date": "2026-02-01"},
                                                  "end": {"date": "2026-02-03"}}),
            )
            .await,
        );
        let master = id_of(
            &insert(
                &emu.api,
                "primary",
                &json!({"summary": "standup",
                        "start": {"dateTime": "2026-01-05T09:00:00", "timeZone": "Europe/Berlin"},
                        "end": {"dateTime": "2026-01-05T09:15:00", "timeZone": "Europe/Berlin"},
                        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR"],
                        "extendedProperties": {"private": {"k": "v"}, "shared": {"team": "core"}}}),
            )
            .await,
        );
        let tombstone = id_of(&insert(&emu.api, "primary", &hour_event("deleted", 11)).await);
        let (status, _, body) = emu.api.delete(&event_path(&tombstone)).await;
        assert_eq!(status, 204, "deleting the tombstone: {body}");
        let exception = format!("{master}_{}", master_instance_key(1));
        let (status, _, body) = emu.api.patch(&event_path(&exception), &json!({"summary": "moved"})).await;
        assert_eq!(status, 200, "storing an exception: {body}");
        Self { single, all_day, master, tombstone, exception }
    }

    /// Ids that exist: stored events, the tombstone, a virtual instance and an exception.
    fn ids(&self) -> Vec<String> {
        vec![
            self.single.clone(),
            self.all_day.clone(),
            self.master.clone(),
            self.tombstone.clone(),
            self.exception.clone(),
            format!("{}_{}", self.master, master_instance_key(2)),
        ]
    }
}

fn id_of(event: &Value) -> String {
    event["id"].as_str().unwrap_or_else(|| panic!("no id in {event}")).to_owned()
}

/// The instance-id suffix of the fixture master's `n`-th occurrence (Mon, Wed, Fri weekly).
fn master_instance_key(n: u32) -> String {
    let days = i64::from(n / 3) * 7 + [0, 2, 4][usize::try_from(n % 3).unwrap_or(0)];
    let date = jiff::civil::date(2026, 1, 5).checked_add(days.days()).expect("a date in range");
    let at = date.at(9, 0, 0, 0).in_tz("Europe/Berlin").expect("a Berlin time");
    at.timestamp().strftime("%Y%m%dT%H%M%SZ").to_string()
}

// ---- generators: JSON ------------------------------------------------------------------------

/// Names the emulator looks at (event fields, `EventDateTime` fields, channel fields), so that
/// random objects hit real code paths, not only the "unknown field" one.
const FIELD_NAMES: &[&str] = &[
    "id",
    "summary",
    "description",
    "location",
    "colorId",
    "start",
    "end",
    "date",
    "dateTime",
    "timeZone",
    "recurrence",
    "status",
    "sequence",
    "transparency",
    "visibility",
    "attendees",
    "email",
    "extendedProperties",
    "private",
    "shared",
    "reminders",
    "eventType",
    "iCalUID",
    "kind",
    "etag",
    "updated",
    "recurringEventId",
    "originalStartTime",
    "type",
    "address",
    "token",
    "expiration",
    "params",
    "ttl",
    "resourceId",
];

/// Texts with a meaning somewhere in the emulator, and a few that are hostile anywhere.
const SAMPLE_TEXTS: &[&str] = &[
    "",
    " ",
    "primary",
    "confirmed",
    "cancelled",
    "tentative",
    "default",
    "2026-01-05",
    "2026-01-05T09:00:00Z",
    "2026-01-05T09:00:00",
    "Europe/Berlin",
    "UTC",
    "RRULE:FREQ=DAILY",
    "web_hook",
    "https://example.com/hook",
    "http://127.0.0.1:1/hook",
    "user@example.com",
    "\u{0}",
    "\u{feff}",
    "\u{202e}evil",
    "🗓️📅",
    "ß\u{301}",
    "\\u0000",
    "%00",
    "../../etc/passwd",
    "null",
    "true",
    "NaN",
    "1e400",
    "\r\n",
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "\\PC{0,24}",
        2 => select(SAMPLE_TEXTS).prop_map(str::to_owned),
        1 => (0usize..5000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    let edges = vec![
        0_i64,
        -1,
        1,
        i64::from(i32::MAX),
        i64::from(i32::MAX) + 1,
        i64::from(u32::MAX) + 1,
        i64::MAX,
        i64::MIN,
        1_000_000_000_000_000,
    ];
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Not finite: becomes null.
        any::<f64>().prop_map(Value::from),
        select(edges).prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        Just(json!(-0.0)),
        Just(json!(1e300)),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![3 => select(FIELD_NAMES).prop_map(str::to_owned), 1 => text()].boxed()
}

/// Any JSON value: nested objects and arrays of strings (any Unicode), numbers, bools, nulls.
fn any_json() -> BoxedStrategy<Value> {
    let leaf =
        prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), text().prop_map(Value::String),];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A string from `strings`, sometimes a value of another JSON type.
fn string_or_any(strings: BoxedStrategy<String>) -> BoxedStrategy<Value> {
    prop_oneof![5 => strings.prop_map(Value::String), 1 => any_json()].boxed()
}

// ---- generators: events ----------------------------------------------------------------------

const DATES: &[&str] = &[
    "2026-01-05",
    "2026-02-29",
    "2028-02-29",
    "2026-13-01",
    "2026-00-10",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "-009999-01-01",
    "+002026-01-05",
    "20260105",
    "2026-1-5",
    "2026-01-05T00:00:00Z",
];

const DATE_TIMES: &[&str] = &[
    "2026-01-05T09:00:00Z",
    "2026-01-05T09:00:00+14:00",
    "2026-01-05T09:00:00-12:00",
    "2026-01-05T09:00:00+25:59",
    "2026-01-05T09:00:00+99:99",
    "2026-01-05T09:00:00",
    "2026-01-05T09:00:00.123456789Z",
    "2026-06-30T23:59:60Z",
    "2026-03-29T02:30:00",
    "2026-10-25T02:30:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-25:59",
    "-009999-01-02T01:59:59Z",
    "-009999-01-01T00:00:00+25:59",
    "0000-01-01T00:00:00Z",
    "2026-01-05 09:00:00Z",
    "2026-01-05T09:00Z",
    "2026-01-05T24:00:00Z",
    "2026-01-05t09:00:00z",
    "1767603600",
];

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "Etc/GMT+12",
    "Etc/GMT-14",
    "America/Argentina/ComodRivadavia",
    "Mars/Olympus",
    "europe/berlin",
    "+02:00",
    "GMT+2",
    "",
    "/",
    "Europe/../../etc/passwd",
];

fn date_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(DATES).prop_map(str::to_owned),
        3 => "[0-9]{4}-[0-1][0-9]-[0-3][0-9]",
        1 => text(),
    ]
    .boxed()
}

fn date_time_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(DATE_TIMES).prop_map(str::to_owned),
        3 => "[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,12})?(Z|[+-][0-2][0-9]:[0-5][0-9])?",
        1 => text(),
    ]
    .boxed()
}

fn zone_text() -> BoxedStrategy<String> {
    prop_oneof![4 => select(ZONES).prop_map(str::to_owned), 1 => text()].boxed()
}

/// An `EventDateTime` with any mix of `date`, `dateTime` and `timeZone`, or any JSON at all.
fn when() -> BoxedStrategy<Value> {
    let fields = (
        option::of(string_or_any(date_text())),
        option::of(string_or_any(date_time_text())),
        option::of(string_or_any(zone_text())),
    );
    prop_oneof![
        6 => fields.prop_map(|(date, date_time, zone)| {
            let mut m = Map::new();
            for (k, v) in [("date", date), ("dateTime", date_time), ("timeZone", zone)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        }),
        1 => any_json(),
    ]
    .boxed()
}

/// A start and end the emulator accepts on their own, so that the other fields of the body get
/// checked too (and some writes succeed): all-day or timed, with or without a zone, any year.
fn year() -> impl Strategy<Value = i16> {
    prop_oneof![Just(1_i16), Just(1970), Just(2026), Just(9999), 1_i16..=9999]
}

fn valid_span() -> BoxedStrategy<(Value, Value)> {
    let all_day = (year(), 1_i8..=12, 1_i8..=28, 1_i64..=800).prop_map(|(y, m, d, days)| {
        let start = jiff::civil::date(y, m, d);
        let end = start.checked_add(days.days()).unwrap_or(start);
        (json!({"date": start.to_string()}), json!({"date": end.to_string()}))
    });
    let zone = option::of(select(&ZONES[..9]));
    let timed = (year(), 1_i8..=12, 1_i8..=28, 0_i8..24, 0_i8..60, 0_i64..=200_000, zone).prop_map(
        |(y, m, d, h, min, minutes, zone)| {
            let start = jiff::civil::date(y, m, d).at(h, min, 0, 0);
            let end = start.checked_add(minutes.minutes()).unwrap_or(start);
            let show = |t: jiff::civil::DateTime| match zone {
                Some(z) => json!({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": z}),
                None => json!({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}),
            };
            (show(start), show(end))
        },
    );
    prop_oneof![all_day, timed].boxed()
}

const RRULE_KEYS: &[&str] = &[
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
    "FREQ",
    "X-NAME",
    "count",
];

const RRULE_VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "5",
    "30",
    "31",
    "53",
    "-53",
    "60",
    "366",
    "-366",
    "367",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "99999999999999999999",
    "MO",
    "1MO",
    "-1FR",
    "53SU",
    "-54MO",
    "MO,TU,WE,TH,FR,SA,SU",
    "XX",
    "20261231",
    "20261231T235959Z",
    "20261231T235959",
    "99991231T235959Z",
    "00010101T000000Z",
    "20200101T000000Z",
    "",
    ",",
    "1,,2",
];

const RECURRENCE_LINES: &[&str] = &[
    "RRULE:FREQ=DAILY",
    "RRULE:FREQ=DAILY;COUNT=5",
    "RRULE:FREQ=SECONDLY;COUNT=4294967295",
    "RRULE:FREQ=MINUTELY",
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;BYSETPOS=-1",
    "RRULE:FREQ=WEEKLY;UNTIL=99991231T235959Z",
    "RRULE:FREQ=WEEKLY;UNTIL=20000101T000000Z",
    "RRULE:FREQ=WEEKLY;COUNT=2;UNTIL=20270101T000000Z",
    "RRULE:FREQ=DAILY;INTERVAL=0",
    "RRULE:",
    "RRULE",
    "RRULE;TZID=UTC:FREQ=DAILY",
    "rrule:freq=daily;count=3",
    "EXDATE:20260105T080000Z",
    "EXDATE;TZID=Europe/Berlin:20260105T090000",
    "EXDATE;VALUE=DATE:20260105",
    "EXDATE;TZID=Mars/Olympus:20260105T090000",
    "RDATE:20260106T080000Z,20991231T000000Z",
    "RDATE;VALUE=PERIOD:20260106T080000Z/P1D",
    "RDATE;VALUE=PERIOD:20260106T080000Z/PT0S",
    "RDATE;VALUE=PERIOD:20260106T080000Z/P99999D",
    "RDATE;VALUE=PERIOD:20260106T080000Z/20260105T080000Z",
    "RDATE:00010101T000000Z",
    "RDATE:99991231T235959Z",
    "DTSTART:20260105T090000Z",
    "dtstart;TZID=UTC:20260105T090000",
    "DTEND:20260105T100000Z",
    "EXRULE:FREQ=DAILY",
    ":",
    "X-FOO:bar",
];

fn rrule() -> BoxedStrategy<String> {
    let freq =
        select(vec!["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "daily", "FOO", ""]);
    let value = prop_oneof![4 => select(RRULE_VALUES).prop_map(str::to_owned), 1 => "[A-Z0-9,+-]{0,8}"];
    let part = (select(RRULE_KEYS), value).prop_map(|(k, v)| format!("{k}={v}"));
    (freq, vec(part, 0..4))
        .prop_map(|(freq, parts)| {
            let mut all = vec![format!("FREQ={freq}")];
            all.extend(parts);
            format!("RRULE:{}", all.join(";"))
        })
        .boxed()
}

fn recurrence() -> BoxedStrategy<Value> {
    let line = prop_oneof![4 => rrule(), 3 => select(RECURRENCE_LINES).prop_map(str::to_owned), 1 => text()];
    prop_oneof![
        6 => vec(line, 0..4).prop_map(|lines| json!(lines)),
        1 => any_json(),
    ]
    .boxed()
}

/// Ids as a client might send them: valid, almost valid, instance-like, or anything.
fn event_id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-v0-9]{5,40}",
        1 => "[a-z0-9_]{0,12}",
        1 => "[A-Z]{5,10}",
        1 => Just("x_20260101T000000Z".to_owned()),
        1 => "[a-v0-9]{1,10}_[0-9]{8}(T[0-9]{6}Z)?",
        2 => text(),
    ]
    // `.` and `..` are path navigation, not ids: clients cannot send them as a path segment.
    .prop_filter("a path segment", |id| id != "." && id != "..")
    .boxed()
}

/// The suffix of an instance id of the fixture master: a real occurrence, a plausible but
/// wrong one, or garbage.
fn instance_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0_u32..300).prop_map(master_instance_key),
        3 => (2025_i32..=2028, 1_u32..=12, 1_u32..=31, 0_u32..24, select(vec![0_u32, 30]))
            .prop_map(|(y, m, d, h, min)| format!("{y}{m:02}{d:02}T{h:02}{min:02}00Z")),
        1 => "[0-9]{8}(T[0-9]{6}Z)?",
        1 => select(vec!["20260105", "99991231T235959Z", "99991231", "00000101T000000Z", "20260105T080000z",
                         "20260105T0800Z", "", "_", "20260105T080000Z_20260107T080000Z"])
            .prop_map(str::to_owned),
        1 => text(),
    ]
    .boxed()
}

fn extended_properties() -> BoxedStrategy<Value> {
    let props =
        vec((text(), string_or_any(text())), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed();
    let scope = select(vec!["private", "shared", "public", ""]);
    prop_oneof![
        4 => vec((scope, prop_oneof![4 => props, 1 => any_json()]), 0..3)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        1 => any_json(),
    ]
    .boxed()
}

fn attendees() -> BoxedStrategy<Value> {
    let one = prop_oneof![
        3 => string_or_any(text()).prop_map(|email| json!({"email": email})),
        1 => any_json(),
    ];
    prop_oneof![4 => vec(one, 0..3).prop_map(Value::Array), 1 => any_json()].boxed()
}

/// An event body: a span (often valid) plus any of the fields the emulator checks, each
/// sometimes of the wrong type, plus an arbitrary extra field.
fn event_like() -> BoxedStrategy<Value> {
    let span = prop_oneof![
        4 => valid_span().prop_map(|(s, e)| (Some(s), Some(e))),
        1 => (option::of(when()), option::of(when())),
    ];
    let status = string_or_any(
        select(vec!["confirmed", "tentative", "cancelled", "CONFIRMED", ""]).prop_map(str::to_owned).boxed(),
    );
    let id = prop_oneof![3 => "[a-v0-9]{5,40}".prop_map(Value::String), 1 => string_or_any(event_id())];
    let sequence = prop_oneof![3 => (0_i64..5).prop_map(Value::from), 1 => number(), 1 => any_json()];
    let summary = prop_oneof![6 => text().prop_map(Value::String), 1 => any_json()];
    // Each field is often absent, so that a body is not almost always refused for its worst one.
    (
        span,
        option::weighted(0.3, id),
        option::weighted(0.4, recurrence()),
        option::weighted(0.2, status),
        option::weighted(0.3, sequence),
        option::weighted(0.5, summary),
        option::weighted(0.2, extended_properties()),
        option::weighted(0.2, attendees()),
        option::weighted(0.3, (key(), any_json())),
        option::weighted(0.2, string_or_any(text())),
    )
        .prop_map(|((start, end), id, recurrence, status, sequence, summary, props, attendees, extra, uid)| {
            let mut m = Map::new();
            let fields = [
                ("start", start),
                ("end", end),
                ("id", id),
                ("recurrence", recurrence),
                ("status", status),
                ("sequence", sequence),
                ("summary", summary),
                ("extendedProperties", props),
                ("attendees", attendees),
                ("iCalUID", uid),
            ];
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            for (k, v) in fields {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

/// JSON texts a `serde_json::Value` cannot express: numbers beyond every integer and float
/// type, nesting past any parser's limit, duplicate keys, a byte-order mark.
fn raw_json_text() -> BoxedStrategy<String> {
    let templates = vec![
        r#"{"sequence":@N@}"#,
        r#"{"start":{"dateTime":"2026-01-05T10:00:00Z"},"end":{"dateTime":"2026-01-05T11:00:00Z"},"sequence":@N@}"#,
        r#"{"start":{"date":"2026-01-05"},"end":{"date":"2026-01-06"},"id":@N@}"#,
        r#"{"start":@N@,"end":{"date":"2026-01-06"}}"#,
        r#"{"start":{"date":"2026-01-05"},"end":{"date":"2026-01-06"},"summary":@N@}"#,
        r#"{"start":{"date":"2026-01-05"},"end":{"date":"2026-01-06"},"extendedProperties":{"private":{"k":@N@}}}"#,
        r#"{"start":{"date":"2026-01-05"},"end":{"date":"2026-01-06"},"recurrence":[@N@]}"#,
        r#"{"start":{"date":"2026-01-05"},"end":{"date":"2026-01-06"},"attendees":[{"email":@N@}]}"#,
        r#"[@N@]"#,
        r#"@N@"#,
    ];
    let numbers = vec![
        "1e400",
        "-1e400",
        "1e-400",
        "123456789012345678901234567890",
        "-123456789012345678901234567890",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "2147483648",
        "-0",
        "0.5",
        "1E2",
        "01",
        "+1",
        ".5",
        "NaN",
        "Infinity",
    ];
    prop_oneof![
        4 => (select(templates), select(numbers)).prop_map(|(t, n)| t.replace("@N@", n)),
        1 => (1_usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        1 => (1_usize..3000).prop_map(|n| format!("{}1{}", "{\"start\":".repeat(n), "}".repeat(n))),
        1 => Just(r#"{"start":{"date":"2026-01-05"},"start":{"dateTime":"x"},"end":{"date":"2026-01-06"}}"#.to_owned()),
        1 => Just("\u{feff}{}".to_owned()),
        1 => Just("{\"summary\":\"\\ud800\"}".to_owned()),
        1 => "\\PC{0,40}",
    ]
    .boxed()
}

// ---- (a) writes ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Insert,
    Update,
    Patch,
}

#[derive(Debug, Clone)]
enum Target {
    /// One of [`Fixture::ids`].
    Existing(usize),
    /// `{fixture master}_{suffix}`.
    InstanceOf(String),
    /// An event an earlier case created (the fixture's single event while there is none).
    Created(usize),
    /// An occurrence of an event an earlier case created (`instances` picks it).
    CreatedInstance(usize, usize),
    Other(String),
}

#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Text(String),
}

#[derive(Debug, Clone)]
struct WriteCase {
    kind: WriteKind,
    target: Target,
    body: Body,
    if_match: Option<String>,
    send_updates: Option<&'static str>,
}

fn write_case() -> impl Strategy<Value = WriteCase> {
    let kind = select(vec![WriteKind::Insert, WriteKind::Update, WriteKind::Patch]);
    let target = prop_oneof![
        4 => (0_usize..6).prop_map(Target::Existing),
        3 => instance_key().prop_map(Target::InstanceOf),
        2 => any::<usize>().prop_map(Target::Created),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Target::CreatedInstance(i, j)),
        1 => event_id().prop_map(Target::Other),
    ];
    let body = prop_oneof![
        6 => event_like().prop_map(Body::Json),
        1 => any_json().prop_map(Body::Json),
        1 => raw_json_text().prop_map(Body::Text),
    ];
    let if_match = option::weighted(0.1, prop_oneof![Just("*".to_owned()), "[!-~]{0,24}"]);
    let send_updates =
        option::weighted(0.15, select(vec!["all", "none", "externalOnly", "all", "none", "ALL", "bogus", ""]));
    (kind, target, body, if_match, send_updates).prop_map(|(kind, target, body, if_match, send_updates)| WriteCase {
        kind,
        target,
        body,
        if_match,
        send_updates,
    })
}

/// A percent-encoded path segment (RFC 3986 unreserved characters stay as they are).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct WriteWorld<'a> {
    emu: &'a Emu,
    fixture: &'a Fixture,
    /// The calendar's latest sync token: a delta from it shows whether a write changed anything.
    sync_token: RefCell<String>,
    /// Events that a write created, to look at once all cases ran.
    accepted: RefCell<Vec<String>>,
}

impl WriteWorld<'_> {
    async fn target_id(&self, target: &Target) -> String {
        let created = |i: usize| {
            let accepted = self.accepted.borrow();
            if accepted.is_empty() { self.fixture.single.clone() } else { accepted[i % accepted.len()].clone() }
        };
        match target {
            Target::Existing(i) => {
                let ids = self.fixture.ids();
                ids[i % ids.len()].clone()
            }
            Target::InstanceOf(key) => format!("{}_{key}", self.fixture.master),
            Target::Created(i) => created(*i),
            Target::CreatedInstance(i, j) => {
                let master = created(*i);
                let url = format!("{EVENTS}/{}/instances?maxResults=5&showDeleted=true", segment(&master));
                let (_, _, page) = self.emu.api.get(&url).await;
                let found = ids(&page);
                if found.is_empty() { master } else { found[j % found.len()].clone() }
            }
            Target::Other(id) => id.clone(),
        }
    }

    /// The changes since the last case (all pages); the sync token moves on to now.
    async fn delta(&self) -> Vec<Value> {
        let token = self.sync_token.borrow().clone();
        let (items, next) = list_items(&self.emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
        *self.sync_token.borrow_mut() = next;
        items
    }

    async fn run(&self, case: WriteCase) -> Result<(), TestCaseError> {
        let api = &self.emu.api;
        let id = self.target_id(&case.target).await;
        let path = match case.kind {
            WriteKind::Insert => EVENTS.to_owned(),
            WriteKind::Update | WriteKind::Patch => format!("{EVENTS}/{}", segment(&id)),
        };
        let url = match case.send_updates {
            Some(s) => format!("{path}?sendUpdates={}", enc(s)),
            None => path.clone(),
        };
        let before = if case.kind == WriteKind::Insert { None } else { Some(api.get(&path).await) };
        let method = match case.kind {
            WriteKind::Insert => Method::POST,
            WriteKind::Update => Method::PUT,
            WriteKind::Patch => Method::PATCH,
        };
        let bytes = match &case.body {
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Text(t) => t.clone().into_bytes(),
        };
        let headers: Vec<(&str, &str)> = case.if_match.iter().map(|t| ("if-match", t.as_str())).collect();
        let (status, _, reply) = api.raw(method.clone(), &url, Some(("application/json", bytes)), &headers).await;
        let what = format!("{method} {url}");
        answered_well(&what, status, &reply)?;
        let changes = self.delta().await;
        if !is_success(status) {
            prop_assert!(changes.is_empty(), "{} was refused ({}) but changed {:?}", what, status, changes);
            if let Some((s0, _, b0)) = before {
                let (s1, _, b1) = api.get(&path).await;
                prop_assert_eq!(s1, s0, "{} was refused ({}) but GET {} changed", what, status, path);
                prop_assert_eq!(&b1["etag"], &b0["etag"], "{} was refused ({}) but the etag changed", what, status);
                prop_assert_eq!(b1, b0, "{} was refused ({}) but the event changed", what, status);
            }
            return Ok(());
        }
        prop_assert_eq!(&reply["kind"], &json!("calendar#event"), "{} answered {}", what, reply);
        prop_assert!(!changes.is_empty(), "{} succeeded but the delta is empty", what);
        let stored = reply["id"].as_str().unwrap_or_default().to_owned();
        let (s, _, got) = api.get(&format!("{EVENTS}/{}", segment(&stored))).await;
        prop_assert_eq!(s, 200, "GET of the event {} just wrote: {}", what, got);
        prop_assert_eq!(&got["etag"], &reply["etag"], "GET after {} shows another etag", what);
        if case.kind == WriteKind::Insert {
            self.accepted.borrow_mut().push(stored);
        }
        Ok(())
    }
}

#[test]
fn no_write_body_makes_the_emulator_fail_and_a_refused_write_changes_nothing() {
    let rt = runtime();
    let emu = rt.block_on(Emu::start());
    let fixture = rt.block_on(Fixture::create(&emu));
    let (_, token) = rt.block_on(list_all(&emu.api, EVENTS));
    let world =
        WriteWorld { emu: &emu, fixture: &fixture, sync_token: RefCell::new(token), accepted: RefCell::default() };
    check(96, write_case(), |case| rt.block_on(world.run(case)));

    // Whatever was accepted can be listed and expanded.
    rt.block_on(async {
        for url in [
            format!("{EVENTS}?showDeleted=true&maxResults=2500"),
            format!("{EVENTS}?singleEvents=true&maxResults=2500"),
            format!("{EVENTS}?singleEvents=true&orderBy=startTime&timeMin=2026-01-01T00:00:00Z"),
        ] {
            list_all(&emu.api, &url).await;
        }
        let accepted = world.accepted.borrow().clone();
        for id in &accepted {
            let (status, _, body) = emu.api.get(&format!("{EVENTS}/{}/instances", segment(id))).await;
            assert!(status < 500 && (status == 200 || status == 410), "instances of {id}: {status} {body}");
        }
    });
}

// ---- (b) list queries ------------------------------------------------------------------------

const LIST_PARAMETERS: &[&str] = &[
    "maxResults",
    "pageToken",
    "syncToken",
    "showDeleted",
    "singleEvents",
    "timeMin",
    "timeMax",
    "updatedMin",
    "q",
    "orderBy",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
    "eventTypes",
    "timeZone",
];

/// Parameters the emulator leaves out of a page token's query fingerprint.
const NEUTRAL: &[&str] = &[
    "pageToken",
    "alt",
    "prettyPrint",
    "fields",
    "key",
    "quotaUser",
    "oauth_token",
    "access_token",
    "$.xgafv",
    "callback",
    "upload_protocol",
    "uploadType",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Events,
    Instances,
    CalendarList,
}

/// A query value. Tokens are made when the case runs: real ones come from the emulator, forged
/// ones are well-formed tokens (as far as the format is known) carrying hostile numbers.
#[derive(Debug, Clone)]
enum QueryValue {
    Text(String),
    RealSyncToken(usize),
    RealPageToken(usize),
    ForgedSyncToken { right_scope: bool, s: u64, f: Option<u64>, t: i64 },
    ForgedPageToken { s: u64, k: String, n: u32 },
}

#[derive(Debug, Clone)]
struct ListCase {
    listing: Listing,
    pairs: Vec<(String, QueryValue)>,
}

const TIMES: &[&str] = &[
    "2026-01-01T00:00:00Z",
    "2026-01-05T08:00:00Z",
    "2026-06-01T00:00:00+02:00",
    "2030-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999-25:59",
    "-009999-01-02T01:59:59Z",
    "-009999-01-01T00:00:00+25:59",
    "1970-01-01T00:00:00Z",
    "2026-01-01",
    "2026-01-01T00:00:00",
    "2026-06-30T23:59:60Z",
    "now",
];

fn numeric_text() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "0",
            "1",
            "2",
            "3",
            "250",
            "2500",
            "2501",
            "-1",
            "1.5",
            " 1",
            "+1",
            "0x10",
            "1e3",
            "99999999999999999999999999",
            "18446744073709551615",
            "18446744073709551616"
        ])
        .prop_map(str::to_owned),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (1_u32..30).prop_map(|n| n.to_string()),
    ]
    .boxed()
}

fn token_garbage(prefix: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        "[0-9a-f]{0,64}".prop_map(move |h| format!("{prefix}{h}")),
        // Valid hex of something that is not a token.
        any_json().prop_map(move |v| format!("{prefix}{}", hex(v.to_string().as_bytes()))),
        // Past the decoder's length limit.
        (8190_usize..8200).prop_map(move |n| format!("{prefix}{}", "7b".repeat(n))),
        text(),
    ]
    .boxed()
}

fn value_for(name: &str) -> BoxedStrategy<QueryValue> {
    let literal = |s: BoxedStrategy<String>| s.prop_map(QueryValue::Text).boxed();
    let specific: BoxedStrategy<QueryValue> = match name {
        "maxResults" => literal(numeric_text()),
        "pageToken" => prop_oneof![
            2 => (0_usize..4).prop_map(QueryValue::RealPageToken),
            3 => (any::<u64>(), prop_oneof![".{0,8}", select(vec!["", "~", "\u{10ffff}"]).prop_map(str::to_owned)],
                  prop_oneof![2 => Just(u32::MAX), 1 => Just(u32::MAX - 1), 1 => any::<u32>(), 2 => 0_u32..4])
                .prop_map(|(s, k, n)| QueryValue::ForgedPageToken { s, k, n }),
            2 => literal(token_garbage("P")),
        ]
        .boxed(),
        "syncToken" => prop_oneof![
            2 => (0_usize..4).prop_map(QueryValue::RealSyncToken),
            3 => (any::<bool>(), prop_oneof![any::<u64>(), 0_u64..20, Just(u64::MAX)],
                  option::of(any::<u64>()), prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)])
                .prop_map(|(right_scope, s, f, t)| QueryValue::ForgedSyncToken { right_scope, s, f, t }),
            2 => literal(token_garbage("S")),
        ]
        .boxed(),
        "showDeleted" | "singleEvents" => {
            literal(select(vec!["true", "false", "TRUE", "False", "1", "0", "yes", ""]).prop_map(str::to_owned).boxed())
        }
        "timeMin" | "timeMax" | "updatedMin" => literal(
            prop_oneof![
                3 => select(TIMES).prop_map(str::to_owned),
                2 => "[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](Z|[+-][0-2][0-9]:[0-5][0-9])",
            ]
            .boxed(),
        ),
        "orderBy" => {
            literal(select(vec!["startTime", "updated", "STARTTIME", "id", ""]).prop_map(str::to_owned).boxed())
        }
        "privateExtendedProperty" | "sharedExtendedProperty" => literal(
            prop_oneof![
                select(vec!["k=v", "team=core", "=", "==", "k=", "=v", "novalue"]).prop_map(str::to_owned),
                text()
            ]
            .boxed(),
        ),
        "eventTypes" => literal(
            prop_oneof![
                select(vec!["default", "focusTime", "outOfOffice", "workingLocation", "birthday", ""])
                    .prop_map(str::to_owned),
                text()
            ]
            .boxed(),
        ),
        "timeZone" => literal(zone_text()),
        "q" | "iCalUID" => literal(prop_oneof![Just("standup".to_owned()), text()].boxed()),
        _ => literal(text()),
    };
    prop_oneof![3 => specific, 1 => literal(prop_oneof![text(), numeric_text()].boxed())].boxed()
}

fn list_case() -> impl Strategy<Value = ListCase> {
    // Tokens are where the state hides: they come up more often than the other parameters.
    let name = prop_oneof![
        8 => select(LIST_PARAMETERS).prop_map(str::to_owned),
        2 => Just("pageToken".to_owned()),
        1 => Just("syncToken".to_owned()),
        1 => select(vec!["showHiddenInvitations", "originalStart", "minAccessRole", "showHidden", "alt", "fields",
                         "prettyPrint", "maxAttendees", "alwaysIncludeEmail"])
            .prop_map(str::to_owned),
        1 => text(),
    ];
    let pair = name.prop_flat_map(|name| {
        let value = value_for(&name);
        (Just(name), value)
    });
    let listing = select(vec![Listing::Events, Listing::Instances, Listing::CalendarList]);
    (listing, vec(pair, 0..6)).prop_map(|(listing, pairs)| ListCase { listing, pairs })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a over the parts, each followed by a zero byte: how the emulator fingerprints queries.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Tokens the emulator really issued, per listing.
#[derive(Debug, Default)]
struct RealTokens {
    sync: Vec<String>,
    page: Vec<String>,
}

struct ListWorld<'a> {
    emu: &'a Emu,
    fixture: &'a Fixture,
    events: RealTokens,
    instances: RealTokens,
    calendars: RealTokens,
}

impl<'a> ListWorld<'a> {
    async fn new(emu: &'a Emu, fixture: &'a Fixture) -> Self {
        let api = &emu.api;
        let instances_url = format!("{EVENTS}/{}/instances", fixture.master);
        let mut events = RealTokens::default();
        for url in [EVENTS.to_owned(), format!("{EVENTS}?singleEvents=true"), format!("{EVENTS}?showDeleted=true")] {
            events.sync.push(list_all(api, &url).await.1);
        }
        let mut calendars = RealTokens::default();
        calendars.sync.push(list_all(api, CALENDAR_LIST).await.1);
        let mut instances = RealTokens::default();
        for (listing, url) in [
            (Listing::Events, format!("{EVENTS}?maxResults=1")),
            (Listing::Events, format!("{EVENTS}?maxResults=1&singleEvents=true")),
            (Listing::Instances, format!("{instances_url}?maxResults=1")),
            (Listing::Instances, format!("{instances_url}?maxResults=2&timeMin=2026-01-01T00:00:00Z")),
        ] {
            let (status, _, page) = api.get(&url).await;
            assert_eq!(status, 200, "{url}: {page}");
            let token = page["nextPageToken"].as_str().unwrap_or_else(|| panic!("no nextPageToken from {url}: {page}"));
            let tokens = if listing == Listing::Events { &mut events } else { &mut instances };
            tokens.page.push(token.to_owned());
        }
        Self { emu, fixture, events, instances, calendars }
    }
    fn path(&self, listing: Listing) -> String {
        match listing {
            Listing::Events => EVENTS.to_owned(),
            Listing::Instances => format!("{EVENTS}/{}/instances", self.fixture.master),
            Listing::CalendarList => CALENDAR_LIST.to_owned(),
        }
    }

    /// The query pairs with every token made.
    fn resolve(&self, case: &ListCase) -> Vec<(String, String)> {
        let real = match case.listing {
            Listing::Events => &self.events,
            Listing::Instances => &self.instances,
            Listing::CalendarList => &self.calendars,
        };
        let pick = |list: &[String], i: usize| list.get(i % list.len().max(1)).cloned().unwrap_or_default();
        let mut pairs: Vec<(String, Option<String>)> = case
            .pairs
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    QueryValue::Text(t) => Some(t.clone()),
                    QueryValue::RealSyncToken(i) => Some(pick(&real.sync, *i)),
                    QueryValue::RealPageToken(i) => Some(pick(&real.page, *i)),
                    QueryValue::ForgedSyncToken { right_scope, s, f, t } => {
                        let scope = match (case.listing, right_scope) {
                            (_, false) => "someone-else@example.com".to_owned(),
                            (Listing::CalendarList, true) => format!("list:{USER}"),
                            (_, true) => USER.to_owned(),
                        };
                        let f = f.unwrap_or_else(|| sync_fingerprint(&case.pairs));
                        let token = json!({"c": scope, "s": s, "f": f, "g": 0, "t": t});
                        Some(format!("S{}", hex(token.to_string().as_bytes())))
                    }
                    QueryValue::ForgedPageToken { .. } => None,
                };
                (k.clone(), text)
            })
            .collect();
        // A page token must carry the fingerprint of the rest of the query.
        let mut plain: Vec<(&str, &str)> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_str(), v)))
            .filter(|(k, _)| !NEUTRAL.contains(k))
            .collect();
        plain.sort_unstable();
        let flat: Vec<&str> = plain.iter().flat_map(|(k, v)| [*k, *v]).collect();
        let fingerprint = fnv(&flat);
        for ((_, text), (_, v)) in pairs.iter_mut().zip(&case.pairs) {
            if let QueryValue::ForgedPageToken { s, k, n } = v {
                let token = json!({"f": fingerprint, "s": s, "k": k, "n": n});
                *text = Some(format!("P{}", hex(token.to_string().as_bytes())));
            }
        }
        pairs.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
    }

    async fn run(&self, case: ListCase) -> Result<(), TestCaseError> {
        let pairs = self.resolve(&case);
        let path = self.path(case.listing);
        let (status, page) = self.get(&path, &pairs).await?;
        if !is_success(status) {
            return Ok(());
        }
        // The next page of the same query obeys the same rules.
        if let Some(next) = page["nextPageToken"].as_str() {
            let mut again: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "pageToken").collect();
            again.push(("pageToken".into(), next.to_owned()));
            let (status, page) = self.get(&path, &again).await?;
            prop_assert_eq!(status, 200, "the next page of a 200 listing: {}", page);
        }
        Ok(())
    }

    async fn get(&self, path: &str, pairs: &[(String, String)]) -> Result<(u16, Value), TestCaseError> {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let url = if refs.is_empty() { path.to_owned() } else { format!("{path}?{}", form(&refs)) };
        let (status, _, page) = self.emu.api.get(&url).await;
        let what = format!("GET {url}");
        answered_well(&what, status, &page)?;
        if is_success(status) {
            let page_token = page.get("nextPageToken").is_some();
            let sync_token = page.get("nextSyncToken").is_some();
            if path.ends_with("/instances") {
                prop_assert!(!sync_token, "{} carries a nextSyncToken: {}", what, page);
            } else {
                prop_assert!(
                    page_token != sync_token,
                    "{}: exactly one of nextPageToken/nextSyncToken: {}",
                    what,
                    page
                );
            }
            prop_assert!(page["items"].is_array(), "{}: no items in {}", what, page);
        }
        Ok((status, page))
    }
}

/// The fingerprint the emulator puts in an events sync token for these parameters.
fn sync_fingerprint(pairs: &[(String, QueryValue)]) -> u64 {
    let first = |name: &str| {
        pairs.iter().find(|(k, _)| k == name).and_then(|(_, v)| match v {
            QueryValue::Text(t) => Some(t.as_str()),
            _ => None,
        })
    };
    let single = first("singleEvents").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let hidden = first("showHiddenInvitations").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut types: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "eventTypes")
        .filter_map(|(_, v)| match v {
            QueryValue::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    types.sort_unstable();
    let mut parts = vec![if single { "single" } else { "series" }, if hidden { "hidden" } else { "" }];
    parts.extend(types);
    fnv(&parts)
}

#[test]
fn no_query_makes_a_listing_fail_and_every_page_ends_in_exactly_one_token() {
    let rt = runtime();
    let emu = rt.block_on(Emu::start());
    let fixture = rt.block_on(Fixture::create(&emu));
    let world = rt.block_on(ListWorld::new(&emu, &fixture));
    check(128, list_case(), |case| rt.block_on(world.run(case)));
}

// ---- (c) bodies that are not what the endpoint reads ----------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    EventsInsert,
    EventsWatch,
    ChannelsStop,
    OAuthToken,
    Faults,
    Settings,
    Tokens,
    Users,
    Snapshot,
}

impl Sink {
    fn request(self) -> (Method, &'static str) {
        match self {
            Self::EventsInsert => (Method::POST, EVENTS),
            Self::EventsWatch => (Method::POST, "/calendar/v3/calendars/primary/events/watch"),
            Self::ChannelsStop => (Method::POST, "/calendar/v3/channels/stop"),
            Self::OAuthToken => (Method::POST, "/token"),
            Self::Faults => (Method::POST, "/_emulator/faults"),
            Self::Settings => (Method::PATCH, "/_emulator/settings"),
            Self::Tokens => (Method::POST, "/_emulator/tokens"),
            Self::Users => (Method::POST, "/_emulator/users"),
            Self::Snapshot => (Method::PUT, "/_emulator/snapshot"),
        }
    }

    /// A body the endpoint would accept: cut short, it no longer parses.
    fn good_body(self) -> String {
        match self {
            Self::EventsInsert => hour_event("cut", 10).to_string(),
            Self::EventsWatch => {
                json!({"id": "chan-1", "type": "web_hook", "address": "https://example.com/hook"}).to_string()
            }
            Self::ChannelsStop => json!({"id": "chan-1", "resourceId": "abc"}).to_string(),
            Self::OAuthToken => {
                form(&[("grant_type", "refresh_token"), ("refresh_token", "1//x"), ("client_id", CLIENT_ID)])
            }
            Self::Faults => json!({"status": 503, "count": 2, "path": "/events"}).to_string(),
            Self::Settings => json!({"latency_ms": 600_000, "page_mode": "ragged"}).to_string(),
            Self::Tokens => json!({"email": USER, "scope": SCOPE_CALENDAR}).to_string(),
            Self::Users => json!({"email": "new@example.com", "time_zone": "Europe/Berlin"}).to_string(),
            Self::Snapshot => json!({"users": {}, "calendars": {}, "clients": [], "codes": {}, "access_tokens": {},
                                     "refresh_tokens": {}, "token_generation": 0, "last_micros": 0})
            .to_string(),
        }
    }

    fn whole_body_is_harmless(self) -> bool {
        matches!(self, Self::EventsInsert | Self::ChannelsStop | Self::OAuthToken)
    }

    fn is_google(self) -> bool {
        matches!(self, Self::EventsInsert | Self::EventsWatch | Self::ChannelsStop)
    }
}

#[derive(Debug, Clone)]
struct RawCase {
    sink: Sink,
    content_type: &'static str,
    body: Vec<u8>,
}

fn raw_case() -> impl Strategy<Value = RawCase> {
    let sink = select(vec![
        Sink::EventsInsert,
        Sink::EventsWatch,
        Sink::ChannelsStop,
        Sink::OAuthToken,
        Sink::Faults,
        Sink::Settings,
        Sink::Tokens,
        Sink::Users,
        Sink::Snapshot,
    ]);
    let content_type = select(vec![
        "application/json",
        "application/json; charset=UTF-8",
        "application/json; charset=latin1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "*/*",
        "",
    ]);
    (sink, content_type).prop_flat_map(|(sink, content_type)| {
        let good = sink.good_body().into_bytes();
        let len = good.len();
        // Whole, under whatever content type was drawn: only where success leaves nothing that
        // could break later cases (no channel calling out, no replaced world, no new fault).
        let whole = if sink.whole_body_is_harmless() { good.clone() } else { good[..len - 1].to_vec() };
        let body = prop_oneof![
            3 => vec(any::<u8>(), 0..600),
            3 => (1..len).prop_map(move |n| good[..n].to_vec()),
            1 => Just(whole),
            1 => "\\PC{0,80}".prop_map(String::into_bytes),
            1 => (0_u8..=255, 1_usize..4096).prop_map(|(b, n)| vec![b; n]),
        ];
        (Just(sink), Just(content_type), body).prop_map(|(sink, content_type, body)| RawCase {
            sink,
            content_type,
            body,
        })
    })
}

struct RawWorld<'a> {
    emu: &'a Emu,
    settings: Value,
}

impl RawWorld<'_> {
    async fn state(&self) -> (Value, Value) {
        let (s1, _, world) = self.emu.control.get("/_emulator/snapshot").await;
        let (s2, _, settings) = self.emu.control.get("/_emulator/settings").await;
        assert_eq!((s1, s2), (200, 200), "the control API answers: {world} {settings}");
        (world, settings)
    }

    async fn run(&self, case: RawCase) -> Result<(), TestCaseError> {
        let (method, path) = case.sink.request();
        let client = if case.sink.is_google() { &self.emu.api } else { &self.emu.control };
        let before = self.state().await;
        let (status, _, body) =
            client.raw(method.clone(), path, Some((case.content_type, case.body.clone())), &[]).await;
        let what = format!("{method} {path} ({})", case.content_type);
        prop_assert!(status < 500, "{} answered {}: {}", what, status, body);
        if case.sink.is_google() {
            answered_well(&what, status, &body)?;
        }
        // No lasting faults or settings from this case, whatever it did.
        let (cleared, _, _) = self.emu.control.delete("/_emulator/faults").await;
        prop_assert_eq!(cleared, 204);
        let after = self.state().await;
        if after.1 != self.settings {
            let (s, _, b) = self.emu.control.patch("/_emulator/settings", &self.settings).await;
            prop_assert_eq!(s, 200, "restoring the settings: {}", b);
        }
        if !is_success(status) {
            prop_assert_eq!(&after.0, &before.0, "{} was refused ({}) but the state changed", what, status);
            prop_assert_eq!(&after.1, &before.1, "{} was refused ({}) but the settings changed", what, status);
        }
        // Still answering, and still the same user.
        let (s, _, list) = self.emu.api.get(CALENDAR_LIST).await;
        prop_assert_eq!(s, 200, "calendarList after {}: {}", what, list);
        prop_assert!(ids(&list).contains(&USER.to_owned()), "the primary calendar after {}: {}", what, list);
        Ok(())
    }
}

#[test]
fn no_body_makes_an_endpoint_fail_or_stop_the_emulator() {
    let rt = runtime();
    let emu = rt.block_on(Emu::start());
    rt.block_on(Fixture::create(&emu));
    let (status, _, settings) = rt.block_on(emu.control.get("/_emulator/settings"));
    assert_eq!(status, 200, "{settings}");
    let world = RawWorld { emu: &emu, settings };
    check(96, raw_case(), |case| rt.block_on(world.run(case)));
}

// ---- inputs the properties (or a look at their neighbourhood) found to break the emulator ----
//
// A request that "failed to send" below means the emulator dropped the connection without an
// answer: the handler panicked (an arithmetic overflow, in debug builds).

/// What a request got: a status, or the error of a connection closed without an answer.
async fn status_of(method: Method, url: &str, body: Option<&Value>, token: Option<&str>) -> Result<u16, String> {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    req.send().await.map(|r| r.status().as_u16()).map_err(|e| format!("no answer: {e}"))
}

/// Found by the list property: a page token whose page number is `u32::MAX` (forged, or the
/// emulator's own `nextPageToken` after a token with `u32::MAX - 1`) overflows the next page
/// number, even on an empty calendar. Expected: 400 `invalid` (pageToken) like any bad token.
#[tokio::test]
async fn a_page_token_with_the_largest_page_number_is_refused_not_a_crash() {
    let emu = Emu::start().await;
    // {"f": fingerprint of the empty query, "s": 0, "k": "", "n": 4294967295}
    let token = json!({"f": fnv(&[]), "s": 0, "k": "", "n": u32::MAX});
    let token = format!("P{}", hex(token.to_string().as_bytes()));
    let mut failures = Vec::new();
    for path in [EVENTS, CALENDAR_LIST] {
        let url = format!("{}{}", emu.base(), with_page(path, &token));
        match status_of(Method::GET, &url, None, Some(&emu.emulator.access_token(USER))).await {
            Ok(status) if status < 500 => {}
            other => failures.push(format!("GET {url}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A `redirect_uri` that parses as a URL (the parser drops line breaks and control characters)
/// but cannot be a `Location` header: redirecting to it answers 500 "failed to parse header
/// value". Expected: the 400 error page, as for any unusable redirect URI.
#[tokio::test]
async fn a_redirect_uri_with_a_line_break_gets_an_error_page_not_a_500() {
    let emu = Emu::start().await;
    let mut failures = Vec::new();
    for redirect_uri in ["https://example.com/cb\n", "https://example.com/cb\r", "\u{1}https://example.com/cb"] {
        let query = form(&[("client_id", CLIENT_ID), ("redirect_uri", redirect_uri)]);
        let (status, _, page) =
            emu.control.raw_text(Method::GET, &format!("/o/oauth2/v2/auth?{query}"), None, &[]).await;
        if !(400..500).contains(&status) {
            failures.push(format!("GET /o/oauth2/v2/auth?{query}: {status} {page}"));
        }
        let (status, _, page) = emu
            .control
            .raw(
                Method::POST,
                "/o/oauth2/v2/auth",
                Some(("application/x-www-form-urlencoded", query.into_bytes())),
                &[],
            )
            .await;
        if !(400..500).contains(&status) {
            failures.push(format!("POST /o/oauth2/v2/auth {redirect_uri:?}: {status} {page}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A counter of the state, set to its largest value in a restored snapshot.
#[derive(Debug, Clone, Copy)]
enum Exhausted {
    LastMicros,
    CalendarSeq,
    EventSequence,
    ListSeq,
    TokenGeneration,
}

impl Exhausted {
    /// Sets the counter in `snapshot` (`event`: an event of the primary calendar).
    fn apply(self, snapshot: &mut Value, event: &str) {
        let (slot, max) = match self {
            Self::LastMicros => (&mut snapshot["last_micros"], json!(i64::MAX)),
            Self::CalendarSeq => (&mut snapshot["calendars"][USER]["seq"], json!(u64::MAX)),
            Self::EventSequence => {
                (&mut snapshot["calendars"][USER]["events"][event]["fields"]["sequence"], json!(i64::MAX))
            }
            Self::ListSeq => (&mut snapshot["users"][USER]["list_seq"], json!(u64::MAX)),
            Self::TokenGeneration => (&mut snapshot["token_generation"], json!(u64::MAX)),
        };
        *slot = max;
    }

    /// The next request that advances the counter: method, path, body.
    fn next_request(self, event: &str) -> (Method, String, Option<Value>) {
        match self {
            Self::LastMicros | Self::CalendarSeq => (Method::POST, EVENTS.to_owned(), Some(hour_event("next", 10))),
            Self::EventSequence => (Method::PATCH, event_path(event), Some(json!({"location": "elsewhere"}))),
            Self::ListSeq => (Method::POST, "/calendar/v3/calendars".to_owned(), Some(json!({"summary": "one more"}))),
            Self::TokenGeneration => (Method::POST, "/_emulator/sync-tokens/expire".to_owned(), None),
        }
    }
}

/// `PUT /_emulator/snapshot` takes any counters; at their largest value the next request that
/// advances one dies. Expected: the restore refuses such a snapshot (400), or the emulator
/// copes (an error below 500) — never a dropped connection.
#[tokio::test]
async fn a_snapshot_with_exhausted_counters_is_refused_or_survived() {
    let mut failures = Vec::new();
    for counter in [
        Exhausted::LastMicros,
        Exhausted::CalendarSeq,
        Exhausted::EventSequence,
        Exhausted::ListSeq,
        Exhausted::TokenGeneration,
    ] {
        let emu = Emu::start().await;
        let token = emu.emulator.access_token(USER);
        let event = id_of(&insert(&emu.api, "primary", &hour_event("counted", 9)).await);
        let (status, _, mut snapshot) = emu.control.get("/_emulator/snapshot").await;
        assert_eq!(status, 200, "{snapshot}");
        counter.apply(&mut snapshot, &event);
        let (restored, _, body) = emu.control.put("/_emulator/snapshot", &snapshot).await;
        assert!(restored < 500, "{counter:?}: restoring answered {restored}: {body}");
        if !is_success(restored) {
            continue;
        }
        let (method, path, body) = counter.next_request(&event);
        let url = format!("{}{path}", emu.base());
        match status_of(method.clone(), &url, body.as_ref(), Some(&token)).await {
            Ok(status) if status < 500 => {}
            other => failures.push(format!("{counter:?} at its largest, then {method} {path}: {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
