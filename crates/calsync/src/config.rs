//! Configuration, from (highest first): command-line flags, `CALSYNC_*` environment
//! variables, the TOML file named by `--config` / `CALSYNC_CONFIG`, built-in defaults.

use anyhow::{Context, bail};
use calsync_store::DatabaseUrl;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://calsync.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_WEB_DIR: &str = "web/dist";
pub const DEFAULT_LOG: &str = "info,sqlx=warn,tower_http=info";

/// A setting that may hold a secret (a token, a database URL with a password): it never
/// shows in `Debug` output, so logging a config struct cannot leak it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The TOML file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<Redacted>,
    pub listen: Option<String>,
    pub admin_token: Option<SecretString>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    /// 64 hex digits: the key that seals refresh tokens at rest.
    pub encryption_key: Option<SecretString>,
    /// The URL the world reaches this server at (OAuth callbacks, push notifications).
    pub public_url: Option<String>,
    /// Sync workers in this process (default 2).
    pub workers: Option<usize>,
    /// What a conflict does on new links: ask (default), local_wins, remote_wins, newest_wins.
    pub conflict_policy: Option<String>,
    /// New links' safety brake: a pull or push deleting more than this many events at once
    /// (default 20) or more than this percentage (default 20) pauses the link and asks.
    pub max_deletions: Option<i64>,
    pub max_deletion_percent: Option<i64>,
    /// How long deleted events stay restorable in the trash, in days (default 30).
    pub trash_days: Option<u32>,
    /// The built web app (default `web/dist` when it exists), served at `/app/`.
    pub web_dir: Option<String>,
    pub google: Option<GoogleFile>,
    pub microsoft: Option<MicrosoftFile>,
}

/// The `[google]` table: an OAuth client from the Google Cloud console. Endpoints default to
/// Google's; point them elsewhere for an emulator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleFile {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub revoke_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub api_root: Option<String>,
}

/// Google's endpoints (protocols.md §1.1, §1.13).
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
pub const GOOGLE_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
pub const GOOGLE_API_ROOT: &str = "https://www.googleapis.com/calendar/v3/";

/// The `[microsoft]` table: an app registration from the Microsoft Entra admin center.
/// Endpoints default to Microsoft's; point `authority` and `api_root` elsewhere for an
/// emulator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicrosoftFile {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// `common` (work and personal accounts), `organizations`, `consumers`, or a tenant id.
    pub tenant: Option<String>,
    pub authority: Option<String>,
    pub api_root: Option<String>,
    /// How many days before today a link follows an Outlook calendar (default 365).
    pub window_back_days: Option<u32>,
    /// How many days after today (default 730).
    pub window_ahead_days: Option<u32>,
}

/// Microsoft's endpoints (protocols.md §2.1, §2.7).
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const MICROSOFT_API_ROOT: &str = "https://graph.microsoft.com/v1.0/";

/// One provider's sync settings in effect.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub client_id: String,
    pub client_secret: SecretString,
    pub auth_url: String,
    pub token_url: String,
    /// `None`: the provider has no revocation endpoint (Microsoft).
    pub revoke_url: Option<String>,
    /// Who the account is: Google's userinfo, Graph's `me`.
    pub identity_url: String,
    pub api_root: String,
    /// Outlook: the span a link follows; `None` for the connector's default.
    pub window: Option<calsync_engine::Window>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {} is invalid", path.display()))
    }
}

/// The settings in effect.
#[derive(Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub listen: SocketAddr,
    pub admin_token: Option<SecretString>,
    pub log: String,
    pub json_logs: bool,
    pub encryption_key: Option<SecretString>,
    pub public_url: Option<String>,
    pub workers: usize,
    /// Rules new links start with.
    pub link_defaults: calsync_store::LinkSettings,
    pub trash_days: u32,
    /// The built web app, when there is one.
    pub web_dir: Option<std::path::PathBuf>,
    pub google: Option<ProviderSettings>,
    pub microsoft: Option<ProviderSettings>,
}

/// What flags and environment variables gave (clap has already preferred flags over env).
#[derive(Debug, Default)]
pub struct Overrides {
    pub database_url: Option<Redacted>,
    pub listen: Option<String>,
    pub admin_token: Option<Redacted>,
    pub log: Option<String>,
    pub log_format: Option<String>,
    pub encryption_key: Option<Redacted>,
    pub public_url: Option<String>,
    pub google_client_id: Option<String>,
    pub google_client_secret: Option<Redacted>,
    pub web_dir: Option<String>,
}

impl Settings {
    pub fn resolve(over: Overrides, file: FileConfig) -> anyhow::Result<Self> {
        let database_url =
            over.database_url.or(file.database_url).map_or_else(|| DEFAULT_DATABASE_URL.to_owned(), |u| u.0);
        let database_url = DatabaseUrl::parse(&database_url).map_err(|e| anyhow::anyhow!("database_url: {e}"))?;
        let listen = over.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr =
            listen.parse().with_context(|| format!("listen: {listen:?} is not an address such as 127.0.0.1:8080"))?;
        let admin_token = over.admin_token.map(|t| SecretString::from(t.0)).or(file.admin_token);
        if let Some(t) = &admin_token {
            use secrecy::ExposeSecret;
            if t.expose_secret().len() < 16 {
                bail!("admin_token: use at least 16 random characters");
            }
        }
        let json_logs = match over.log_format.or(file.log_format).as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => bail!("log_format: {other:?} is not text or json"),
        };
        let encryption_key = over.encryption_key.map(|k| SecretString::from(k.0)).or(file.encryption_key);
        let public_url = over.public_url.or(file.public_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            bail!("public_url: {u:?} must be an http(s) URL such as https://calsync.example.com");
        }
        let workers = file.workers.unwrap_or(2);
        if !(1..=64).contains(&workers) {
            bail!("workers: {workers} is not between 1 and 64");
        }
        let mut link_defaults = calsync_store::LinkSettings::default();
        if let Some(p) = file.conflict_policy.as_deref() {
            link_defaults.policy = calsync_store::ConflictPolicy::parse(p).with_context(|| {
                format!("conflict_policy: {p:?} is not ask, local_wins, remote_wins or newest_wins")
            })?;
        }
        if let Some(n) = file.max_deletions {
            if !(0..=100_000).contains(&n) {
                bail!("max_deletions: {n} is not between 0 and 100000");
            }
            link_defaults.max_deletions = n;
        }
        if let Some(n) = file.max_deletion_percent {
            if !(0..=100).contains(&n) {
                bail!("max_deletion_percent: {n} is not between 0 and 100");
            }
            link_defaults.max_deletion_percent = n;
        }
        let trash_days = file.trash_days.unwrap_or(30);
        if !(1..=3650).contains(&trash_days) {
            bail!("trash_days: {trash_days} is not between 1 and 3650");
        }
        let web_dir = match over.web_dir.or(file.web_dir) {
            Some(dir) => {
                let dir = std::path::PathBuf::from(dir);
                if !dir.join("index.html").is_file() {
                    bail!(
                        "web_dir: {} holds no index.html; build the web app first (cd web && npm ci && npm run build)",
                        dir.display()
                    );
                }
                Some(dir)
            }
            None => Some(std::path::PathBuf::from(DEFAULT_WEB_DIR)).filter(|d| d.join("index.html").is_file()),
        };
        let g = file.google.unwrap_or_default();
        let client_id = over.google_client_id.or(g.client_id);
        let client_secret = over.google_client_secret.map(|s| SecretString::from(s.0)).or(g.client_secret);
        let google = match (client_id, client_secret) {
            (None, None) => None,
            (Some(client_id), Some(client_secret)) => Some(ProviderSettings {
                client_id,
                client_secret,
                auth_url: g.auth_url.unwrap_or_else(|| GOOGLE_AUTH_URL.into()),
                token_url: g.token_url.unwrap_or_else(|| GOOGLE_TOKEN_URL.into()),
                revoke_url: Some(g.revoke_url.unwrap_or_else(|| GOOGLE_REVOKE_URL.into())),
                identity_url: g.userinfo_url.unwrap_or_else(|| GOOGLE_USERINFO_URL.into()),
                api_root: g.api_root.unwrap_or_else(|| GOOGLE_API_ROOT.into()),
                window: None,
            }),
            _ => bail!("google: give both client_id and client_secret (or neither to turn Google sync off)"),
        };
        let microsoft = match file.microsoft {
            None => None,
            Some(m) => Some(microsoft_settings(m)?),
        };
        if (google.is_some() || microsoft.is_some()) && encryption_key.is_none() {
            bail!(
                "encryption_key: sync stores refresh tokens, sealed with this key; set 64 hex digits \
                 (e.g. `openssl rand -hex 32`) in CALSYNC_ENCRYPTION_KEY or the config file"
            );
        }
        Ok(Self {
            database_url,
            listen,
            admin_token,
            log: over.log.or(file.log).unwrap_or_else(|| DEFAULT_LOG.into()),
            json_logs,
            encryption_key,
            public_url,
            workers,
            link_defaults,
            trash_days,
            web_dir,
            google,
            microsoft,
        })
    }
}

impl Settings {
    /// Sync with some provider is configured.
    pub fn any_provider(&self) -> bool {
        self.google.is_some() || self.microsoft.is_some()
    }
}

fn microsoft_settings(m: MicrosoftFile) -> anyhow::Result<ProviderSettings> {
    let (Some(client_id), Some(client_secret)) = (m.client_id, m.client_secret) else {
        bail!("microsoft: give both client_id and client_secret (or leave out the table to turn Outlook sync off)");
    };
    let tenant = m.tenant.unwrap_or_else(|| "common".into());
    if tenant.is_empty() || !tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        bail!(
            "microsoft.tenant: {tenant:?} is not a tenant name (common, organizations, consumers, a domain or an id)"
        );
    }
    let authority = m.authority.unwrap_or_else(|| MICROSOFT_AUTHORITY.into());
    let authority = authority.trim_end_matches('/');
    let mut api_root = m.api_root.unwrap_or_else(|| MICROSOFT_API_ROOT.into());
    if !api_root.ends_with('/') {
        api_root.push('/');
    }
    let window = match (m.window_back_days, m.window_ahead_days) {
        (None, None) => None,
        (back, ahead) => Some(calsync_engine::Window {
            back_days: window_days("microsoft.window_back_days", back.unwrap_or(365), 7)?,
            ahead_days: window_days("microsoft.window_ahead_days", ahead.unwrap_or(730), 30)?,
        }),
    };
    Ok(ProviderSettings {
        window,
        client_id,
        client_secret,
        auth_url: format!("{authority}/{tenant}/oauth2/v2.0/authorize"),
        token_url: format!("{authority}/{tenant}/oauth2/v2.0/token"),
        revoke_url: None,
        identity_url: format!("{api_root}me"),
        api_root,
    })
}

/// The window rolls weekly: a side shorter than `min` days would let events slip out of
/// sight between rolls; beyond ten years every listing grows for little use.
fn window_days(field: &str, days: u32, min: u32) -> anyhow::Result<u32> {
    const MAX: u32 = 3650;
    if !(min..=MAX).contains(&days) {
        bail!("{field}: {days} is out of range; give between {min} and {MAX} days");
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file: FileConfig = toml::from_str("database_url = \"postgres://u:pw@db/calsync\"\nlisten = \"0.0.0.0:9000\"\nadmin_token = \"file-token-0123456789\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let s = Settings::resolve(Overrides { listen: Some("127.0.0.1:7000".into()), ..Default::default() }, file)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(s.database_url.expose(), "postgres://u:pw@db/calsync");
        let shown = format!("{s:?}");
        assert!(!shown.contains("pw@") && !shown.contains("file-token"), "secrets leak into Debug: {shown}");
        let d = Settings::resolve(Overrides::default(), FileConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.database_url.expose(), d.listen.to_string().as_str()), (DEFAULT_DATABASE_URL, DEFAULT_LISTEN));
    }

    #[test]
    fn bad_settings_say_which() {
        let bad =
            |o: Overrides| Settings::resolve(o, FileConfig::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(bad(Overrides { listen: Some("nowhere".into()), ..Default::default() }).starts_with("listen"));
        assert!(
            bad(Overrides { database_url: Some(Redacted("mysql://x".into())), ..Default::default() })
                .starts_with("database_url")
        );
        assert!(
            bad(Overrides { admin_token: Some(Redacted("short".into())), ..Default::default() })
                .starts_with("admin_token")
        );
        assert!(toml::from_str::<FileConfig>("listn = \"x\"").is_err(), "typos in the file are errors");
        let bad_file = |toml_text: &str| {
            let file = toml::from_str::<FileConfig>(toml_text).unwrap_or_else(|e| panic!("{e}"));
            Settings::resolve(Overrides::default(), file).err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert!(bad_file("conflict_policy = \"coin_flip\"").starts_with("conflict_policy"));
        assert!(bad_file("max_deletion_percent = 120").starts_with("max_deletion_percent"));
        assert!(bad_file("trash_days = 0").starts_with("trash_days"));
    }

    #[test]
    fn a_microsoft_table_turns_outlook_sync_on_with_microsoft_endpoints() {
        let file = toml::from_str::<FileConfig>(
            "encryption_key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n\
             [microsoft]\nclient_id = \"app\"\nclient_secret = \"s3cret\"\ntenant = \"contoso.onmicrosoft.com\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let s = Settings::resolve(Overrides::default(), file).unwrap_or_else(|e| panic!("{e}"));
        let m = s.microsoft.unwrap_or_else(|| panic!("no microsoft settings"));
        assert_eq!(m.auth_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
        assert_eq!(m.token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!((m.identity_url.as_str(), m.revoke_url), ("https://graph.microsoft.com/v1.0/me", None));
        assert!(s.google.is_none());

        let bad_file = |toml_text: &str| {
            let file = toml::from_str::<FileConfig>(toml_text).unwrap_or_else(|e| panic!("{e}"));
            Settings::resolve(Overrides::default(), file).err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert!(bad_file("[microsoft]\nclient_id = \"app\"\n").starts_with("microsoft"), "a secret is needed");
        let no_key = bad_file("[microsoft]\nclient_id = \"app\"\nclient_secret = \"s\"\n");
        assert!(no_key.starts_with("encryption_key"), "{no_key}");
        let tenant = bad_file("[microsoft]\nclient_id = \"a\"\nclient_secret = \"s\"\ntenant = \"../evil\"\n");
        assert!(tenant.starts_with("microsoft.tenant"), "{tenant}");
        assert!(toml::from_str::<FileConfig>("[microsoft]\nclient_idd = \"x\"").is_err(), "typos are errors");
        let app = "encryption_key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n\
                   [microsoft]\nclient_id = \"a\"\nclient_secret = \"s\"\n";
        let short = bad_file(&format!("{app}window_ahead_days = 10\n"));
        assert!(short.starts_with("microsoft.window_ahead_days: 10 is out of range"), "{short}");
        let long = bad_file(&format!("{app}window_back_days = 5000\n"));
        assert!(long.starts_with("microsoft.window_back_days: 5000 is out of range"), "{long}");
    }

    #[test]
    fn the_outlook_window_is_set_in_the_config_or_left_to_the_connector() {
        let app = "encryption_key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n\
                   [microsoft]\nclient_id = \"a\"\nclient_secret = \"s\"\n";
        let window = |extra: &str| {
            let file = toml::from_str::<FileConfig>(&format!("{app}{extra}")).unwrap_or_else(|e| panic!("{e}"));
            let s = Settings::resolve(Overrides::default(), file).unwrap_or_else(|e| panic!("{e}"));
            s.microsoft.unwrap_or_else(|| panic!("no microsoft settings")).window
        };
        assert_eq!(window(""), None, "the connector's default");
        assert_eq!(
            window("window_back_days = 30\n"),
            Some(calsync_engine::Window { back_days: 30, ahead_days: 730 }),
            "the side left out keeps its default"
        );
        assert_eq!(
            window("window_back_days = 90\nwindow_ahead_days = 365\n"),
            Some(calsync_engine::Window { back_days: 90, ahead_days: 365 })
        );
    }

    #[test]
    fn new_links_take_their_rules_from_the_config() {
        let file = toml::from_str::<FileConfig>("conflict_policy = \"remote_wins\"\nmax_deletions = 5\ntrash_days = 7")
            .unwrap_or_else(|e| panic!("{e}"));
        let settings = Settings::resolve(Overrides::default(), file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.link_defaults.policy, calsync_store::ConflictPolicy::RemoteWins);
        assert_eq!((settings.link_defaults.max_deletions, settings.link_defaults.max_deletion_percent), (5, 20));
        assert_eq!(settings.trash_days, 7);
    }
}
