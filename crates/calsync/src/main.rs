//! The `calsync` command: serve, demo, migrate, user.

mod config;
mod demo;
mod emulate;
mod sync;

use anyhow::Context;
use calsync_core::{Clock, SystemClock};
use calsync_server::AppState;
use calsync_server::auth::hash_token;
use clap::{Parser, Subcommand};
use config::{FileConfig, Overrides, Redacted, Settings};
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

/// calsync keeps your app's calendar events in two-way sync with Google, Outlook and CalDAV.
#[derive(Debug, Parser)]
#[command(name = "calsync", version)]
struct Cli {
    /// TOML configuration file (lowest precedence after defaults).
    #[arg(long, env = "CALSYNC_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// sqlite://path/to/file.db (default sqlite://calsync.db) or postgres://user@host/db.
    #[arg(long, env = "CALSYNC_DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<Redacted>,
    /// Log filter, e.g. `info` or `calsync=debug,info`.
    #[arg(long, env = "CALSYNC_LOG", global = true)]
    log: Option<String>,
    /// `text` (default) or `json`.
    #[arg(long, env = "CALSYNC_LOG_FORMAT", global = true)]
    log_format: Option<String>,
    /// 64 hex digits sealing refresh tokens at rest (required with Google sync).
    #[arg(long, env = "CALSYNC_ENCRYPTION_KEY", global = true, hide_env_values = true)]
    encryption_key: Option<Redacted>,
    /// The URL this server is reached at (OAuth callback, push notifications).
    #[arg(long, env = "CALSYNC_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// Google OAuth client id (turns Google sync on, with the secret).
    #[arg(long, env = "CALSYNC_GOOGLE_CLIENT_ID", global = true)]
    google_client_id: Option<String>,
    #[arg(long, env = "CALSYNC_GOOGLE_CLIENT_SECRET", global = true, hide_env_values = true)]
    google_client_secret: Option<Redacted>,
    /// The built web app to serve at /app/ (default web/dist when it exists).
    #[arg(long, env = "CALSYNC_WEB_DIR", global = true)]
    web_dir: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "CALSYNC_LISTEN")]
        listen: Option<String>,
        /// Token for the admin API (creating users). Unset: the admin API is off. Prefer the
        /// environment or the config file: a flag is visible in the process list.
        #[arg(long, env = "CALSYNC_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<Redacted>,
    },
    /// Start on a fresh embedded database with a demo user and sample events.
    Demo {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "CALSYNC_LISTEN")]
        listen: Option<String>,
        /// Where the demo database lives; it is recreated on every start.
        #[arg(long, default_value = "calsync-demo.db")]
        database_file: PathBuf,
    },
    /// Run sync workers only (no HTTP API): more processes sharing a PostgreSQL database.
    Worker,
    /// Sync one link now, in the foreground, and print what happened.
    Sync {
        /// The link's id (from `GET /api/v1/links`).
        #[arg(long)]
        link: calsync_core::LinkId,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Run a local emulator of a calendar provider, for development and tests.
    Emulate {
        #[command(subcommand)]
        provider: EmulateCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and print its API token (shown only this once).
    Create { name: String },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
enum EmulateCommand {
    /// Google Calendar API v3 with OAuth, push channels and a fault-injection control API.
    Google(emulate::GoogleArgs),
    /// Microsoft Graph (Outlook calendar) with Microsoft identity platform OAuth, calendarView
    /// delta, subscriptions, throttling and the same fault-injection control API.
    Graph(emulate::GraphArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Emulate { provider } = cli.command {
        init_log_filter(cli.log.as_deref());
        return match provider {
            EmulateCommand::Google(args) => emulate::google(args, shutdown_signal()).await,
            EmulateCommand::Graph(args) => emulate::graph(args, shutdown_signal()).await,
        };
    }
    let file = FileConfig::load(cli.config.as_deref())?;
    let (listen, admin_token) = match &cli.command {
        Command::Serve { listen, admin_token } => (listen.clone(), admin_token.clone()),
        Command::Demo { listen, .. } => (listen.clone(), None),
        _ => (None, None),
    };
    let demo_db = match &cli.command {
        Command::Demo { database_file, .. } => Some(database_file.clone()),
        _ => None,
    };
    let over = Overrides {
        database_url: match &demo_db {
            Some(f) => Some(Redacted(format!("sqlite://{}", f.display()))),
            None => cli.database_url,
        },
        listen,
        admin_token,
        log: cli.log,
        log_format: cli.log_format,
        encryption_key: cli.encryption_key,
        public_url: cli.public_url,
        google_client_id: cli.google_client_id,
        google_client_secret: cli.google_client_secret,
        web_dir: cli.web_dir,
    };
    let mut settings = Settings::resolve(over, file)?;
    init_logging(&settings);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    if let Some(file) = &demo_db {
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", file.display()));
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot reset demo database {}", path.display()))?;
            }
        }
    }
    let store = calsync_store::open(&settings.database_url, clock.clone())
        .await
        .with_context(|| format!("cannot open database {}", settings.database_url))?;

    match cli.command {
        Command::Emulate { .. } => unreachable!("handled before the database is opened"),
        Command::Migrate => {
            tracing::info!(database = %settings.database_url, "schema is up to date");
            Ok(())
        }
        Command::User { command: UserCommand::Create { name } } => {
            let (state, _) = AppState::new(store, clock, None);
            let created = calsync_server::routes::admin::create_user_with_token(&state, &name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            say(&format!(
                "created user {} ({})\ntoken: {}\nThe token is shown only now; store it safely.",
                created.user.name, created.user.id, created.token
            ));
            Ok(())
        }
        Command::User { command: UserCommand::List } => {
            for user in store.list_users().await? {
                say(&format!("{}  {}  created {}", user.id, user.name, user.created_at));
            }
            Ok(())
        }
        Command::Serve { .. } => {
            let admin = settings.admin_token.as_ref().map(|t| hash_token(t.expose_secret()));
            let (state, stop_streams) = AppState::new(store, clock, admin);
            let listener = bind(&settings).await?;
            run(&settings, listener, state, stop_streams, None).await
        }
        Command::Worker => worker(&settings, store).await,
        Command::Sync { link } => sync_now(&settings, store, link).await,
        Command::Demo { .. } => {
            // A local Google and Outlook to sync with, so the demo shows the whole loop offline.
            let emulators = demo::Emulators::start().await?;
            emulators.configure(&mut settings);
            let listener = bind(&settings).await?;
            // The emulators notify this server: changes show up at once, not at the next poll.
            settings.public_url = Some(format!("http://{}", listener.local_addr()?));
            let (state, stop_streams) = AppState::new(store, clock.clone(), None);
            let today = clock.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            let (token, calendar) = demo::seed(&state, today).await?;
            emulators.seed(today).await?;
            let demo = Demo { token, calendar, emulators };
            run(&settings, listener, state, stop_streams, Some(demo)).await
        }
    }
}

/// A database with accounts of a provider this process is not configured for: refuse to
/// start rather than silently stop syncing them (or mark them for reconnection).
async fn refuse_unconfigured_accounts(settings: &Settings, store: &dyn calsync_store::SyncStore) -> anyhow::Result<()> {
    for provider in store.account_providers().await? {
        let configured = match provider {
            calsync_core::Source::Google => settings.google.is_some(),
            calsync_core::Source::Microsoft => settings.microsoft.is_some(),
            calsync_core::Source::Local | calsync_core::Source::Caldav => true,
        };
        anyhow::ensure!(
            configured,
            "this database has connected {provider} accounts but {provider} sync is not configured (the [{provider}] \
             table with client_id and client_secret, and encryption_key): refusing to start rather than silently stop syncing"
        );
    }
    Ok(())
}

/// `calsync worker`: sync workers without the HTTP API.
async fn worker(settings: &Settings, store: Arc<dyn calsync_store::SyncStore>) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.any_provider(),
        "no provider is configured: set google.client_id and google.client_secret, or a [microsoft] table (see the README), or there is nothing to sync",
    );
    refuse_unconfigured_accounts(settings, &*store).await?;
    let base = settings.public_url.clone().unwrap_or_else(|| format!("http://{}", settings.listen));
    let setup = sync::setup(settings, &base)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // No change streams live in this process: other processes' streams see the pulls at their next poll.
    let workers = setup.start_workers(&store, settings.workers, calsync_engine::Schedule::default(), &stopped, None);
    tracing::info!(workers = workers.len(), "calsync workers are running");
    shutdown_signal().await;
    let _ = stop.send(true);
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

/// `calsync sync --link ID`: one link job in the foreground, with a spinner and a summary.
async fn sync_now(
    settings: &Settings,
    store: Arc<dyn calsync_store::SyncStore>,
    id: calsync_core::LinkId,
) -> anyhow::Result<()> {
    use calsync_engine::Providers;
    anyhow::ensure!(settings.any_provider(), "no provider is configured ([google] or [microsoft]; see the README)");
    let base = settings.public_url.clone().unwrap_or_else(|| format!("http://{}", settings.listen));
    let setup = sync::setup(settings, &base)?;
    let link = store.find_link(id).await.with_context(|| format!("no link {id}"))?;
    let account = store.get_account(link.user_id, link.account_id).await?;
    anyhow::ensure!(
        account.state == calsync_store::AccountState::Active,
        "the account {} is {}: reconnect it first (POST /api/v1/accounts/{}/connect)",
        account.remote_user,
        account.state.as_str(),
        account.provider
    );
    let provider = setup.providers.for_account(&account).map_err(|e| anyhow::anyhow!("{e}"))?;
    // One worker per account at a time, this command included.
    let owner = format!("calsync-sync-{}", std::process::id());
    let now = jiff::Timestamp::now();
    let until = now.checked_add(jiff::SignedDuration::from_mins(30)).unwrap_or(now);
    anyhow::ensure!(
        store.claim_this_account(account.id, &owner, now, until).await?,
        "a worker is syncing the account {} right now; try again in a minute",
        account.remote_user
    );
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    spinner.set_message(format!(
        "syncing {} with {} ({})",
        link.calendar_id, link.remote_calendar_id, account.remote_user
    ));
    let webhook = setup.providers.webhook_url(&account);
    let run = calsync_engine::run_link(
        &*store,
        &*provider,
        &link,
        account.provider,
        &calsync_engine::Schedule::default(),
        webhook.as_deref(),
    )
    .await;
    spinner.finish_and_clear();
    calsync_engine::worker::keep_rotated_secret(&*setup.providers, &*store, &account, &provider).await;
    store.release_account(account.id, &owner).await?;
    let run = run?;
    if let Some(p) = &run.pull {
        say(&format!(
            "pulled: {} events read in {} pages; {} created, {} updated, {} deleted, {} conflicts, {} skipped{}",
            p.remote_events,
            p.pages,
            p.created,
            p.updated,
            p.deleted,
            p.conflicts,
            p.skipped,
            if p.resynced { " (full resync: the cursor had expired)" } else { "" }
        ));
    }
    if let Some(p) = &run.push {
        say(&format!(
            "pushed: {} created, {} updated, {} deleted, {} unchanged, {} parked, {} conflicts",
            p.created, p.updated, p.deleted, p.unchanged, p.parked, p.conflicts
        ));
    }
    if let Some(why) = run.needs_reauth() {
        store.set_account_state(account.id, calsync_store::AccountState::NeedsReauth, Some(why)).await?;
    }
    match run.error {
        None => Ok(()),
        Some(e) => Err(anyhow::anyhow!("the sync stopped: {e}")),
    }
}

async fn bind(settings: &Settings) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another process using it? pass --listen)", settings.listen))
}

/// What `calsync demo` runs with: its user, calendar and providers.
struct Demo {
    token: String,
    calendar: calsync_core::CalendarId,
    emulators: demo::Emulators,
}

async fn run(
    settings: &Settings,
    listener: tokio::net::TcpListener,
    mut state: AppState,
    stop_streams: tokio::sync::watch::Sender<bool>,
    demo: Option<Demo>,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    state.trash_retention = std::time::Duration::from_secs(u64::from(settings.trash_days) * 86_400);
    state.web_dir.clone_from(&settings.web_dir);
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    refuse_unconfigured_accounts(settings, &*state.store).await?;
    if settings.any_provider() {
        let setup = sync::setup(settings, &format!("http://{addr}"))?;
        let schedule = calsync_engine::Schedule::default();
        let changed = Some(state.changed.clone());
        workers = setup.start_workers(&state.store, settings.workers, schedule, &workers_stopped, changed);
        state.sync = Some(setup);
    }
    tracing::info!(%addr, database = %settings.database_url, workers = workers.len(), "calsync is serving");
    let server = tokio::spawn(calsync_server::serve(listener, state, stop_streams, shutdown_signal()));
    if let Some(demo) = &demo {
        let base = format!("http://{addr}");
        for provider in ["google", "microsoft"] {
            demo::connect_and_link(&base, &demo.token, provider, demo.calendar)
                .await
                .with_context(|| format!("connecting the demo's {provider} account"))?;
        }
        let (token, calendar) = (&demo.token, demo.calendar);
        let (google, graph) = (demo.emulators.google.base_url(), demo.emulators.graph.base_url());
        let app = if settings.web_dir.is_some() {
            format!("Open {base}/app/ and sign in with the token.")
        } else {
            "The web app is not built (cd web && npm ci && npm run build; or run scripts/demo).".to_owned()
        };
        say(&format!(
            "\ncalsync demo is running at {base}\n\n  token:    {token}\n  calendar: {calendar}\n\n{app}\n\n\
             The demo user's calendar is linked to Google and Outlook (local emulators, changed in the browser):\n  \
             Google:  {google}/calendar\n  Outlook: {graph}/outlook\n\
             Change an event there and watch it appear in calsync and in the other one.\n\nThe API:\n  \
             curl -H 'Authorization: Bearer {token}' {base}/api/v1/calendars\n  \
             curl -H 'Authorization: Bearer {token}' '{base}/api/v1/calendars/{calendar}/fullcalendar?start=2026-01-01&end=2027-01-01&timeZone=Europe/Berlin'\n  \
             curl -N -H 'Authorization: Bearer {token}' '{base}/api/v1/changes/stream?after=0'\n  \
             API description: {base}/api/v1/openapi.json\n\nPress Ctrl-C to stop.\n"
        ));
    }
    server.await.context("the server task failed")??;
    let _ = stop_workers.send(true);
    for w in workers {
        let _ = w.await;
    }
    drop(demo);
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new(config::DEFAULT_LOG));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if settings.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Logging for commands that have no settings file (the emulators).
fn init_log_filter(log: Option<&str>) {
    let filter =
        EnvFilter::try_new(log.unwrap_or(config::DEFAULT_LOG)).unwrap_or_else(|_| EnvFilter::new(config::DEFAULT_LOG));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Output meant for the person at the terminal (not logs).
#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}
