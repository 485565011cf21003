//! Running one plugin as the kubelet runs it (`execPlugin.ExecPlugin`): the binary of the plugin
//! directory named by the provider, with the configured arguments and the environment of Signet
//! plus the configured variables, the request as JSON on standard input and the response read
//! from standard output. Never through a shell. Bounded where the kubelet is not: a deadline
//! (the kubelet's is one minute; here it must fit in a review's), the plugin killed when it
//! passes; standard output read up to a cap (more is refused and the plugin killed); standard
//! error kept up to a few KiB for the message.
//!
//! A plugin that starts children of its own and exits leaves them to the operating system:
//! only the plugin itself is killed (the kubelet does the same). The blocking work runs on
//! tokio's blocking pool; the caller waits at most the deadline.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Largest standard output read from a plugin: a response holds a few registry credentials
/// (an ECR token is about 2 KiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Most bytes of standard error kept for the message.
const MAX_STDERR_BYTES: usize = 4 * 1024;

/// Longest wait for standard error's reader after a failed plugin exited.
const STDERR_WAIT: Duration = Duration::from_secs(1);

/// How often the plugin's exit is polled after its output ended.
const EXIT_POLL: Duration = Duration::from_millis(5);

/// What a run can go wrong with (rendered into the denial's message and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RunError {
    /// The binary could not be started.
    Start(String),
    /// The deadline passed; the plugin was killed.
    Deadline(Duration),
    /// More than [`MAX_RESPONSE_BYTES`] on standard output; the plugin was killed.
    Oversize,
    /// The plugin exited unsuccessfully.
    Failed { status: String, stderr: String },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start(why) => write!(f, "cannot start it: {why}"),
            Self::Deadline(limit) => write!(
                f,
                "it did not answer within {limit:?} and was killed (see \
                 --image-credential-provider-timeout)"
            ),
            Self::Oversize => write!(
                f,
                "it wrote more than {MAX_RESPONSE_BYTES} bytes on standard output and was killed"
            ),
            Self::Failed { status, stderr } => write!(f, "it exited with {status}: {stderr}"),
        }
    }
}

/// Runs `binary args…` with `env` added, `input` on standard input; its standard output.
pub(super) async fn run(
    binary: &Path,
    args: &[String],
    env: &[(String, String)],
    input: Vec<u8>,
    deadline: Duration,
) -> Result<Vec<u8>, RunError> {
    let mut command = Command::new(binary);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let blocking = tokio::task::spawn_blocking(move || run_blocking(command, input, deadline));
    match tokio::time::timeout(deadline + Duration::from_secs(1), blocking).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(RunError::Start(format!("the runner failed: {join}"))),
        Err(_) => Err(RunError::Deadline(started.elapsed())),
    }
}

fn run_blocking(
    mut command: Command,
    input: Vec<u8>,
    deadline: Duration,
) -> Result<Vec<u8>, RunError> {
    let until = Instant::now() + deadline;
    let mut child = command
        .spawn()
        .map_err(|e| RunError::Start(e.to_string()))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(RunError::Start(
            "its standard streams were not piped".into(),
        ));
    };
    // Detached: a plugin that never reads its input must not hold up the deadline.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let (out_tx, out_rx) = mpsc::channel();
    std::thread::spawn(move || read_capped(stdout, MAX_RESPONSE_BYTES, &out_tx));
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || read_capped(stderr, MAX_STDERR_BYTES, &err_tx));
    let kill = |child: &mut std::process::Child, why: RunError| {
        let _ = child.kill();
        let _ = child.wait();
        Err(why)
    };
    let output = match out_rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        Ok(Capped::Whole(bytes)) => bytes,
        Ok(Capped::Over) => return kill(&mut child, RunError::Oversize),
        Err(_) => return kill(&mut child, RunError::Deadline(deadline)),
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < until => std::thread::sleep(EXIT_POLL),
            Ok(None) => return kill(&mut child, RunError::Deadline(deadline)),
            Err(e) => return kill(&mut child, RunError::Start(e.to_string())),
        }
    };
    if status.success() {
        return Ok(output);
    }
    // The plugin has exited, so its standard error ends at once unless a child of its own
    // still holds it: wait for the reader a little (a busy machine schedules it late), never
    // past the deadline.
    let wait = STDERR_WAIT.min(until.saturating_duration_since(Instant::now()));
    let stderr = match err_rx.recv_timeout(wait) {
        Ok(Capped::Whole(bytes)) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Ok(Capped::Over) => "(standard error too long to show)".into(),
        Err(_) => String::new(),
    };
    Err(RunError::Failed {
        status: status.to_string(),
        stderr,
    })
}

enum Capped {
    Whole(Vec<u8>),
    Over,
}

/// Sends everything up to end of stream, or `Over` as soon as more than `cap` bytes came (the
/// rest is then drained so the writer is never blocked on a full pipe before it is killed).
fn read_capped(stream: impl Read, cap: usize, done: &mpsc::Sender<Capped>) {
    let mut bytes = Vec::new();
    let mut limited = stream.take(cap as u64 + 1);
    let _ = limited.read_to_end(&mut bytes);
    if bytes.len() <= cap {
        let _ = done.send(Capped::Whole(bytes));
        return;
    }
    let _ = done.send(Capped::Over);
    let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
}
