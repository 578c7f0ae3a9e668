//! The mechanics of an OAuth 2.0 authorization server that Google's and the Microsoft identity
//! platform's endpoints share: request parameters, redirecting back to the client (with
//! `state`), the redirect-URI and PKCE checks, who signs in, the consent page, client
//! credentials from HTTP Basic, and the token endpoint's answer. What each provider says (its
//! error pages and codes, scopes, token formats, grant rules) stays in `google::oauth` and
//! `graph::oauth`.

use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use calsync_core::encoding::base64url;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// Query or form parameters.
pub(crate) type Params = HashMap<String, String>;

pub(crate) fn params(raw: Option<&str>) -> Params {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

/// Text for HTML (element content and attribute values).
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A page for problems the server may not redirect with (unknown client, unregistered
/// redirect URI). `title`, `heading` and `detail` are HTML (escape what came in a request).
pub(crate) fn error_page(status: axum::http::StatusCode, title: &str, heading: &str, detail: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{heading}</h1><p>{detail}</p></body></html>"
    );
    (status, Html(body)).into_response()
}

/// `uri` with `pairs` added to its query.
pub(crate) fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{uri}{sep}{}", ser.finish())).into_response()
}

/// Where an authorization request goes back to once its client and redirect URI are known good.
pub(crate) struct Back {
    pub redirect_uri: String,
    pub state: Option<String>,
}

impl Back {
    /// Redirects to the client with `pairs` and the request's `state`.
    pub fn with(&self, pairs: &[(&str, &str)]) -> Response {
        let mut pairs = pairs.to_vec();
        if let Some(s) = &self.state {
            pairs.push(("state", s));
        }
        redirect_with(&self.redirect_uri, &pairs)
    }

    /// Redirects with `error` and `error_description` (and `state`).
    pub fn error(&self, error: &str, description: &str) -> Box<Response> {
        Box::new(self.with(&[("error", error), ("error_description", description)]))
    }
}

/// Whether `redirect_uri` is an absolute URL the client registered (any, when it registered none).
pub(crate) fn redirect_uri_allowed(redirect_uri: &str, registered: &[String]) -> bool {
    reqwest::Url::parse(redirect_uri).is_ok()
        && !redirect_uri.chars().any(|c| c.is_control() || c.is_whitespace())
        && (registered.is_empty() || registered.iter().any(|r| r == redirect_uri))
}

/// RFC 7636: a code challenge is 43 to 128 characters.
pub(crate) fn challenge_length_ok(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
}

/// Whether `verifier` answers `challenge` made with `method` (`S256`, else `plain`).
pub(crate) fn verifier_matches(method: &str, verifier: &str, challenge: &str) -> bool {
    if method == "S256" { base64url(&Sha256::digest(verifier.as_bytes())) == challenge } else { verifier == challenge }
}

/// Who signs in at the authorization endpoint.
pub(crate) enum SignIn {
    /// Auto-approval: the `login_hint` user when known, else the first user.
    Approve(String),
    /// Auto-approval with no user to sign in.
    NoUser,
    /// The consent page, offering `users` with `hinted` chosen.
    Ask { users: Vec<String>, hinted: Option<String> },
}

pub(crate) fn sign_in<U>(users: &BTreeMap<String, U>, login_hint: Option<&str>, auto_approve: bool) -> SignIn {
    let hinted = login_hint.filter(|h| users.contains_key(*h)).map(str::to_owned);
    if auto_approve {
        return hinted.or_else(|| users.keys().next().cloned()).map_or(SignIn::NoUser, SignIn::Approve);
    }
    SignIn::Ask { users: users.keys().cloned().collect(), hinted }
}

/// The provider's wording of its consent page.
pub(crate) struct ConsentText<'a> {
    pub title: &'a str,
    pub heading: &'a str,
    /// After the client's name: "wants to access your Google Account:".
    pub asks: &'a str,
    /// Where the form posts (the authorization endpoint's path).
    pub action: &'a str,
    pub legend: &'a str,
    pub allow: &'a str,
}

/// The consent page: the request's parameters as hidden fields, a radio button a user, the
/// scopes, and buttons posting `decision=allow` or `decision=deny`.
pub(crate) fn consent_page(
    text: &ConsentText<'_>,
    p: &Params,
    client_id: &str,
    scope: &str,
    users: &[String],
    hinted: Option<&str>,
) -> String {
    let hidden: String = p
        .iter()
        .filter(|(k, _)| k.as_str() != "user" && k.as_str() != "decision")
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)))
        .collect();
    let choices: String = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let checked = if hinted.map_or(i == 0, |h| h == u) { " checked" } else { "" };
            format!("<label><input type=\"radio\" name=\"user\" value=\"{u}\"{checked}> {u}</label><br>", u = escape(u))
        })
        .collect();
    let scopes: String = scope.split(' ').map(|s| format!("<li><code>{}</code></li>", escape(s))).collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{heading}</h1><p><strong>{client}</strong> {asks}</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"{action}\">{hidden}<fieldset><legend>{legend}</legend>{choices}</fieldset>\
         <button type=\"submit\" name=\"decision\" value=\"allow\">{allow}</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button></form></body></html>",
        title = escape(text.title),
        heading = escape(text.heading),
        client = escape(client_id),
        asks = escape(text.asks),
        action = escape(text.action),
        legend = escape(text.legend),
        allow = escape(text.allow),
    )
}

/// The client's id and secret from HTTP Basic, else from the form (`None` when it sent none).
pub(crate) fn client_credentials(headers: &HeaderMap, p: &Params) -> (String, Option<String>) {
    if let Some(basic) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "))
        && let Some(decoded) = base64_decode(basic.trim())
        && let Some((id, secret)) = decoded.split_once(':')
    {
        let dec = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
        };
        return (dec(id), Some(dec(secret)));
    }
    (p.get("client_id").cloned().unwrap_or_default(), p.get("client_secret").cloned())
}

/// The token endpoint's success: the JSON body, not to be cached.
pub(crate) fn token_response(body: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body.to_string())
        .into_response()
}

const B64STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (HTTP Basic credentials).
fn base64_decode(text: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = u32::try_from(B64STD.iter().position(|x| *x == c)?).ok()?;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push(u8::try_from((bits >> nbits) & 0xff).ok()?);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(verifier_matches("S256", verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(verifier_matches("plain", verifier, verifier));
        assert!(!verifier_matches("S256", verifier, verifier));
    }

    #[test]
    fn basic_credentials_decode() {
        assert_eq!(base64_decode("YWxhZGRpbjpvcGVuc2VzYW1l").as_deref(), Some("aladdin:opensesame"));
        assert_eq!(base64_decode("!!"), None);
    }
}
