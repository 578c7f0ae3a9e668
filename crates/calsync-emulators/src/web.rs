//! What the emulators' own web pages share: `GET /calendar` (Google) and `GET /outlook`
//! (Graph) show one user's calendar "as the demo user sees it", with forms to create, edit and
//! delete events. This module holds the provider-neutral half: reading and checking the event
//! form, telling what an edit changed, and rendering the page (escaped, one inline style sheet,
//! no JavaScript, no external assets). Each emulator's `web` module reads its world into
//! [`Page`]s and sends the writes through the same world operations as its API.
//!
//! Forms post back (`POST …/events`, `…/events/{id}`, `…/events/{id}/delete`) and are answered
//! with `303 See Other` to the page (POST-redirect-GET); a refused form re-renders the page with
//! the message and what was typed (422; 404 when the event or calendar is gone).

use crate::config::DEFAULT_USER;
use crate::oauth::{Params, escape, params};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::civil::{Date, DateTime, Time};
use jiff::{Timestamp, ToSpan};
use std::fmt::Write as _;

/// How one emulator's page looks: its title, its path and its colours.
#[derive(Debug)]
pub(crate) struct Brand {
    /// The `<title>`: "Google Calendar (emulator)".
    pub title: &'static str,
    /// The header's logo, as HTML (static text, not escaped).
    pub logo: &'static str,
    /// Where the page lives (`/calendar`); the forms post below it.
    pub path: &'static str,
    /// CSS custom properties: `--accent`, `--accent-text`, `--bar`, `--bar-text`, `--event`, `--font`.
    pub colours: &'static str,
}

/// The `user` and `calendar` query parameters every page and form carries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    pub user: Option<String>,
    pub calendar: Option<String>,
}

impl Selection {
    pub fn parse(raw: Option<&str>) -> Self {
        let p: Params = params(raw);
        let given = |k: &str| p.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self { user: given("user"), calendar: given("calendar") }
    }

    /// `?user=`, else `first` (the emulator's first configured user), else [`DEFAULT_USER`].
    pub fn user_or(&self, first: Option<&str>) -> String {
        self.user.as_deref().or(first).unwrap_or(DEFAULT_USER).to_owned()
    }
}

/// What a page's `scope` answers instead when the user or calendar does not exist.
pub(crate) type NotHere = Box<Response>;

/// `path?user=…&calendar=…` (URL-encoded; escape it for HTML).
pub(crate) fn link(path: &str, user: &str, calendar: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("user", user).append_pair("calendar", calendar);
    format!("{path}?{}", q.finish())
}

/// A path segment (an event id) URL-encoded.
fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The event form as typed: every field a string, nothing checked yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventInput {
    pub title: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM` (ignored for all-day events).
    pub start_time: String,
    /// `YYYY-MM-DD`; empty means the start's date.
    pub end_date: String,
    pub end_time: String,
    pub all_day: bool,
    /// IANA name (Graph also takes Windows names); empty means the page's default zone.
    pub time_zone: String,
    pub location: String,
    pub description: String,
}

impl EventInput {
    /// Reads an `application/x-www-form-urlencoded` body; unknown fields are ignored, missing
    /// ones are empty. Never fails: [`EventInput::check`] says what is wrong.
    pub fn from_form(body: &[u8]) -> Self {
        let mut input = Self::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match k.as_ref() {
                "title" => input.title = v,
                "date" => input.date = v,
                "start_time" => input.start_time = v,
                "end_date" => input.end_date = v,
                "end_time" => input.end_time = v,
                "all_day" => input.all_day = !v.is_empty() && v != "false" && v != "0",
                "time_zone" => input.time_zone = v,
                "location" => input.location = v,
                "description" => input.description = v,
                _ => {}
            }
        }
        input
    }

    /// A blank form for a new event on `day`, 09:00–10:00 in `zone`.
    pub fn new_on(day: Date, zone: &str) -> Self {
        Self {
            date: day.to_string(),
            start_time: "09:00".into(),
            end_time: "10:00".into(),
            time_zone: zone.to_owned(),
            ..Self::default()
        }
    }

    /// Checks the form. `default_zone` stands in for an empty time zone. The message says
    /// what to fix.
    pub fn check(&self, default_zone: &str) -> Result<EventFields, String> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err("Add a title.".into());
        }
        let date = parse_date(&self.date, "date")?;
        let end_date = if self.end_date.trim().is_empty() { date } else { parse_date(&self.end_date, "end date")? };
        let span = if self.all_day {
            if end_date < date {
                return Err("The end date is before the start date.".into());
            }
            Span::AllDay { first: date, last: end_date }
        } else {
            let start = date.to_datetime(parse_time(&self.start_time, "start time")?);
            let end = end_date.to_datetime(parse_time(&self.end_time, "end time")?);
            if end < start {
                return Err("The event ends before it starts.".into());
            }
            if end == start {
                return Err("The event must end after it starts.".into());
            }
            Span::Timed { start, end }
        };
        let zone = match self.time_zone.trim() {
            "" => default_zone,
            z => z,
        };
        Ok(EventFields::new(title, span, zone, &self.location, &self.description))
    }
}

fn parse_date(text: &str, what: &str) -> Result<Date, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("Give a {what} (YYYY-MM-DD)."));
    }
    t.parse::<Date>().map_err(|_| format!("The {what} {t:?} is not a date (YYYY-MM-DD)."))
}

fn parse_time(text: &str, what: &str) -> Result<Time, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(format!("Give a {what} (HH:MM), or tick \"All day\"."));
    }
    t.parse::<Time>()
        .ok()
        .filter(|_| t.len() >= 5 && t.as_bytes().get(2) == Some(&b':'))
        .map(|time| time.with().subsec_nanosecond(0).build().unwrap_or(time))
        .ok_or_else(|| format!("The {what} {t:?} is not a time (HH:MM)."))
}

/// When an event is, as wall-clock values of one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// From the first to the last day, both included.
    AllDay {
        first: Date,
        last: Date,
    },
    Timed {
        start: DateTime,
        end: DateTime,
    },
}

impl Span {
    /// An all-day span from an exclusive end date (as both providers store it).
    pub fn days(first: Date, end_exclusive: Date) -> Self {
        let last = end_exclusive.checked_sub(1.day()).unwrap_or(end_exclusive).max(first);
        Self::AllDay { first, last }
    }

    /// Start and end as wall-clock values; all-day: the first day's midnight and the
    /// midnight after the last day.
    pub fn bounds(&self) -> (DateTime, DateTime) {
        match *self {
            Self::AllDay { first, last } => {
                let end = last.checked_add(1.day()).unwrap_or(last);
                (first.to_datetime(Time::midnight()), end.to_datetime(Time::midnight()))
            }
            Self::Timed { start, end } => (start, end),
        }
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, Self::AllDay { .. })
    }
}

/// `2024-05-01T10:00:00`: a wall-clock value as both providers' requests take it.
pub(crate) fn iso(dt: DateTime) -> String {
    dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An event as the form shows and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventFields {
    pub title: String,
    pub span: Span,
    /// The zone `span` is in.
    pub zone: String,
    pub location: String,
    pub description: String,
}

/// What a form write sets. `None`: leave as it is; `Some("")` for location and description
/// clears them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Changes<'a> {
    pub title: Option<&'a str>,
    pub location: Option<&'a str>,
    pub description: Option<&'a str>,
    /// The new times and their zone.
    pub times: Option<(Span, &'a str)>,
}

impl Changes<'_> {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl EventFields {
    /// An event's fields, tidied as a submitted form is (so an unchanged form changes nothing).
    pub fn new(title: &str, span: Span, zone: &str, location: &str, description: &str) -> Self {
        Self {
            title: title.trim().to_owned(),
            span,
            zone: zone.trim().to_owned(),
            location: location.trim().to_owned(),
            description: description.replace("\r\n", "\n").trim_end().to_owned(),
        }
    }

    /// The form prefilled with this event.
    pub fn input(&self) -> EventInput {
        let (date, start_time, end_date, end_time) = match self.span {
            Span::AllDay { first, last } => (first, String::new(), last, String::new()),
            Span::Timed { start, end } => (start.date(), hhmm(start.time()), end.date(), hhmm(end.time())),
        };
        EventInput {
            title: self.title.clone(),
            date: date.to_string(),
            start_time,
            end_date: end_date.to_string(),
            end_time,
            all_day: self.span.is_all_day(),
            time_zone: self.zone.clone(),
            location: self.location.clone(),
            description: self.description.clone(),
        }
    }

    /// Everything, for a new event (empty location and description are left out).
    pub fn all(&self) -> Changes<'_> {
        Changes {
            title: Some(&self.title),
            location: Some(self.location.as_str()).filter(|s| !s.is_empty()),
            description: Some(self.description.as_str()).filter(|s| !s.is_empty()),
            times: Some((self.span, &self.zone)),
        }
    }

    /// What the submitted form `to` changes in this event: only the fields that differ, so
    /// an edit of the title leaves the times (and their zone) exactly as they were.
    pub fn changes<'a>(&self, to: &'a Self) -> Changes<'a> {
        Changes {
            title: (to.title != self.title).then_some(to.title.as_str()),
            location: (to.location != self.location).then_some(to.location.as_str()),
            description: (to.description != self.description).then_some(to.description.as_str()),
            times: (to.span != self.span || to.zone != self.zone).then_some((to.span, to.zone.as_str())),
        }
    }
}

fn hhmm(t: Time) -> String {
    if t.second() == 0 { t.strftime("%H:%M").to_string() } else { t.strftime("%H:%M:%S").to_string() }
}

/// One event in the list.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: String,
    /// What the edit form shows.
    pub fields: EventFields,
    /// When, in the zone the list shows.
    pub shown: Span,
    /// Shown after the times (Outlook: the event's zone); `None` when the page says it.
    pub zone_note: Option<String>,
    /// `Some(how)` for a series (or an occurrence of one).
    pub recurring: Option<String>,
    pub start: Timestamp,
    /// Ends (or, a series: has an occurrence that ends) after now.
    pub upcoming: bool,
}

/// Which form a problem belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The page as a whole (an unknown event).
    Page,
    New,
    Event(String),
}

/// A refused form: where to show it, the message, and what was typed.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub target: Target,
    pub message: String,
    pub input: Option<EventInput>,
}

/// Everything one page shows.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    pub brand: &'a Brand,
    pub user: String,
    pub calendar_id: String,
    pub calendar_name: String,
    /// The user's calendars `(id, name)`, to switch between.
    pub calendars: Vec<(String, String)>,
    /// A line under the header: which zone the times are in.
    pub zone_note: String,
    pub rows: Vec<Row>,
    /// The blank "new event" form.
    pub blank: EventInput,
    pub problem: Option<Problem>,
}

/// An HTML answer that loads nothing from elsewhere and runs no script.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `303 See Other` to `location` (after a successful form post).
pub(crate) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A page with only a message (an unknown user or calendar).
pub(crate) fn message_page(brand: &Brand, status: StatusCode, message: &str) -> Response {
    let body = format!("<main><p class=\"problem\" role=\"alert\">{}</p></main>", escape(message));
    html(status, layout(brand, "", &body))
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font-family:var(--font);color:#202124;background:#f8f9fa;font-size:14px}\
header{display:flex;align-items:center;gap:16px;padding:10px 24px;background:var(--bar);color:var(--bar-text);\
border-bottom:1px solid #dadce0}\
header h1{font-size:22px;font-weight:400;margin:0}\
header .who{margin-left:auto;font-size:13px}\
nav{padding:8px 24px;font-size:13px}nav a{color:var(--accent);margin-right:12px}nav a.current{font-weight:bold}\
main{max-width:880px;margin:0 auto;padding:8px 24px 48px}\
h2{font-size:16px;font-weight:500;margin:24px 0 8px}\
.note{color:#5f6368;font-size:12px}\
ul.events{list-style:none;margin:0;padding:0}\
li.event{background:#fff;border:1px solid #dadce0;border-left:6px solid var(--event);border-radius:8px;\
padding:10px 14px;margin:8px 0}\
li.event.past{opacity:.7}\
.title{font-size:15px;font-weight:500}\
.when,.where{color:#3c4043;margin-top:2px}\
.badge{display:inline-block;font-size:11px;padding:1px 6px;margin-left:6px;border-radius:10px;\
background:#e8f0fe;color:#174ea6}\
details{margin-top:6px}summary{cursor:pointer;color:var(--accent)}\
form.event{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:8px 12px;\
background:#fff;border:1px solid #dadce0;border-radius:8px;padding:12px;margin-top:6px}\
form.event label{display:flex;flex-direction:column;font-size:12px;color:#5f6368;gap:2px}\
form.event label.check{flex-direction:row;align-items:center;gap:6px}\
form.event .wide{grid-column:1/-1}\
input,textarea{font:inherit;padding:6px;border:1px solid #dadce0;border-radius:4px}\
textarea{min-height:48px}\
button{font:inherit;border:0;border-radius:4px;padding:7px 16px;background:var(--accent);color:var(--accent-text);\
cursor:pointer}\
form.delete{display:inline}form.delete button{background:none;color:#d93025;padding:4px 0;margin-top:6px}\
.problem{background:#fce8e6;color:#a50e0e;border-radius:4px;padding:8px 12px;margin:8px 0}\
.empty{color:#5f6368}";

fn layout(brand: &Brand, subtitle: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>:root{{{colours}}}{STYLE}</style></head>\
         <body><header><h1>{logo}</h1><div class=\"who\">{subtitle}</div></header>{body}</body></html>",
        title = escape(brand.title),
        colours = brand.colours,
        logo = brand.logo,
    )
}

/// The whole page, with `problem` (if any) shown at its form.
pub(crate) fn render(page: &Page<'_>) -> String {
    let here = link(page.brand.path, &page.user, &page.calendar_id);
    let subtitle = format!("{} · {}", escape(&page.user), escape(&page.calendar_name));
    let mut body = String::new();
    if page.calendars.len() > 1 {
        body.push_str("<nav>");
        for (id, name) in &page.calendars {
            let class = if *id == page.calendar_id { " class=\"current\"" } else { "" };
            let _ = write!(
                body,
                "<a{class} href=\"{}\">{}</a>",
                escape(&link(page.brand.path, &page.user, id)),
                escape(name)
            );
        }
        body.push_str("</nav>");
    }
    body.push_str("<main>");
    let _ = write!(body, "<p class=\"note\">{}</p>", escape(&page.zone_note));
    let problem_for = |t: &Target| page.problem.as_ref().filter(|p| p.target == *t);
    if let Some(p) = problem_for(&Target::Page) {
        body.push_str(&problem(&p.message));
    }

    body.push_str("<section class=\"new\"><h2>New event</h2>");
    let new_problem = problem_for(&Target::New);
    if let Some(p) = new_problem {
        body.push_str(&problem(&p.message));
    }
    let input = new_problem.and_then(|p| p.input.as_ref()).unwrap_or(&page.blank);
    let action = format!("{}/events{}", page.brand.path, query_of(&here));
    body.push_str(&form(&action, input, "Create", "new"));
    body.push_str("</section>");

    let mut upcoming: Vec<&Row> = page.rows.iter().filter(|r| r.upcoming).collect();
    upcoming.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    let mut past: Vec<&Row> = page.rows.iter().filter(|r| !r.upcoming).collect();
    past.sort_by(|a, b| (b.start, &b.id).cmp(&(a.start, &a.id)));
    for (heading, class, rows) in [("Upcoming", "upcoming", upcoming), ("Past", "past", past)] {
        let _ = write!(body, "<section class=\"{class}\"><h2>{heading}</h2>");
        if rows.is_empty() {
            body.push_str("<p class=\"empty\">No events.</p>");
        } else {
            body.push_str("<ul class=\"events\">");
            for r in rows {
                body.push_str(&row(page, &here, r, class, problem_for(&Target::Event(r.id.clone()))));
            }
            body.push_str("</ul>");
        }
        body.push_str("</section>");
    }
    body.push_str("</main>");
    layout(page.brand, &subtitle, &body)
}

/// `?…` of a link made by [`link`].
fn query_of(link: &str) -> &str {
    link.find('?').map_or("", |i| &link[i..])
}

fn problem(message: &str) -> String {
    format!("<p class=\"problem\" role=\"alert\">{}</p>", escape(message))
}

fn row(page: &Page<'_>, here: &str, r: &Row, class: &str, problem_here: Option<&Problem>) -> String {
    let id = escape(&r.id);
    let title = if r.fields.title.is_empty() { "(No title)".to_owned() } else { escape(&r.fields.title) };
    let mut out = format!("<li class=\"event {class}\" id=\"event-{id}\" data-event-id=\"{id}\">");
    let _ = write!(out, "<div class=\"title\">{title}</div><div class=\"when\">{}", escape(&when(&r.shown)));
    if let Some(z) = &r.zone_note {
        let _ = write!(out, " ({})", escape(z));
    }
    if r.shown.is_all_day() {
        out.push_str("<span class=\"badge all-day\">All day</span>");
    }
    if let Some(how) = &r.recurring {
        let _ = write!(out, "<span class=\"badge recurring\" title=\"{}\">Recurring</span>", escape(how));
    }
    out.push_str("</div>");
    if !r.fields.location.is_empty() {
        let _ = write!(out, "<div class=\"where\">{}</div>", escape(&r.fields.location));
    }
    let open = if problem_here.is_some() { " open" } else { "" };
    let _ = write!(out, "<details class=\"edit\"{open}><summary>Edit</summary>");
    if let Some(p) = problem_here {
        out.push_str(&problem(&p.message));
    }
    let typed = problem_here.and_then(|p| p.input.clone()).unwrap_or_else(|| r.fields.input());
    let base = format!("{}/events/{}", page.brand.path, segment(&r.id));
    out.push_str(&form(&format!("{base}{}", query_of(here)), &typed, "Save", "edit"));
    out.push_str("</details>");
    let _ = write!(
        out,
        "<form class=\"delete\" method=\"post\" action=\"{}\"><button type=\"submit\">Delete</button></form></li>",
        escape(&format!("{base}/delete{}", query_of(here)))
    );
    out
}

fn form(action: &str, v: &EventInput, submit: &str, class: &str) -> String {
    let text = |label: &str, name: &str, kind: &str, value: &str, extra: &str| {
        format!("<label{extra}>{label}<input type=\"{kind}\" name=\"{name}\" value=\"{}\"></label>", escape(value))
    };
    let checked = if v.all_day { " checked" } else { "" };
    format!(
        "<form class=\"event {class}\" method=\"post\" action=\"{action}\">{}{}{}{}{}\
         <label class=\"check\"><input type=\"checkbox\" name=\"all_day\" value=\"on\"{checked}>All day</label>{}{}\
         <label class=\"wide\">Description<textarea name=\"description\">{}</textarea></label>\
         <div class=\"wide\"><button type=\"submit\">{submit}</button></div></form>",
        text("Title", "title", "text", &v.title, " class=\"wide\""),
        text("Date", "date", "date", &v.date, ""),
        text("Start time", "start_time", "time", &v.start_time, ""),
        text("End date", "end_date", "date", &v.end_date, ""),
        text("End time", "end_time", "time", &v.end_time, ""),
        text("Time zone", "time_zone", "text", &v.time_zone, ""),
        text("Location", "location", "text", &v.location, " class=\"wide\""),
        escape(&v.description),
        action = escape(action),
    )
}

/// "Wed, 1 May 2024, 10:00 – 11:00", "Wed, 1 May 2024 – Fri, 3 May 2024".
pub(crate) fn when(span: &Span) -> String {
    let day = |d: Date| d.strftime("%a, %-d %b %Y").to_string();
    let clock = |t: Time| t.strftime("%H:%M").to_string();
    match *span {
        Span::AllDay { first, last } if first == last => day(first),
        Span::AllDay { first, last } => format!("{} – {}", day(first), day(last)),
        Span::Timed { start, end } if start.date() == end.date() => {
            format!("{}, {} – {}", day(start.date()), clock(start.time()), clock(end.time()))
        }
        Span::Timed { start, end } => {
            format!("{}, {} – {}, {}", day(start.date()), clock(start.time()), day(end.date()), clock(end.time()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pairs: &[(&str, &str)]) -> EventInput {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        EventInput::from_form(ser.finish().as_bytes())
    }

    fn date(s: &str) -> Date {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn at(s: &str) -> DateTime {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_timed_form_reads_into_wall_clock_times_of_its_zone() {
        let f = input(&[
            ("title", " Lunch "),
            ("date", "2024-05-01"),
            ("start_time", "12:00"),
            ("end_time", "13:30"),
            ("time_zone", "Europe/Berlin"),
            ("description", "a\r\nb\r\n"),
        ])
        .check("UTC")
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.title, "Lunch");
        assert_eq!(f.span, Span::Timed { start: at("2024-05-01T12:00"), end: at("2024-05-01T13:30") });
        assert_eq!(f.zone, "Europe/Berlin");
        assert_eq!(f.description, "a\nb");
    }

    #[test]
    fn an_all_day_form_ignores_times_and_takes_an_inclusive_end_date() {
        let f = input(&[("title", "Trip"), ("date", "2024-05-01"), ("end_date", "2024-05-03"), ("all_day", "on")])
            .check("UTC")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.span, Span::AllDay { first: date("2024-05-01"), last: date("2024-05-03") });
        assert_eq!(f.span.bounds(), (at("2024-05-01T00:00"), at("2024-05-04T00:00")));
        assert_eq!(f.zone, "UTC");
        assert_eq!(Span::days(date("2024-05-01"), date("2024-05-04")), f.span);
    }

    #[test]
    fn bad_forms_say_what_to_fix() {
        let ok = [("title", "x"), ("date", "2024-05-01"), ("start_time", "10:00"), ("end_time", "11:00")];
        let with = |k: &str, v: &str| {
            let pairs: Vec<(&str, &str)> =
                ok.iter().map(|&(a, b)| if a == k { (a, v) } else { (a, b) }).chain([(k, v)]).collect();
            input(&pairs).check("UTC").err().unwrap_or_default()
        };
        assert!(with("title", "  ").contains("title"));
        assert!(with("date", "2024-13-01").contains("not a date"));
        assert!(with("date", "").contains("Give a date"));
        assert!(with("start_time", "25:00").contains("not a time"));
        assert!(with("start_time", "10").contains("not a time"));
        assert!(with("end_time", "").contains("end time"));
        assert!(with("end_time", "09:00").contains("before"));
        assert!(with("end_date", "2024-04-30").contains("before"));
        assert!(with("end_time", "10:00").contains("after"));
        let all_day = input(&[("title", "x"), ("date", "2024-05-02"), ("end_date", "2024-05-01"), ("all_day", "on")]);
        assert!(all_day.check("UTC").err().unwrap_or_default().contains("before the start"));
    }

    #[test]
    fn an_edit_changes_only_what_differs_and_the_form_round_trips() {
        let old = EventFields {
            title: "A".into(),
            span: Span::Timed { start: at("2024-05-01T10:00"), end: at("2024-05-01T11:00") },
            zone: "America/New_York".into(),
            location: "Room".into(),
            description: String::new(),
        };
        let same = old.input().check("UTC").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(same, old);
        assert!(old.changes(&same).is_empty());
        let mut renamed = old.input();
        renamed.title = "B".into();
        renamed.location = String::new();
        let renamed = renamed.check("UTC").unwrap_or_else(|e| panic!("{e}"));
        let c = old.changes(&renamed);
        assert_eq!(c, Changes { title: Some("B"), location: Some(""), description: None, times: None });
        let all = renamed.all();
        assert_eq!((all.location, all.description), (None, None));
    }

    #[test]
    fn times_read_like_a_calendar() {
        let timed = Span::Timed { start: at("2024-05-01T10:00"), end: at("2024-05-01T11:30") };
        assert_eq!(when(&timed), "Wed, 1 May 2024, 10:00 – 11:30");
        let overnight = Span::Timed { start: at("2024-05-01T22:00"), end: at("2024-05-02T01:00") };
        assert_eq!(when(&overnight), "Wed, 1 May 2024, 22:00 – Thu, 2 May 2024, 01:00");
        assert_eq!(when(&Span::AllDay { first: date("2024-05-01"), last: date("2024-05-01") }), "Wed, 1 May 2024");
    }

    #[test]
    fn everything_typed_is_escaped_in_the_form() {
        let v = EventInput {
            title: "<img src=x onerror=alert(1)>".into(),
            description: "</textarea><b>".into(),
            ..EventInput::default()
        };
        let html = form("/calendar/events?user=a&calendar=b", &v, "Create", "new");
        assert!(html.contains("value=\"&lt;img src=x onerror=alert(1)&gt;\""), "{html}");
        assert!(html.contains("&lt;/textarea&gt;&lt;b&gt;</textarea>"), "{html}");
        assert!(html.contains("action=\"/calendar/events?user=a&amp;calendar=b\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }
}
