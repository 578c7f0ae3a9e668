//! What the benchmark binaries share: percentiles, the process' CPU and memory, the
//! emulators' endpoints and request logs, a hub with one link for the engine-level
//! benchmarks ([`hub`]), and a whole server with its workers for the live ones ([`rig`]).

pub mod hub;
pub mod rig;

use anyhow::bail;
use calsync_core::{CalendarDraft, CalendarId, CalendarInput, UserId};
use calsync_engine::Endpoints;
use calsync_providers::oauth::OAuthClient;
use calsync_store::{SyncStore, TokenHash};
use secrecy::SecretString;
use serde_json::Value;
use std::time::Duration;

/// The `p` quantile (0.0–1.0) of `sorted`, in milliseconds (nearest rank).
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// `p50 … ms, p99 … ms` of `sorted`.
pub fn p50_p99(sorted: &[Duration]) -> String {
    format!("p50 {:.1} ms, p99 {:.1} ms", percentile_ms(sorted, 0.5), percentile_ms(sorted, 0.99))
}

/// `n` per `of`, e.g. requests per change.
#[allow(clippy::cast_precision_loss)]
pub fn per(n: usize, of: usize) -> f64 {
    n as f64 / of as f64
}

/// A line of /proc/self/status in MiB (`VmRSS:`, `VmHWM:` for the peak).
pub fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// User + system CPU time of this process so far, in clock ticks (1/100 s on Linux).
pub fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// A user (signing in with the token hashed as `token`) with a local calendar `calendar`
/// in `zone`; returns both.
pub async fn user_with_calendar(
    store: &dyn SyncStore,
    name: &str,
    token: &TokenHash,
    calendar: &str,
    zone: &str,
) -> anyhow::Result<(UserId, CalendarId)> {
    let user = store.create_user(name, token).await?.id;
    let input = CalendarInput { name: calendar.into(), color: None, time_zone: Some(zone.into()) };
    let draft = CalendarDraft::parse(input).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((user, store.create_calendar(user, CalendarId::new(), &draft).await?.id))
}

/// The requests an emulator (its base URL) served since the log was last cleared.
pub async fn request_log(http: &reqwest::Client, emulator: &str) -> anyhow::Result<Vec<Value>> {
    let log: Value = http.get(format!("{emulator}/_emulator/requests")).send().await?.json().await?;
    Ok(log["requests"].as_array().cloned().unwrap_or_default())
}

pub async fn clear_request_log(http: &reqwest::Client, emulator: &str) -> anyhow::Result<()> {
    http.delete(format!("{emulator}/_emulator/requests")).send().await?.error_for_status()?;
    Ok(())
}

/// An `events.list` call in a Google emulator's request log.
pub fn is_google_list(r: &Value) -> bool {
    r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p.ends_with("/events"))
}

/// A calendarView delta page in a Graph emulator's request log.
pub fn is_graph_delta(r: &Value) -> bool {
    r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p.contains("/calendarView/delta"))
}

/// POSTs `body` to an emulator's URL (an API path or a control path); the answer.
pub async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let r = http.post(url).json(body).send().await?;
    let status = r.status();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {answer}");
    }
    Ok(answer)
}

/// Creates `count` events at `url` (an emulator's control path, "made in its web UI") from
/// `clients` concurrent clients; the answers, in the order of `body`'s index.
pub async fn seed(
    http: &reqwest::Client,
    url: &str,
    count: usize,
    clients: usize,
    body: fn(usize) -> Value,
) -> anyhow::Result<Vec<Value>> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url) = (http.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            for i in (c..count).step_by(clients) {
                made.push((i, post_json(&http, &url, &body(i)).await?));
            }
            anyhow::Ok(made)
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

/// Where calsync finds the Google emulator at `google` (its base URL), for a server at
/// `server` (its OAuth callback).
pub fn google_endpoints(google: &str, server: &str) -> Endpoints {
    use calsync_emulators::google::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    Endpoints {
        oauth: OAuthClient {
            auth_url: format!("{google}/o/oauth2/v2/auth"),
            token_url: format!("{google}/token"),
            revoke_url: Some(format!("{google}/revoke")),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
            redirect_uri: format!("{server}/oauth/google/callback"),
            scopes: calsync_server::sync::GOOGLE_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        },
        identity_url: format!("{google}/oauth2/v3/userinfo"),
        api_root: format!("{google}/calendar/v3/"),
        window: None,
    }
}

/// Where calsync finds the Graph emulator at `graph` (its base URL), for a server at
/// `server` (its OAuth callback).
pub fn graph_endpoints(graph: &str, server: &str) -> Endpoints {
    use calsync_emulators::graph::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    Endpoints {
        oauth: OAuthClient {
            auth_url: format!("{graph}/common/oauth2/v2.0/authorize"),
            token_url: format!("{graph}/common/oauth2/v2.0/token"),
            revoke_url: None,
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
            redirect_uri: format!("{server}/oauth/microsoft/callback"),
            scopes: calsync_server::sync::MICROSOFT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        },
        identity_url: format!("{graph}/v1.0/me"),
        api_root: format!("{graph}/v1.0/"),
        window: None,
    }
}

/// A refresh token for `email` from an emulator's control API (as a finished consent gives).
pub async fn refresh_token(http: &reqwest::Client, emulator: &str, email: &str) -> anyhow::Result<SecretString> {
    let tokens = post_json(http, &format!("{emulator}/_emulator/tokens"), &serde_json::json!({"email": email})).await?;
    match tokens["refresh_token"].as_str() {
        Some(t) => Ok(SecretString::from(t)),
        None => bail!("no refresh token in {tokens}"),
    }
}

/// Half-hour slot `i` in UTC as civil times (`2027-04-01T05:00:00`): slot 0 starts at
/// 2027-04-01 00:00, each next one an hour later. Events the live benchmarks look for each
/// get a slot of their own, so a calendar view of it is small.
pub fn utc_slot(i: usize) -> (String, String) {
    let first = jiff::civil::date(2027, 4, 1).at(0, 0, 0, 0);
    let start = first.saturating_add(jiff::Span::new().hours(i64::try_from(i).unwrap_or(0)));
    let end = start.saturating_add(jiff::Span::new().minutes(30));
    let text = |t: jiff::civil::DateTime| t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    (text(start), text(end))
}
