//! Property: what the API returns (and the store keeps) parses back to the same event.
//! A break here would mean an event changes just by being saved and read.

use calsync_core::{CalendarId, EventDraft, EventInput};
use proptest::prelude::*;
use serde_json::json;

const ZONES: &[&str] =
    &["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "Pacific/Chatham"];
const RULES: &[&str] = &[
    "RRULE:FREQ=DAILY;COUNT=5",
    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=21010101T000000Z",
];

fn event() -> impl Strategy<Value = serde_json::Value> {
    (
        any::<bool>(),
        (2000i16..2100, 1i8..=12, 1i8..=28, 0i8..24, 0i8..60),
        1i64..5000,
        0..ZONES.len(),
        proptest::option::of(0..RULES.len()),
        "[^\u{0}]{0,40}",
        proptest::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.org", 0..4),
    )
        .prop_map(|(all_day, (y, mo, d, h, mi), minutes, zone, rule, title, emails)| {
            let start = jiff::civil::date(y, mo, d).at(h, mi, 0, 0);
            let end = start.saturating_add(jiff::Span::new().minutes(minutes));
            let (start, end) = if all_day {
                let days = 1 + minutes / 1440;
                (json!({"date": start.date().to_string()}), json!({"date": start.date().saturating_add(jiff::Span::new().days(days)).to_string()}))
            } else {
                let t = |dt: jiff::civil::DateTime| json!({"date_time": dt.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "time_zone": ZONES[zone]});
                (t(start), t(end))
            };
            let mut emails = emails;
            emails.sort();
            emails.dedup();
            json!({
                "calendar_id": CalendarId::new(), "title": title, "start": start, "end": end,
                "recurrence": rule.map(|r| vec![RULES[r]]).unwrap_or_default(),
                "attendees": emails.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
            })
        })
}

proptest! {
    #[test]
    fn saved_events_read_back_unchanged(value in event()) {
        let input: EventInput = serde_json::from_value(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let draft = EventDraft::parse(input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let stored = serde_json::to_string(&draft.to_input()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: EventInput = serde_json::from_str(&stored).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = EventDraft::parse(back).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &draft);
        prop_assert_eq!(again.to_input(), draft.to_input());
    }
}
