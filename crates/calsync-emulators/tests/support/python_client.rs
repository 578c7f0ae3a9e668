//! A provider's official Python client, installed from PyPI into a cached virtualenv and run
//! against an emulator: what `official_google_client.rs` and `official_graph_client.rs` share.
//!
//! Each client has a folder `tests/<name>/` with `requirements.txt` (exact pins) and
//! `conformance.py`; the helpers both scripts use (checks, the failure report) are in
//! `tests/python-support/conformance_support.py`. The virtualenv is `<target dir>/<name>-venv`, built once and rebuilt when
//! the requirements change. Without `python3` (with `venv` and `pip`) the tests fail, never skip.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use tokio::process::Command;

const INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// One official client: its folder under `tests/`, and how to tell it is installed.
#[derive(Debug, Clone, Copy)]
pub struct PythonClient {
    /// The folder under `tests/` (`google-client`); also names the venv (`google-client-venv`).
    pub name: &'static str,
    /// For messages: whose client this is ("Google's official Python client").
    pub label: &'static str,
    /// Python code that runs without error once the client is installed (its imports).
    pub import_check: &'static str,
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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

/// Exit status, stdout and stderr, for a failure message.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl PythonClient {
    pub fn dir(&self) -> PathBuf {
        manifest_dir().join("tests").join(self.name)
    }

    /// Runs `cmd` to completion within `limit`; panics with a clear message when it cannot
    /// start or takes too long. The child is killed if the limit passes.
    async fn run(&self, cmd: &mut Command, what: &str, limit: Duration) -> Output {
        cmd.kill_on_drop(true).stdin(std::process::Stdio::null());
        match tokio::time::timeout(limit, cmd.output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "{what}: program not found ({e}). This test runs {} and needs python3 (3.9+) with the venv \
                 and pip modules on PATH; install Python (e.g. apt-get install python3 python3-venv python3-pip).",
                self.label
            ),
            Ok(Err(e)) => panic!("{what}: could not run: {e}"),
            Err(_) => panic!("{what}: did not finish within {limit:?}"),
        }
    }

    /// The virtualenv's python, with the pinned client installed (installing it when the venv
    /// is missing, broken, or was built from other requirements).
    pub async fn install(&self) -> PathBuf {
        let requirements_path = self.dir().join("requirements.txt");
        let requirements = std::fs::read_to_string(&requirements_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements_path.display()));
        let venv = target_dir().join(format!("{}-venv", self.name));
        let python = venv_python(&venv);
        // The requirements the venv was built from: a changed pin reinstalls.
        let stamp = venv.join("calsync-requirements.txt");

        let installed = std::fs::read_to_string(&stamp).is_ok_and(|s| s == requirements)
            && python.exists()
            && self
                .run(Command::new(&python).args(["-c", self.import_check]), "venv check", SCRIPT_TIMEOUT)
                .await
                .status
                .success();
        if installed {
            return python;
        }

        std::fs::create_dir_all(target_dir()).expect("create the target directory");
        eprintln!("{}: creating {} and installing {}", self.name, venv.display(), requirements_path.display());
        let created = self
            .run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv), "python3 -m venv", INSTALL_TIMEOUT)
            .await;
        assert!(
            created.status.success(),
            "`python3 -m venv {}` failed (on Debian/Ubuntu install python3-venv):\n{}",
            venv.display(),
            describe(&created)
        );
        let pip = self
            .run(
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

    /// Runs `conformance.py ARGS…` with the venv's `python` (unbuffered) and returns its output,
    /// whatever its exit status.
    pub async fn conformance(&self, python: &Path, args: &[&str]) -> Output {
        let script = self.dir().join("conformance.py");
        self.run(Command::new(python).arg("-u").arg(&script).args(args), "conformance.py", SCRIPT_TIMEOUT).await
    }

    /// Asserts that a [`PythonClient::conformance`] run passed; prints its report either way.
    #[track_caller]
    pub fn assert_passed(&self, out: &Output, against: &str) {
        assert!(
            out.status.success(),
            "{}: conformance checks failed against {against}:\n{}",
            self.label,
            describe(out)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    }
}
