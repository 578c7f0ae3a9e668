//! Google's official Python client (google-api-python-client, built from the calendar.v3
//! discovery document shipped in its wheel) against the emulator: paging, incremental sync,
//! 410 after token expiry, client ids and 409, If-Match and 412, tombstones, recurring
//! instances, push channels and `sendUpdates`. The checks live in `google-client/conformance.py`.
//!
//! The client is installed from PyPI, pinned by `google-client/requirements.txt`, into a
//! virtualenv at `<target dir>/google-client-venv`, once; it is reinstalled when the
//! requirements change. Needs `python3` with `venv` and `pip`: without it this test fails.

use calsync_emulators::google::{Config, DEFAULT_USER, GoogleEmulator};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use tokio::process::Command;

const INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn client_dir() -> PathBuf {
    manifest_dir().join("tests").join("google-client")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the workspace root when relative),
/// else the workspace's `target/`.
fn target_dir() -> PathBuf {
    let workspace = manifest_dir().ancestors().nth(2).unwrap_or(manifest_dir());
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    }
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) { venv.join("Scripts").join("python.exe") } else { venv.join("bin").join("python") }
}

fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` to completion within `limit`; panics with a clear message when it cannot start
/// or takes too long. The child is killed if the limit passes.
async fn run(cmd: &mut Command, what: &str, limit: Duration) -> Output {
    cmd.kill_on_drop(true).stdin(std::process::Stdio::null());
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{what}: program not found ({e}). This test runs Google's official Python client and needs \
             python3 (3.9+) with the venv and pip modules on PATH; install Python (e.g. apt-get install \
             python3 python3-venv python3-pip)."
        ),
        Ok(Err(e)) => panic!("{what}: could not run: {e}"),
        Err(_) => panic!("{what}: did not finish within {limit:?}"),
    }
}

/// The virtualenv's python, with the pinned client installed.
async fn ensure_venv() -> PathBuf {
    let requirements_path = client_dir().join("requirements.txt");
    let requirements = std::fs::read_to_string(&requirements_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements_path.display()));
    let venv = target_dir().join("google-client-venv");
    let python = venv_python(&venv);
    // The requirements the venv was built from: a changed pin reinstalls.
    let stamp = venv.join("calsync-requirements.txt");

    let installed = std::fs::read_to_string(&stamp).is_ok_and(|s| s == requirements)
        && python.exists()
        && run(
            Command::new(&python).args(["-c", "import googleapiclient, google.oauth2.credentials"]),
            "venv check",
            SCRIPT_TIMEOUT,
        )
        .await
        .status
        .success();
    if installed {
        return python;
    }

    std::fs::create_dir_all(target_dir()).expect("create the target directory");
    eprintln!("official_google_client: creating {} and installing {}", venv.display(), requirements_path.display());
    let created =
        run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv), "python3 -m venv", INSTALL_TIMEOUT)
            .await;
    assert!(
        created.status.success(),
        "`python3 -m venv {}` failed (on Debian/Ubuntu install python3-venv):\n{}",
        venv.display(),
        describe(&created)
    );
    let pip = run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements_path),
        "pip install",
        INSTALL_TIMEOUT,
    )
    .await;
    assert!(
        pip.status.success(),
        "`pip install -r {}` failed (PyPI must be reachable):\n{}",
        requirements_path.display(),
        describe(&pip)
    );
    std::fs::write(&stamp, &requirements).expect("write the requirements stamp into the venv");
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn official_python_client_conforms() {
    let python = ensure_venv().await;
    let emulator = GoogleEmulator::start(Config::default()).await.expect("start the Google emulator");
    let token = emulator.access_token(DEFAULT_USER);
    let script = client_dir().join("conformance.py");

    let out = run(
        Command::new(&python).arg("-u").arg(&script).arg(emulator.base_url()).arg(&token),
        "conformance.py",
        SCRIPT_TIMEOUT,
    )
    .await;
    emulator.stop().await;

    assert!(
        out.status.success(),
        "google-api-python-client conformance checks failed against the emulator:\n{}",
        describe(&out)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}
