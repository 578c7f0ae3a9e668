//! The `calsync` binary as an operator uses it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn calsync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calsync"));
    // Keep the environment from leaking settings into the tests.
    for (key, _) in std::env::vars() {
        if key.starts_with("CALSYNC_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("calsync-cli-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        Self(dir)
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}/calsync.db", self.0.display())
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running process whose output lines arrive on a channel, killed on drop.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("{e}"));
        let (tx, lines) = mpsc::channel();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, lines }
    }

    /// The first output line containing `needle` (waits up to 60 s: the first run may compile).
    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no output line containing {needle:?}: {e}"),
            }
        }
    }

    /// Output lines until `done` has what it needs (it returns `Some`); fails after `within`
    /// with everything seen so far.
    fn read_until<T>(&self, within: Duration, mut done: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = done(&line) {
                        return found;
                    }
                    seen.push(line);
                }
                Err(e) => panic!("gave up waiting after {within:?} ({e}); the output was: {seen:#?}"),
            }
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success());
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("calsync did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn address_in(line: &str) -> String {
    let start = line.find("127.0.0.1:").unwrap_or_else(|| panic!("no address in {line:?}"));
    line[start..].split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':')).next().unwrap_or_default().to_owned()
}

#[test]
fn an_operator_creates_a_user_and_gets_its_token_once() {
    let dir = TempDir::new();
    let out = calsync()
        .args(["--database-url", &dir.db_url(), "user", "create", "ada"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let token =
        stdout.lines().find_map(|l| l.strip_prefix("token: ")).unwrap_or_else(|| panic!("no token in {stdout}"));
    assert!(token.starts_with("cs_"));

    let list =
        calsync().args(["--database-url", &dir.db_url(), "user", "list"]).output().unwrap_or_else(|e| panic!("{e}"));
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("ada") && !listed.contains(token), "the token is never shown again: {listed}");
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let dir = TempDir::new();
    let migrate =
        calsync().env("CALSYNC_DATABASE_URL", dir.db_url()).arg("migrate").output().unwrap_or_else(|e| panic!("{e}"));
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));

    let mut cmd = calsync();
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("CALSYNC_DATABASE_URL", dir.db_url())
        .env("CALSYNC_ADMIN_TOKEN", "a-very-secret-admin-token");
    let mut server = Running::start(cmd);
    let line = server.wait_for("calsync is serving");
    assert!(!line.contains("a-very-secret-admin-token"));
    let addr = address_in(&line);
    let health = std::net::TcpStream::connect(&addr).map(|mut s| {
        use std::io::{Read, Write};
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    });
    let health = health.unwrap_or_else(|e| panic!("{e}"));
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"database\":\"sqlite\""));
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn settings_come_from_flags_then_environment_then_the_config_file() {
    let dir = TempDir::new();
    let config = dir.0.join("calsync.toml");
    std::fs::write(&config, format!("database_url = \"{}\"\nlisten = \"127.0.0.1:1\"\n", dir.db_url()))
        .unwrap_or_else(|e| panic!("{e}"));
    // The file names the database; the environment overrides the file's listen address.
    let mut cmd = calsync();
    cmd.args(["--config", &config.display().to_string(), "serve"]).env("CALSYNC_LISTEN", "127.0.0.1:0");
    let mut server = Running::start(cmd);
    let line = server.wait_for("calsync is serving");
    assert!(line.contains(&dir.0.display().to_string()), "database from the file: {line}");
    assert!(!line.contains("127.0.0.1:1 "), "listen from the environment: {line}");
    server.terminate();
    // A typo in the file is an error that names the file.
    std::fs::write(&config, "databse_url = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
    let out = calsync()
        .args(["--config", &config.display().to_string(), "migrate"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("calsync.toml"));
}

#[test]
fn a_bad_database_url_is_refused_with_a_clear_message() {
    let out = calsync()
        .args(["--database-url", "mysql://root@localhost/x", "migrate"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database_url") && stderr.contains("sqlite://"), "{stderr}");
}

#[test]
fn the_demo_starts_with_a_user_and_sample_events() {
    let dir = TempDir::new();
    let mut cmd = calsync();
    cmd.args(["demo", "--listen", "127.0.0.1:0", "--database-file", &dir.0.join("demo.db").display().to_string()]);
    let mut demo = Running::start(cmd);
    let addr = address_in(&demo.wait_for("calsync demo is running at"));
    let token = demo.wait_for("token:").split_whitespace().last().unwrap_or_default().to_owned();
    let calendars = std::net::TcpStream::connect(&addr).map(|mut s| {
        use std::io::{Read, Write};
        let request = format!("GET /api/v1/changes?after=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
        let _ = s.write_all(request.as_bytes());
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    });
    let text = calendars.unwrap_or_else(|e| panic!("{e}"));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.matches("\"op\":\"created\"").count() >= 5, "sample events are there: {text}");
    assert!(demo.terminate().success());
}

/// `http://127.0.0.1:PORT` at the start of `word`, if it is there.
fn loopback_base_url(word: &str) -> Option<String> {
    let port: String = word.strip_prefix("http://127.0.0.1:")?.chars().take_while(char::is_ascii_digit).collect();
    (!port.is_empty()).then(|| format!("http://127.0.0.1:{port}"))
}

/// Starts `calsync emulate KIND`, reads the base URL and the access token (the word that
/// starts with `token_prefix`) it prints, GETs `path` with them, and stops it.
fn emulator_answers(kind: &str, token_prefix: &str, path: &str) -> (u16, serde_json::Value) {
    let mut cmd = calsync();
    cmd.args(["emulate", kind, "--listen", "127.0.0.1:0"]);
    let mut emulator = Running::start(cmd);
    let (mut base, mut token) = (None, None);
    let (base, token) = emulator.read_until(Duration::from_secs(60), |line| {
        for word in line.split_whitespace() {
            base = base.take().or_else(|| loopback_base_url(word));
            if word.starts_with(token_prefix) {
                token = Some(word.to_owned());
            }
        }
        base.clone().zip(token.clone())
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("a runtime for the client: {e}"));
    let url = format!("{base}{path}");
    let (status, text) = runtime.block_on(async {
        let reply = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (reply.status().as_u16(), reply.text().await.unwrap_or_else(|e| panic!("GET {url}: {e}")))
    });
    assert!(emulator.terminate().success());
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url} with the printed token: {e}: {text}")))
}

#[test]
fn the_google_emulator_prints_a_base_url_and_a_token_that_work() {
    let (status, list) = emulator_answers("google", "ya29.", "/calendar/v3/users/me/calendarList");
    assert_eq!(status, 200, "{list}");
    let primary = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["id"] == "user@example.com"))
        .unwrap_or_else(|| panic!("user@example.com is not in the calendar list: {list}"));
    assert_eq!(primary["primary"], true, "{primary}");
}

#[test]
fn the_graph_emulator_prints_a_base_url_and_a_token_that_work() {
    let (status, calendar) = emulator_answers("graph", "eyJ", "/v1.0/me/calendar");
    assert_eq!(status, 200, "{calendar}");
    assert_eq!(calendar["isDefaultCalendar"], true, "{calendar}");
}

#[test]
fn the_google_emulator_refuses_a_time_zone_that_does_not_exist() {
    let mut child = calsync()
        .args(["emulate", "google", "--time-zone", "Mars/Olympus", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // It must stop on its own; if it serves instead, stop it and fail.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`calsync emulate google --time-zone Mars/Olympus` is still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(!status.success(), "exit status {status:?}; stderr: {stderr}");
    assert!(stderr.contains("--time-zone") && stderr.contains("Mars/Olympus"), "{stderr}");
}

/// A Google emulator process (approving consent at once), and a config file in `dir`
/// pointing Google sync at it. Returns the process, its base URL and the config's path.
fn google_emulator_and_config(dir: &TempDir) -> (Running, String, std::path::PathBuf) {
    let mut emulator_cmd = calsync();
    emulator_cmd.args(["emulate", "google", "--listen", "127.0.0.1:0", "--auto-approve"]);
    let emulator = Running::start(emulator_cmd);
    let google =
        emulator.read_until(Duration::from_secs(60), |line| line.split_whitespace().find_map(loopback_base_url));
    let config = dir.0.join("calsync.toml");
    std::fs::write(
        &config,
        format!(
            "encryption_key = \"{key}\"\n[google]\nclient_id = \"emulator-client.apps.googleusercontent.com\"\n\
             client_secret = \"emulator-secret\"\nauth_url = \"{google}/o/oauth2/v2/auth\"\ntoken_url = \"{google}/token\"\n\
             revoke_url = \"{google}/revoke\"\nuserinfo_url = \"{google}/oauth2/v3/userinfo\"\napi_root = \"{google}/calendar/v3/\"\n",
            key = "0f".repeat(32)
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (emulator, google, config)
}

/// Through the API of the server at `base`: a user "ada" with a calendar "Work", her Google
/// account connected the way a browser does it (the emulator approves at once), and the
/// calendar linked to her primary Google calendar. Returns her token, the calendar and the link.
async fn connect_and_link(base: &str, admin: &str) -> (String, String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let json =
        |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.unwrap_or_else(|e| panic!("{e}")) };
    let user = json(
        http.post(format!("{base}/api/v1/admin/users"))
            .bearer_auth(admin)
            .json(&serde_json::json!({"name": "ada"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let token = user["token"].as_str().unwrap_or_else(|| panic!("no token: {user}")).to_owned();
    let cal = json(
        http.post(format!("{base}/api/v1/calendars"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "Work", "time_zone": "Europe/Berlin"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let start = json(
        http.post(format!("{base}/api/v1/accounts/google/connect"))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let consent = http
        .get(start["authorization_url"].as_str().unwrap_or_default())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let callback = consent.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(http.get(&callback).send().await.map(|r| r.status().as_u16()).unwrap_or(0), 200, "callback {callback}");
    let accounts = json(
        http.get(format!("{base}/api/v1/accounts")).bearer_auth(&token).send().await.unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let link = json(http.post(format!("{base}/api/v1/links")).bearer_auth(&token)
        .json(&serde_json::json!({"account_id": accounts["accounts"][0]["id"], "calendar_id": cal["id"], "remote_calendar_id": "user@example.com"}))
        .send().await.unwrap_or_else(|e| panic!("{e}"))).await;
    let link = link["id"].as_str().unwrap_or_else(|| panic!("no link: {link}")).to_owned();
    let calendar = cal["id"].as_str().unwrap_or_default().to_owned();
    (token, calendar, link)
}

/// What an operator does to sync one link by hand: serve, connect an account and link a
/// calendar through the API, stop, then `calsync sync --link` brings in a change made in
/// Google meanwhile.
#[test]
fn sync_link_runs_one_link_job_in_the_foreground_and_says_what_it_did() {
    let dir = TempDir::new();
    let (emulator, google, config) = google_emulator_and_config(&dir);
    let admin = "admin-token-for-the-cli-test";
    let with_config = |cmd: &mut Command| {
        cmd.args(["--config", &config.display().to_string(), "--database-url", &dir.db_url()]);
    };
    let mut serve_cmd = calsync();
    with_config(&mut serve_cmd);
    serve_cmd.args(["serve", "--listen", "127.0.0.1:0", "--admin-token", admin]);
    let mut server = Running::start(serve_cmd);
    let base = format!("http://{}", address_in(&server.wait_for("calsync is serving")));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let (_, _, link) = runtime.block_on(connect_and_link(&base, admin));
    assert!(server.terminate().success());

    // While calsync is down, someone books a meeting in Google.
    runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{google}/_emulator/users/user@example.com/calendars/primary/events"))
            .json(&serde_json::json!({"summary": "Booked while calsync was down",
                "start": {"dateTime": "2026-06-01T10:00:00+02:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2026-06-01T11:00:00+02:00", "timeZone": "Europe/Berlin"}}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success());
    });
    let mut sync_cmd = calsync();
    with_config(&mut sync_cmd);
    sync_cmd.args(["sync", "--link", &link]);
    let out = sync_cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sync failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("pulled:") && stdout.contains("1 created"), "{stdout}");
    assert!(stdout.contains("pushed:"), "{stdout}");
    drop(emulator);
}

/// calsync is killed (SIGKILL) after Google accepted a create but before calsync heard of
/// it: after a restart, the event exists once in Google and once locally, nothing queued.
#[test]
fn a_server_killed_after_google_accepted_a_create_makes_no_duplicate_after_a_restart() {
    let dir = TempDir::new();
    let (_emulator, google, config) = google_emulator_and_config(&dir);
    let admin = "admin-token-for-the-cli-test";
    let serve = || {
        let mut cmd = calsync();
        cmd.args(["--config", &config.display().to_string(), "--database-url", &dir.db_url()]);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--admin-token", admin]);
        let server = Running::start(cmd);
        let base = format!("http://{}", address_in(&server.wait_for("calsync is serving")));
        (server, base)
    };
    let (mut first, base) = serve();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::new();
    let get = |url: String, token: Option<&str>| {
        let mut request = http.get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        async move {
            request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json::<serde_json::Value>()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    // The live events of the user's primary Google calendar, as Google's API lists them.
    let google_titles = || async {
        let minted =
            http.post(format!("{google}/_emulator/tokens")).json(&serde_json::json!({"email": "user@example.com"}));
        let minted = minted.send().await.unwrap_or_else(|e| panic!("{e}")).json::<serde_json::Value>().await;
        let access = minted.unwrap_or_else(|e| panic!("{e}"))["access_token"].as_str().unwrap_or_default().to_owned();
        let list = get(format!("{google}/calendar/v3/calendars/primary/events"), Some(&access)).await;
        let titles: Vec<String> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["summary"].as_str().map(str::to_owned))
            .collect();
        titles
    };
    let (token, calendar, link) = runtime.block_on(async {
        let linked = connect_and_link(&base, admin).await;
        // Google commits the next create, then holds its answer for a minute.
        let fault = http
            .post(format!("{google}/_emulator/faults"))
            .json(&serde_json::json!({"status": 503, "method": "POST", "path": "/events", "after_commit": true, "delay_ms": 60_000}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fault.status(), 204);
        let created = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&linked.0)
            .json(&serde_json::json!({"calendar_id": linked.1, "title": "Board meeting",
                "start": {"date_time": "2026-06-03T09:00:00", "time_zone": "Europe/Berlin"},
                "end": {"date_time": "2026-06-03T10:00:00", "time_zone": "Europe/Berlin"}}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(created.status(), 201);
        let deadline = Instant::now() + Duration::from_secs(60);
        while google_titles().await != ["Board meeting"] {
            assert!(Instant::now() < deadline, "Google never got the create");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        linked
    });
    // Google has the event; calsync is still waiting for the answer. Kill it.
    first.child.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = first.child.wait();

    let (_second, base) = serve();
    runtime.block_on(async {
        // The dead worker's lease runs out (15 s), then the new one finishes the job.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let status = get(format!("{base}/api/v1/links/{link}/status"), Some(&token)).await;
            if status["outbox_depth"] == 0 && status["linked_events"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the restarted server never caught up: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(google_titles().await, ["Board meeting"], "exactly one remote event");
        let feed = get(
            format!("{base}/api/v1/calendars/{calendar}/events?start=2026-06-01T00:00:00Z&end=2026-07-01T00:00:00Z"),
            Some(&token),
        )
        .await;
        let titles: Vec<&str> =
            feed["events"].as_array().into_iter().flatten().filter_map(|e| e["title"].as_str()).collect();
        assert_eq!(titles, ["Board meeting"], "exactly one local event: {feed}");
    });
}
