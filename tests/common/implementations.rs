//! Real registry implementations as test targets, each on a free loopback port: Debian's
//! `docker-registry` (distribution 2.8, no referrers API), go-containerregistry's
//! `pkg/registry` with and without the OCI 1.1 referrers API, and distribution v3 (no referrers
//! API), the last two built by `scripts/tools.sh`. The child is killed when the value drops.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::registry::{TestRegistry, drain_stderr, v2_status};
use super::tools::tool;

const START_DEADLINE: Duration = Duration::from_secs(15);

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// Debian's `docker-registry`.
    Debian,
    /// go-containerregistry's `pkg/registry`, serving the referrers API or not.
    Ggcr { referrers: bool },
    /// distribution v3's `registry serve`.
    Distribution,
}

impl Implementation {
    /// Whether it answers `GET /v2/<name>/referrers/<digest>`.
    pub fn serves_referrers(self) -> bool {
        matches!(self, Implementation::Ggcr { referrers: true })
    }
}

/// One running registry.
pub struct RunningRegistry {
    port: u16,
    debian: Option<TestRegistry>,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    _dir: Option<TempDir>,
}

impl RunningRegistry {
    pub fn start(implementation: Implementation) -> RunningRegistry {
        match implementation {
            Implementation::Debian => {
                let debian = TestRegistry::start();
                RunningRegistry {
                    port: debian.port(),
                    debian: Some(debian),
                    child: None,
                    log: Arc::default(),
                    _dir: None,
                }
            }
            Implementation::Ggcr { referrers } => {
                let mut command = Command::new(tool("ggcr-registry"));
                command.args(["-address", "127.0.0.1:0"]);
                if referrers {
                    command.arg("-referrers");
                }
                Self::spawn(command, None)
            }
            Implementation::Distribution => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let config = distribution_config(dir.path());
                let mut command = Command::new(tool("distribution"));
                command.arg("serve").arg(config);
                Self::spawn(command, Some(dir))
            }
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What the child wrote on standard error so far.
    pub fn log(&self) -> String {
        match &self.debian {
            Some(debian) => debian.log(),
            None => self.log.lock().expect("log lock").clone(),
        }
    }

    fn spawn(mut command: Command, dir: Option<TempDir>) -> RunningRegistry {
        let mut child = command
            .env("REGISTRY_HTTP_SECRET", "signet-test-secret")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let log = Arc::default();
        let stderr = child.stderr.take().expect("stderr is piped");
        let (listening, _drained) = drain_stderr(stderr, Arc::clone(&log));
        let port = match listening.recv_timeout(START_DEADLINE) {
            Ok(port) => port,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{command:?} did not log `listening on 127.0.0.1:<port>` ({why}):\n{}",
                    log.lock().expect("log lock")
                );
            }
        };
        let running = RunningRegistry {
            port,
            debian: None,
            child: Some(child),
            log,
            _dir: dir,
        };
        running.wait_ready();
        running
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + START_DEADLINE;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        while v2_status(addr) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "registry at {} not ready:\n{}",
                self.host(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RunningRegistry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A distribution v3 `config.yml`: in-memory storage, port chosen by the system.
fn distribution_config(dir: &Path) -> std::path::PathBuf {
    let yaml = "version: 0.1\n\
                log:\n  level: info\n  accesslog:\n    disabled: true\n\
                storage:\n  inmemory: {}\n  delete:\n    enabled: true\n\
                http:\n  addr: 127.0.0.1:0\n";
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).expect("write config.yml");
    path
}
