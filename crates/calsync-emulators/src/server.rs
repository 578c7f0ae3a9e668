//! Running an emulator: binding its address, serving its router on a task, and stopping it.
//! Both emulators' public handles (`GoogleEmulator`, `GraphEmulator`) wrap a [`Server`].

use axum::Router;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Locks `m`, carrying on when a handler panicked while holding it (the state stays usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A bound listener, before the emulator's state (which needs the base URL) exists.
#[derive(Debug)]
pub(crate) struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
    /// `public_base_url` when configured, else `http://{addr}`; without a trailing slash.
    pub base_url: String,
}

impl Bound {
    /// Binds `addr` (`127.0.0.1:0` for a free port).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(addr: &str, public_base_url: Option<&str>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = public_base_url.map_or_else(|| format!("http://{addr}"), str::to_owned);
        Ok(Self { listener, addr, base_url: base_url.trim_end_matches('/').to_owned() })
    }

    /// Serves `app` on a task until [`Server::stop`] or the server is dropped. `name` is for
    /// the log line when serving fails ("Google", "Graph").
    pub fn serve(self, app: Router, name: &'static str) -> Server {
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = self.listener;
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the {name} emulator stopped with an error");
            }
        });
        Server { addr: self.addr, stop: Some(stop), task: Some(task) }
    }
}

/// A serving emulator. Dropping it stops the server (without waiting).
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
