//! Google's official Python client (google-api-python-client, built from the calendar.v3
//! discovery document shipped in its wheel) against the emulator: paging, incremental sync,
//! 410 after token expiry, client ids and 409, If-Match and 412, tombstones, recurring
//! instances, push channels and `sendUpdates`. The checks live in `google-client/conformance.py`.
//!
//! The client is installed from PyPI, pinned by `google-client/requirements.txt`, into a
//! virtualenv at `<target dir>/google-client-venv`, once; it is reinstalled when the
//! requirements change. Needs `python3` with `venv` and `pip`: without it this test fails.

mod support;

use calsync_emulators::google::{Config, DEFAULT_USER, GoogleEmulator};
use support::python_client::PythonClient;

const CLIENT: PythonClient = PythonClient {
    name: "google-client",
    label: "google-api-python-client (Google's official Python client)",
    import_check: "import googleapiclient, google.oauth2.credentials",
};

#[tokio::test(flavor = "multi_thread")]
async fn official_python_client_conforms() {
    let python = CLIENT.install().await;
    let emulator = GoogleEmulator::start(Config::default()).await.expect("start the Google emulator");
    let token = emulator.access_token(DEFAULT_USER);
    let out = CLIENT.conformance(&python, &[emulator.base_url(), &token]).await;
    emulator.stop().await;
    CLIENT.assert_passed(&out, "the Google emulator");
}
