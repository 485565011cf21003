//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a free port.
//!
//! Each `TestRegistry` owns a temporary directory holding its `config.yml`, its storage and, for
//! `start_with_htpasswd`, its htpasswd file. The child process is killed when the value drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;
use tempfile::TempDir;

const REGISTRY_BIN: &str = "docker-registry";
const START_DEADLINE: Duration = Duration::from_secs(15);
const LISTENING: &str = "listening on 127.0.0.1:";

/// A running (or stopped) `docker-registry serve` bound to 127.0.0.1.
pub struct TestRegistry {
    dir: TempDir,
    credentials: Option<(String, String)>,
    port: u16,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

impl TestRegistry {
    /// Starts an anonymous registry on a free port.
    pub fn start() -> TestRegistry {
        Self::launch(None)
    }

    /// Starts a registry that requires HTTP basic auth for every request (htpasswd, bcrypt).
    pub fn start_with_htpasswd(user: &str, pass: &str) -> TestRegistry {
        Self::launch(Some((user.to_owned(), pass.to_owned())))
    }

    fn launch(credentials: Option<(String, String)>) -> TestRegistry {
        let dir = tempfile::Builder::new()
            .prefix("signet-registry-")
            .tempdir()
            .expect("create a temporary directory for the test registry");
        if let Some((user, pass)) = &credentials {
            write_htpasswd(&dir.path().join("htpasswd"), user, pass);
        }
        let mut reg = TestRegistry {
            dir,
            credentials,
            port: 0,
            child: None,
            log: Arc::default(),
        };
        reg.spawn(0);
        reg
    }

    /// "127.0.0.1:PORT", the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// The auth that the harness's own pushes use: basic auth for an htpasswd registry.
    pub fn auth(&self) -> RegistryAuth {
        match &self.credentials {
            Some((user, pass)) => RegistryAuth::Basic(user.clone(), pass.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The registry's storage root (filesystem driver), for tests that tamper with blobs.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Everything the registry wrote to stderr so far (all starts included).
    pub fn log(&self) -> String {
        self.log.lock().expect("registry log lock").clone()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the registry. Connections to `host()` are refused until `restart()`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the registry if it runs, then starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(self.port);
    }

    /// Starts the child and waits until it serves `/v2/`. A restart retries a few times if the
    /// old port is briefly taken (e.g. by a client socket's ephemeral port).
    fn spawn(&mut self, port: u16) {
        let mut attempt = 1;
        loop {
            let log_start = self.log().len();
            match self.try_spawn(port) {
                Ok(()) => return self.wait_ready(),
                Err(why) => {
                    let this_run = self.log()[log_start..].to_owned();
                    if attempt < 3 && port != 0 && this_run.contains("address already in use") {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(300));
                        continue;
                    }
                    panic!("{why}; docker-registry stderr:\n{this_run}");
                }
            }
        }
    }

    fn try_spawn(&mut self, port: u16) -> Result<(), String> {
        let config = write_config(self.dir.path(), port, self.credentials.is_some());
        let mut child = spawn_registry(&config);
        let stderr = child.stderr.take().expect("registry stderr is piped");
        let (listening, drained) = drain_stderr(stderr, Arc::clone(&self.log));
        let bound = match listening.recv_timeout(START_DEADLINE) {
            Ok(bound) => bound,
            Err(waited) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = drained.join();
                return Err(match waited {
                    mpsc::RecvTimeoutError::Timeout => format!(
                        "docker-registry did not log `{LISTENING}<port>` within {START_DEADLINE:?}"
                    ),
                    mpsc::RecvTimeoutError::Disconnected => {
                        "docker-registry exited before listening".to_owned()
                    }
                });
            }
        };
        self.child = Some(child);
        assert!(
            port == 0 || bound == port,
            "registry bound {bound}, expected {port}"
        );
        self.port = bound;
        Ok(())
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            match v2_status(self.addr()) {
                Some(200 | 401) => return,
                other if Instant::now() > deadline => panic!(
                    "registry at {} not ready (last GET /v2/ status {other:?}); stderr:\n{}",
                    self.host(),
                    self.log()
                ),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_htpasswd(path: &Path, user: &str, pass: &str) {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, pass])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run htpasswd ({e}); run `apt-get install apache2-utils`")
        });
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(path, &out.stdout).expect("write htpasswd file");
}

/// Writes `config.yml` and returns its path. Paths are JSON strings, which YAML accepts.
fn write_config(dir: &Path, port: u16, htpasswd: bool) -> PathBuf {
    let quote = |p: PathBuf| serde_json::to_string(&p).expect("path is UTF-8");
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        root = quote(dir.join("storage")),
    );
    if htpasswd {
        yaml += &format!(
            "auth:\n  htpasswd:\n    realm: signet-test\n    path: {}\n",
            quote(dir.join("htpasswd"))
        );
    }
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).expect("write registry config.yml");
    path
}

fn spawn_registry(config: &Path) -> Child {
    Command::new(REGISTRY_BIN)
        .arg("serve")
        .arg(config)
        .env("REGISTRY_HTTP_SECRET", "signet-test-secret")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                panic!("`{REGISTRY_BIN}` not found on PATH: run `apt-get install docker-registry`")
            }
            _ => panic!("cannot spawn {REGISTRY_BIN}: {e}"),
        })
}

/// Copies stderr into `log` on a background thread for the child's whole life, so the pipe
/// never fills. The returned channel yields the bound port once the registry logs it; it
/// disconnects if stderr ends first (the registry died). The thread ends when stderr closes.
pub fn drain_stderr(
    stderr: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
) -> (mpsc::Receiver<u16>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = listening_port(&line) {
                let _ = tx.send(port);
            }
            let mut log = log.lock().expect("registry log lock");
            log.push_str(&line);
            log.push('\n');
        }
    });
    (rx, thread)
}

fn listening_port(line: &str) -> Option<u16> {
    let rest = &line[line.find(LISTENING)? + LISTENING.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Status code of a plain `GET /v2/`, or None if the registry does not answer.
pub fn v2_status(addr: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
