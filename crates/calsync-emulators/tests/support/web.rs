//! The emulators' own web pages (`/calendar`, `/outlook`) as a browser uses them: fetch the
//! page, read an event's edit form the way the browser would fill it in, and post forms.

use super::{Client, form};
use reqwest::Method;
use reqwest::header::HeaderMap;

/// A page: status, headers, HTML.
pub type Html = (u16, HeaderMap, String);

pub async fn get_page(client: &Client, path: &str) -> Html {
    client.raw_text(Method::GET, path, None, &[]).await
}

/// Posts `pairs` as a browser posts a form (`application/x-www-form-urlencoded`).
pub async fn post_form(client: &Client, path: &str, pairs: &[(&str, &str)]) -> Html {
    let body = form(pairs).into_bytes();
    client.raw_text(Method::POST, path, Some(("application/x-www-form-urlencoded", body)), &[]).await
}

/// Posts `pairs` and asserts the POST-redirect-GET answer: 303 back to the page.
#[track_caller]
pub fn assert_redirected(reply: &Html, page: &str) -> String {
    let (status, headers, html) = reply;
    assert_eq!(*status, 303, "expected 303 See Other, got {status}: {html}");
    let location = headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(location.starts_with(&format!("{page}?")), "Location {location:?} is not {page}");
    location
}

/// HTML text back to what it shows.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The `<li>` of event `id` (panics when the page does not list it).
pub fn event_item<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("data-event-id=\"{id}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("the page does not list {id}: {html}"));
    let start = html[..at].rfind("<li").unwrap_or(at);
    let end = html[at..].find("</li>").map_or(html.len(), |e| at + e);
    &html[start..end]
}

/// The ids of the listed events, in page order.
pub fn listed(html: &str) -> Vec<String> {
    html.split("data-event-id=\"").skip(1).map(|s| unescape(&s[..s.find('"').unwrap_or(0)])).collect()
}

/// The `action` and the fields of the first form with class `class` inside `html`, as a
/// browser would submit them unchanged (an unchecked box sends nothing).
pub fn form_fields(html: &str, class: &str) -> (String, Vec<(String, String)>) {
    let start =
        html.find(&format!("<form class=\"event {class}\"")).unwrap_or_else(|| panic!("no {class} form in {html}"));
    let end = html[start..].find("</form>").map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let attr = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        tag.find(&key).map(|i| {
            let rest = &tag[i + key.len()..];
            unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
        })
    };
    let action = attr(form, "action").unwrap_or_default();
    let mut fields = Vec::new();
    for chunk in form.split("<input").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let (Some(name), value) = (attr(tag, "name"), attr(tag, "value").unwrap_or_default()) else { continue };
        if attr(tag, "type").as_deref() == Some("checkbox") && !tag.contains(" checked") {
            continue;
        }
        fields.push((name, value));
    }
    for chunk in form.split("<textarea").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        let text = &chunk[tag.len() + 1..chunk.find("</textarea>").unwrap_or(chunk.len())];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, unescape(text)));
        }
    }
    (action, fields)
}

/// `fields` with `name` set to `value` (added when missing; `None` removes it).
pub fn with(fields: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != name).cloned().collect();
    if let Some(v) = value {
        out.push((name.to_owned(), v.to_owned()));
    }
    out
}

/// The value of `name` in `fields`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Borrowed pairs for [`post_form`].
pub fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
