//! `calsync emulate google` and `calsync emulate graph`: a local Google Calendar or Outlook
//! calendar (Microsoft Graph) to develop against.

use calsync_emulators::google::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, GoogleEmulator, UserSpec};
use calsync_emulators::graph;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct GoogleArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// A test user (repeatable); the first is the default account. Default: user@example.com.
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// Approve OAuth consent at once (for scripts) instead of showing the consent page.
    #[arg(long)]
    pub auto_approve: bool,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub access_token_ttl: u64,
    /// Time zone of the users' primary calendars.
    #[arg(long, default_value = "UTC")]
    pub time_zone: String,
}

pub async fn google(args: GoogleArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    anyhow::ensure!(args.access_token_ttl > 0, "--access-token-ttl must be at least 1 second");
    anyhow::ensure!(
        jiff::tz::TimeZone::get(&args.time_zone).is_ok(),
        "--time-zone {:?} is not an IANA time zone (e.g. Europe/Berlin)",
        args.time_zone
    );
    let mut config = Config {
        auto_approve: args.auto_approve,
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        time_zone: args.time_zone,
        ..Config::default()
    };
    if !args.users.is_empty() {
        for u in &args.users {
            anyhow::ensure!(u.contains('@'), "--user {u:?} is not an email address");
        }
        config.users = args.users.iter().map(|e| UserSpec { email: e.clone(), name: None }).collect();
    }
    let first = config.users.first().map(|u| u.email.clone()).unwrap_or_default();
    let emulator = GoogleEmulator::bind(&args.listen, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e} (pass --listen)", args.listen))?;
    let base = emulator.base_url().to_owned();
    let token = emulator.access_token(&first);
    super::say(&format!(
        "\nGoogle Calendar v3 emulator at {base}\n\n  API root:      {root}\n  OAuth:         {base}/o/oauth2/v2/auth, {base}/token, {base}/revoke\n  client:        {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}\n  access token:  {token}  ({first})\n  control API:   {base}/_emulator/...\n\nTry:\n  curl -H 'Authorization: Bearer {token}' {root}users/me/calendarList\n\nPress Ctrl-C to stop.\n",
        root = emulator.api_root()
    ));
    shutdown.await;
    emulator.stop().await;
    Ok(())
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8091")]
    pub listen: String,
    /// A test user (mailbox; repeatable); the first is the default account. Default:
    /// user@example.com.
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// Approve OAuth consent at once (for scripts) instead of showing the consent page.
    #[arg(long)]
    pub auto_approve: bool,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub access_token_ttl: u64,
    /// Longest subscription lifetime in minutes (10080 today; older docs say 4230).
    #[arg(long, default_value_t = 10_080)]
    pub subscription_max_minutes: u32,
}

pub async fn graph(args: GraphArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    anyhow::ensure!(args.access_token_ttl > 0, "--access-token-ttl must be at least 1 second");
    anyhow::ensure!(args.subscription_max_minutes >= 45, "--subscription-max-minutes must be at least 45");
    let mut config = graph::Config {
        auto_approve: args.auto_approve,
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        subscription_max_minutes: args.subscription_max_minutes,
        ..graph::Config::default()
    };
    if !args.users.is_empty() {
        for u in &args.users {
            anyhow::ensure!(u.contains('@'), "--user {u:?} is not an email address");
        }
        config.users = args.users.iter().map(|e| graph::UserSpec { email: e.clone(), name: None }).collect();
    }
    let first = config.users.first().map(|u| u.email.clone()).unwrap_or_default();
    let emulator = graph::GraphEmulator::bind(&args.listen, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e} (pass --listen)", args.listen))?;
    let base = emulator.base_url().to_owned();
    let token = emulator.access_token(&first);
    super::say(&format!(
        "\nMicrosoft Graph (Outlook calendar) emulator at {base}\n\n  API root:      {root}\n  OAuth:         {authorize}, {token_url}\n  client:        {id} / {secret}\n  access token:  {token}  ({first})\n  control API:   {base}/_emulator/...\n\nTry:\n  curl -H 'Authorization: Bearer {token}' {root}me/calendars\n\nPress Ctrl-C to stop.\n",
        root = emulator.api_root(),
        authorize = emulator.authorize_url(),
        token_url = emulator.token_url(),
        id = graph::DEFAULT_CLIENT_ID,
        secret = graph::DEFAULT_CLIENT_SECRET,
    ));
    shutdown.await;
    emulator.stop().await;
    Ok(())
}
