//! Events as Graph shows them (protocols.md §2.2): every property with Graph's defaults,
//! times in the zone the request prefers, ids in the spelling it prefers, the body as HTML
//! unless text is preferred, extended properties only when `$expand`ed.

use super::event::{Exception, StoredEvent, Times};
use super::ids::{self, IdType};
use super::series::{Occ, key_instant};
use super::when::{NamedZone, Prefer, format_instant};
use super::world::{User, field};
use calsync_core::patterned::PatternedRecurrence;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// Which extended properties a read asked for with
/// `$expand=singleValueExtendedProperties($filter=id eq '…')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expand {
    None,
    All,
    Ids(Vec<String>),
}

impl Expand {
    /// Parses `$expand`; only `singleValueExtendedProperties` is expandable here.
    pub fn parse(expand: Option<&str>) -> Self {
        let Some(text) = expand else { return Self::None };
        let Some(rest) = text.trim().strip_prefix("singleValueExtendedProperties") else { return Self::None };
        let Some(filter) = rest.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')) else { return Self::All };
        let filter = filter.trim().strip_prefix("$filter=").unwrap_or(filter);
        let ids: Vec<String> = filter
            .split(" or ")
            .filter_map(|clause| {
                let (_, value) = clause.split_once(" eq ")?;
                Some(value.trim().trim_matches(['\'', '"']).to_owned())
            })
            .collect();
        if ids.is_empty() { Self::All } else { Self::Ids(ids) }
    }
}

/// How a request wants events shown.
#[derive(Debug, Clone)]
pub struct View {
    pub zone: NamedZone,
    pub id_type: IdType,
    pub text_body: bool,
    pub expand: Expand,
}

impl View {
    pub fn new(prefer: &Prefer, expand: Expand) -> Self {
        Self {
            zone: NamedZone::preferred(prefer.time_zone.as_deref()),
            id_type: if prefer.immutable_ids { IdType::Immutable } else { IdType::Rest },
            text_body: prefer.text_body,
            expand,
        }
    }

    pub fn id(&self, folder: u64, item: u128, occurrence: Option<i64>) -> String {
        ids::event_id(self.id_type, folder, item, occurrence)
    }
}

/// `2024-05-01T08:00:00.1234567Z`, as Graph writes created/modified times.
pub fn precise(t: Timestamp) -> String {
    format!("{}.{:07}Z", t.strftime("%Y-%m-%dT%H:%M:%S"), t.subsec_nanosecond() / 100)
}

pub fn etag(change_key: &str) -> String {
    format!("W/\"{change_key}\"")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Text with the tags taken out (for `bodyPreview` and preferred-text bodies).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let body = html.find("<body").map_or(html, |i| &html[i..]);
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&nbsp;", " ").replace("&amp;", "&")
}

/// Graph keeps bodies as HTML: a text body comes back wrapped, unless text is preferred.
fn body(stored: Option<&Value>, text_body: bool) -> (Value, String) {
    let kind = stored.and_then(|b| b.get("contentType")).and_then(Value::as_str).unwrap_or("html");
    let content = stored.and_then(|b| b.get("content")).and_then(Value::as_str).unwrap_or("");
    let is_text = kind.eq_ignore_ascii_case("text");
    let plain = if is_text { content.to_owned() } else { strip_tags(content) };
    let preview: String = plain.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(255).collect();
    let shown = match (text_body, is_text) {
        (true, _) => json!({"contentType": "text", "content": plain}),
        (false, false) => json!({"contentType": "html", "content": content}),
        (false, true) if content.is_empty() => json!({"contentType": "html", "content": ""}),
        (false, true) => json!({"contentType": "html", "content": format!(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>{}</body></html>",
            escape(content).replace('\n', "<br>\r\n")
        )}),
    };
    (shown, preview)
}

fn location(stored: Option<&Value>) -> Value {
    let mut l = json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {},
                       "coordinates": {}});
    if let (Some(Value::Object(given)), Some(out)) = (stored, l.as_object_mut()) {
        for (k, v) in given {
            out.insert(k.clone(), v.clone());
        }
    }
    l
}

fn attendees(stored: Option<&Value>) -> Value {
    let list = stored.and_then(Value::as_array).cloned().unwrap_or_default();
    Value::Array(
        list.into_iter()
            .map(|a| {
                let address = a.pointer("/emailAddress/address").cloned().unwrap_or(Value::Null);
                let name = a.pointer("/emailAddress/name").cloned().unwrap_or_else(|| address.clone());
                json!({
                    "type": a.get("type").cloned().unwrap_or_else(|| json!("required")),
                    "status": a.get("status").cloned().unwrap_or_else(|| json!({"response": "none", "time": "0001-01-01T00:00:00Z"})),
                    "emailAddress": {"name": name, "address": address},
                })
            })
            .collect(),
    )
}

/// `patternedRecurrence` with every property, as Graph answers (zeros and defaults included).
pub fn recurrence(r: &PatternedRecurrence, times: &Times) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    let p = &mut v["pattern"];
    for (k, default) in [
        ("month", json!(0)),
        ("dayOfMonth", json!(0)),
        ("daysOfWeek", json!([])),
        ("firstDayOfWeek", json!("sunday")),
        ("index", json!("first")),
    ] {
        if p.get(k).is_none_or(Value::is_null) {
            p[k] = default;
        }
    }
    let range = &mut v["range"];
    if range.get("endDate").is_none_or(Value::is_null) {
        range["endDate"] = json!("0001-01-01");
    }
    if range.get("numberOfOccurrences").is_none_or(Value::is_null) {
        range["numberOfOccurrences"] = json!(0);
    }
    if range.get("recurrenceTimeZone").is_none_or(Value::is_null) {
        range["recurrenceTimeZone"] = json!(times.start_zone);
    }
    v
}

/// A single instance or master (`occ: None`), or an occurrence/exception of `ev`.
pub fn event(view: &View, owner: &User, ev: &StoredEvent, occ: Option<&Occ>) -> Value {
    let exception: Option<&Exception> = occ.filter(|o| o.exception).and_then(|o| ev.exceptions.get(&o.key));
    let get = |name: &str| field(ev, exception, name);
    let id = view.id(ev.folder, ev.item, occ.map(|o| o.key));
    let times = occ.map_or(&ev.times, |o| &o.times);
    let change_key = exception.map_or(&ev.change_key, |x| &x.change_key);
    let (created, modified) = exception.map_or((ev.created, ev.modified), |x| (x.created, x.modified));
    let (body, preview) = body(get("body"), view.text_body);
    let loc = location(get("location"));
    let locations = match get("locations") {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        _ if loc["displayName"].as_str().is_some_and(|s| !s.is_empty()) => json!([loc.clone()]),
        _ => json!([]),
    };
    let kind = match (occ, ev.is_master()) {
        (Some(o), _) if o.exception => "exception",
        (Some(_), _) => "occurrence",
        (None, true) => "seriesMaster",
        (None, false) => "singleInstance",
    };
    let or = |name: &str, default: Value| get(name).cloned().unwrap_or(default);
    let mut m = Map::new();
    m.insert("@odata.etag".into(), json!(etag(change_key)));
    m.insert("id".into(), json!(id));
    m.insert("createdDateTime".into(), json!(precise(created)));
    m.insert("lastModifiedDateTime".into(), json!(precise(modified)));
    m.insert("changeKey".into(), json!(change_key));
    m.insert("categories".into(), or("categories", json!([])));
    if occ.is_none()
        && let Some(tx) = &ev.transaction_id
    {
        m.insert("transactionId".into(), json!(tx));
    }
    m.insert("originalStartTimeZone".into(), json!(times.start_zone));
    m.insert("originalEndTimeZone".into(), json!(times.end_zone));
    let uid = match occ {
        Some(o) => format!("{}{:016X}", ev.ical_uid, o.key),
        None => ev.ical_uid.clone(),
    };
    m.insert("iCalUId".into(), json!(uid));
    m.insert("reminderMinutesBeforeStart".into(), or("reminderMinutesBeforeStart", json!(15)));
    m.insert("isReminderOn".into(), or("isReminderOn", json!(true)));
    m.insert("hasAttachments".into(), json!(false));
    m.insert("subject".into(), or("subject", json!("")));
    m.insert("bodyPreview".into(), json!(preview));
    m.insert("importance".into(), or("importance", json!("normal")));
    m.insert("sensitivity".into(), or("sensitivity", json!("normal")));
    m.insert("isAllDay".into(), json!(times.all_day));
    m.insert("isCancelled".into(), json!(false));
    m.insert("isOrganizer".into(), json!(true));
    m.insert("responseRequested".into(), or("responseRequested", json!(true)));
    m.insert(
        "seriesMasterId".into(),
        if occ.is_some() { json!(view.id(ev.folder, ev.item, None)) } else { Value::Null },
    );
    m.insert("showAs".into(), or("showAs", json!("busy")));
    m.insert("type".into(), json!(kind));
    let link: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    m.insert(
        "webLink".into(),
        json!(format!("https://outlook.office365.com/owa/?itemid={link}&exvsurl=1&path=/calendar/item")),
    );
    m.insert("onlineMeetingUrl".into(), Value::Null);
    m.insert("isOnlineMeeting".into(), or("isOnlineMeeting", json!(false)));
    m.insert("onlineMeetingProvider".into(), or("onlineMeetingProvider", json!("unknown")));
    m.insert("allowNewTimeProposals".into(), or("allowNewTimeProposals", json!(true)));
    m.insert("isDraft".into(), json!(false));
    m.insert("hideAttendees".into(), or("hideAttendees", json!(false)));
    if let Some(o) = occ {
        m.insert("originalStart".into(), json!(format_instant(key_instant(o.key))));
    }
    m.insert("responseStatus".into(), json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"}));
    m.insert("body".into(), body);
    m.insert("start".into(), times.start.render(&view.zone));
    m.insert("end".into(), times.end.render(&view.zone));
    m.insert("location".into(), loc);
    m.insert("locations".into(), locations);
    m.insert(
        "recurrence".into(),
        match (&ev.recurrence, occ) {
            (Some(r), None) => recurrence(r, &ev.times),
            _ => Value::Null,
        },
    );
    m.insert("attendees".into(), attendees(get("attendees")));
    m.insert("organizer".into(), json!({"emailAddress": {"name": owner.display_name(), "address": owner.email}}));
    m.insert("onlineMeeting".into(), Value::Null);
    let mut props = ev.props.clone();
    if let Some(x) = exception {
        super::event::merge_props(&mut props, &x.props);
    }
    let wanted: Vec<Value> = props
        .iter()
        .filter(|(pid, _)| match &view.expand {
            Expand::None => false,
            Expand::All => true,
            Expand::Ids(ids) => ids.iter().any(|i| i.eq_ignore_ascii_case(pid)),
        })
        .map(|(pid, value)| json!({"id": pid, "value": value}))
        .collect();
    if !wanted.is_empty() {
        m.insert("singleValueExtendedProperties".into(), Value::Array(wanted));
    }
    Value::Object(m)
}

/// A delta entry for something that left the view (§2.3).
pub fn removed(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_reads_the_property_filter() {
        let id = "String {4f6c2d1e-8a3b-4c5d-9e7f-0a1b2c3d4e5f} Name calsyncId";
        assert_eq!(
            Expand::parse(Some(&format!("singleValueExtendedProperties($filter=id eq '{id}')"))),
            Expand::Ids(vec![id.to_owned()])
        );
        assert_eq!(Expand::parse(Some("singleValueExtendedProperties")), Expand::All);
        assert_eq!(Expand::parse(Some("attachments")), Expand::None);
    }

    #[test]
    fn text_bodies_come_back_as_html_unless_text_is_preferred() {
        let stored = json!({"contentType": "text", "content": "a < b\nc"});
        let (html, preview) = body(Some(&stored), false);
        assert_eq!(html["contentType"], json!("html"));
        assert!(html["content"].as_str().is_some_and(|c| c.contains("a &lt; b<br>")));
        assert_eq!(preview, "a < b c");
        assert_eq!(body(Some(&stored), true).0, json!({"contentType": "text", "content": "a < b\nc"}));
    }
}
