//! The floor a review is measured against: Debian's nginx, started here on a free port with the
//! certificate Signet serves, answering every `POST /validate` with the bytes Signet answered
//! the same review with (a file in the page cache, its descriptor kept open; nginx reads and
//! discards the body). TLS, HTTP and reading the body, no decision at all, driven by the same
//! `wrk` on the same cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::{free_port, stat_of};

/// Where nginx is: `$SIGNET_BENCH_NGINX`, else Debian's.
fn nginx_binary() -> PathBuf {
    std::env::var_os("SIGNET_BENCH_NGINX").map_or_else(|| "/usr/sbin/nginx".into(), Into::into)
}

/// A certificate and key, PEM files, shared by Signet and the floor.
pub struct Certificate {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certificate {
    /// A self-signed ECDSA P-256 certificate for 127.0.0.1 (what `signet serve` makes itself
    /// when given none), written into `dir`.
    pub fn generate(dir: &Path) -> Certificate {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("generate a certificate");
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Certificate { cert, key }
    }

    /// `signet serve`'s arguments for it.
    pub fn serve_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

/// An nginx master process answering `answer`, killed on drop.
pub struct Floor {
    child: Child,
    pub port: u16,
}

impl Drop for Floor {
    /// SIGTERM, so the master stops its workers too (SIGKILL would leave them serving).
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

impl Floor {
    /// Start nginx in `dir` (its configuration, pid file, logs and temporary files) answering
    /// `POST /validate` with `answer` as `application/json`.
    pub fn start(dir: &Path, certificate: &Certificate, answer: &[u8]) -> Floor {
        let port = free_port();
        let prefix = dir.join(format!("nginx-{port}"));
        std::fs::create_dir_all(&prefix).unwrap();
        let config = prefix.join("nginx.conf");
        std::fs::write(prefix.join("validate"), answer).unwrap();
        std::fs::write(&config, configuration(&prefix, port, certificate)).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&config)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx (apt-get install nginx-light)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Floor { child, port }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/validate", self.port)
    }

    /// CPU seconds used so far by the master and its workers (its children), so the floor's
    /// CPU per answer can stand beside Signet's CPU per review: on a shared machine the CPU a
    /// request costs moves less than the requests a second.
    pub fn cpu_seconds(&self) -> f64 {
        let master = self.child.id();
        let processes = std::fs::read_dir("/proc").unwrap().filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let (ticks, parent) = stat_of(pid)?;
            (pid == master || parent == master).then_some(ticks)
        });
        processes.sum::<f64>() / 100.0
    }
}

/// As many workers as Signet's runtime has threads (one per core); keep-alive connections
/// without a request limit (nginx closes after 1,000 by default, hyper never), bodies held in
/// memory, no access log. The answer is the file `validate` in `prefix`: nginx's `return`
/// holds at most 4 KiB, less than many answers, and its static module refuses a POST with 405,
/// which `error_page 405 =200 $uri` turns into the file (the body read and discarded).
fn configuration(prefix: &Path, port: u16, certificate: &Certificate) -> String {
    let temp = |name: &str| prefix.join(name).display().to_string();
    // As root, nginx's workers would run as `nobody`, who cannot read the private temporary
    // directory holding the answer.
    let user = match running_as_root() {
        true => "user root;\n",
        false => "",
    };
    format!(
        "daemon off;\n\
         {user}\
         worker_processes {workers};\n\
         pid {pid};\n\
         error_log {error} warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {body};\n\
           proxy_temp_path {proxy};\n\
           fastcgi_temp_path {fastcgi};\n\
           uwsgi_temp_path {uwsgi};\n\
           scgi_temp_path {scgi};\n\
           keepalive_requests 1000000000;\n\
           keepalive_timeout 300s;\n\
           client_max_body_size 4m;\n\
           client_body_buffer_size 4m;\n\
           server {{\n\
             listen 127.0.0.1:{port} ssl;\n\
             ssl_certificate {cert};\n\
             ssl_certificate_key {key};\n\
             ssl_protocols TLSv1.2 TLSv1.3;\n\
             location = /validate {{\n\
               root {root};\n\
               default_type application/json;\n\
               open_file_cache max=16;\n\
               error_page 405 =200 $uri;\n\
             }}\n\
           }}\n\
         }}\n",
        workers = std::thread::available_parallelism().map_or(1, |n| n.get()),
        pid = temp("nginx.pid"),
        error = temp("error.log"),
        body = temp("body"),
        proxy = temp("proxy"),
        fastcgi = temp("fastcgi"),
        uwsgi = temp("uwsgi"),
        scgi = temp("scgi"),
        cert = certificate.cert.display(),
        key = certificate.key.display(),
        root = prefix.display(),
    )
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().nth(1))
        == Some("0")
}
