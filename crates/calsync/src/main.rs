//! The `calsync` command: serve, demo, migrate, user.

mod config;
mod demo;
mod emulate;

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Emulate { provider: EmulateCommand::Google(args) } = cli.command {
        init_log_filter(cli.log.as_deref());
        return emulate::google(args, shutdown_signal()).await;
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
    };
    let settings = Settings::resolve(over, file)?;
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
            run(&settings, state, stop_streams, None).await
        }
        Command::Demo { .. } => {
            let (state, stop_streams) = AppState::new(store, clock.clone(), None);
            let today = clock.now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
            let (token, calendar) = demo::seed(&state, today).await?;
            run(&settings, state, stop_streams, Some((token, calendar))).await
        }
    }
}

async fn run(
    settings: &Settings,
    state: AppState,
    stop_streams: tokio::sync::watch::Sender<bool>,
    demo: Option<(String, calsync_core::CalendarId)>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen).await.with_context(|| {
        format!("cannot listen on {} (is another process using it? pass --listen)", settings.listen)
    })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %settings.database_url, "calsync is serving");
    if let Some((token, calendar)) = demo {
        let base = format!("http://{addr}");
        say(&format!(
            "\ncalsync demo is running at {base}\n\n  token:    {token}\n  calendar: {calendar}\n\nTry:\n  curl -H 'Authorization: Bearer {token}' {base}/api/v1/calendars\n  curl -H 'Authorization: Bearer {token}' '{base}/api/v1/calendars/{calendar}/fullcalendar?start=2026-01-01&end=2027-01-01&timeZone=Europe/Berlin'\n  curl -N -H 'Authorization: Bearer {token}' '{base}/api/v1/changes/stream?after=0'\n  API description: {base}/api/v1/openapi.json\n\nPress Ctrl-C to stop.\n"
        ));
    }
    calsync_server::serve(listener, state, stop_streams, shutdown_signal()).await?;
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
