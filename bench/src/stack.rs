//! The local stack as `make dev` serves it: inflow_dev.gateway (API Gateway's HTTP API and the
//! Lambda Runtime API) in front of the release binaries, one gateway per scenario (each has
//! its own table, queues and secret, which the functions read from their environment).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::Value;

/// A directory of `<function>` → `<lambda_dir>/<function>/bootstrap` links: the layout the
/// gateway's `--bin-dir` expects (target/debug's), for cargo lambda's release builds.
pub fn bin_dir(lambda_dir: &Path) -> Result<PathBuf, String> {
    let dir = lambda_dir.with_file_name("bench-bin");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in std::fs::read_dir(lambda_dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let bootstrap = entry.path().join("bootstrap");
        if bootstrap.is_file() {
            let link = dir.join(entry.file_name());
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&bootstrap, &link)
                .map_err(|e| format!("{}: {e}", link.display()))?;
        }
    }
    Ok(dir)
}

pub struct Gateway {
    child: tokio::process::Child,
    pub base: String,
    pub log: PathBuf,
}

impl Gateway {
    /// Starts inflow_dev.gateway on a free loopback port with `env` (the functions inherit it)
    /// and waits until every function has an initialised instance (the gateway opens its port
    /// then).
    pub async fn start(
        bin_dir: &Path,
        env: &[(String, String)],
        concurrency: usize,
        log: PathBuf,
    ) -> Result<Gateway, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = tokio::process::Command::new(".venv/bin/python");
        command
            .args(["-m", "inflow_dev.gateway", "--cors-origins", "none"])
            .arg("--port")
            .arg(port.to_string())
            .arg("--bin-dir")
            .arg(bin_dir)
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .env_clear()
            .envs(env.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("inflow_dev.gateway: {e}"))?;
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "inflow_dev.gateway exited ({status}); see {}",
                    log.display()
                ));
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!(
                    "inflow_dev.gateway: no answer in 120 s; see {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Gateway {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    /// The process ids of a function's instances (GET /_gateway/status).
    pub async fn pids(&self, function: &str) -> Vec<u32> {
        let status: Value = match reqwest::get(format!("{}/_gateway/status", self.base)).await {
            Ok(res) => {
                serde_json::from_str(&res.text().await.unwrap_or_default()).unwrap_or_default()
            }
            Err(_) => Value::Null,
        };
        let functions = status.get("functions").unwrap_or(&status);
        functions[function]["pids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_u64().map(|p| p as u32))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The latencies `function` logged for its own requests ("request finished"), in order.
    pub fn logged_latencies(&self, function: &str) -> Vec<f64> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let prefix = format!("{function}: ");
        text.lines()
            .filter_map(|line| line.strip_prefix(&prefix))
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"]["message"] == "request finished")
            .filter_map(|line| line["fields"]["latency_ms"].as_f64())
            .collect()
    }

    /// Stops the gateway (it stops its function processes) and waits for it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM: the gateway ends its instances itself.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}
