//! A fake Lambda Runtime API on loopback: starts a function binary the way Lambda does and
//! notes when its first `GET /2018-06-01/runtime/invocation/next` arrives (the end of init),
//! and its peak memory (VmHWM) at that moment. The poll is never answered: the process is
//! killed once measured.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::{io::AsyncReadExt, net::TcpListener, process::Command};

pub struct Launch {
    pub init: Duration,
    /// CPU time the process used by then (all its threads).
    pub cpu_ms: f64,
    pub peak_kib: u64,
}

/// The environment Lambda gives every function (the Runtime API address is added per launch).
pub fn lambda_env(name: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("TZ", ":UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Starts `binary` with only `env` (plus the Runtime API address) and measures its init.
pub async fn launch(binary: &Path, env: &[(String, String)]) -> Result<Launch, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let api = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let log = tempfile(binary)?;
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.try_clone().map_err(|e| e.to_string())?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let pid = child.id().ok_or("no pid")?;
    let polled = tokio::select! {
        polled = first_poll(&listener) => polled,
        status = child.wait() => Err(format!("exited during init ({})", status.map(|s| s.to_string()).unwrap_or_default())),
        _ = tokio::time::sleep(Duration::from_secs(10)) => Err("no poll within 10 s".into()),
    };
    let result = match polled {
        // The poll's connection stays open (unanswered) until the peak is read.
        Ok((at, _connection)) => match (peak_kib(pid), cpu_ms(pid)) {
            (Some(peak_kib), Some(cpu_ms)) => Ok(Launch {
                init: at - start,
                cpu_ms,
                peak_kib,
            }),
            _ => Err("no VmHWM or schedstat after the poll".into()),
        },
        Err(e) => Err(format!("{e}: {}", read_log(binary))),
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

/// Waits for the first request and returns when its head has arrived, if it is the poll.
async fn first_poll(listener: &TcpListener) -> Result<(Instant, tokio::net::TcpStream), String> {
    let (mut socket, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a request".into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let at = Instant::now();
    let line = String::from_utf8_lossy(&head);
    if line.starts_with("GET /2018-06-01/runtime/invocation/next ") {
        Ok((at, socket))
    } else {
        Err(format!(
            "first request was not the poll: {}",
            line.lines().next().unwrap_or("")
        ))
    }
}

/// VmHWM (peak resident set) of a process, in KiB.
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of every thread of a process, from /proc/PID/task/*/schedstat (ns).
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Some(ns as f64 / 1e6)
}

fn log_path(binary: &Path) -> std::path::PathBuf {
    let name = binary
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("inflow-bench-{name}.log"))
}

fn tempfile(binary: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(log_path(binary)).map_err(|e| e.to_string())
}

fn read_log(binary: &Path) -> String {
    let text = std::fs::read_to_string(log_path(binary)).unwrap_or_default();
    text.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
}
