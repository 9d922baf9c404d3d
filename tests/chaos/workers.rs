//! Real `pagesift run` processes for a scenario: their environment (random queue and exchange
//! names), their logs, kill -9, SIGTERM, and CPU time read from /proc.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The names of one scenario's topology.
#[derive(Debug, Clone)]
pub struct Topology {
    pub input: String,
    pub output_exchange: String,
    pub dead_exchange: String,
    pub dead_queue: String,
    pub all_queue: String,
}

impl Topology {
    pub fn new(tag: &str) -> Topology {
        Topology {
            input: format!("{tag}.pages"),
            output_exchange: format!("{tag}.articles"),
            dead_exchange: format!("{tag}.dead"),
            dead_queue: format!("{tag}.pages.dead"),
            all_queue: format!("{tag}.articles.all"),
        }
    }
}

/// How to start the workers of a scenario.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub url: String,
    pub topology: Topology,
    pub concurrency: usize,
    pub prefetch: usize,
    pub extra: Vec<(String, String)>,
    pub log_dir: PathBuf,
}

/// One worker process.
pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl WorkerSpec {
    /// Starts a worker; its stdout and stderr go to `log_dir/<name>.log`.
    pub fn spawn(&self, name: &str) -> Worker {
        std::fs::create_dir_all(&self.log_dir).expect("log dir");
        let log = self.log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("worker log");
        let err = file.try_clone().expect("worker log");
        let t = &self.topology;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagesift"));
        cmd.arg("run")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("PAGESIFT_ENV")
            .env("PAGESIFT__AMQP__URL", &self.url)
            .env("PAGESIFT__AMQP__INPUT_QUEUE", &t.input)
            .env("PAGESIFT__AMQP__OUTPUT_EXCHANGE", &t.output_exchange)
            .env("PAGESIFT__AMQP__DEAD_LETTER_EXCHANGE", &t.dead_exchange)
            .env("PAGESIFT__AMQP__DEAD_LETTER_QUEUE", &t.dead_queue)
            .env("PAGESIFT__AMQP__ALL_ARTICLES_QUEUE", &t.all_queue)
            .env("PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE", "")
            .env("PAGESIFT__AMQP__PAGE_SUMMARY", "false")
            .env("PAGESIFT__AMQP__PUBLISH_TIMEOUT_SECONDS", "5")
            .env(
                "PAGESIFT__WORKER__CONCURRENCY",
                self.concurrency.to_string(),
            )
            .env("PAGESIFT__WORKER__PREFETCH", self.prefetch.to_string())
            .env("PAGESIFT__WORKER__RETRY_MAX_MS", "2000")
            .env("PAGESIFT__AMQP__RECONNECT_MAX_MS", "2000")
            .env("PAGESIFT__HTTP__ENABLED", "false")
            .env("PAGESIFT__LOG__STATS_INTERVAL_SECONDS", "0")
            .env("PAGESIFT__LOG__FORMAT", "json")
            .env("RUST_LOG", "warn,pagesift=info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err));
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start pagesift run");
        Worker { child, log }
    }
}

impl Worker {
    /// kill -9.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM.
    pub fn term(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the exit, up to `limit`; None when still running.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// User + system CPU seconds used so far (from /proc; 0 when unreadable).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // Fields after the command: state is 0, utime is 11, stime is 12.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// The last lines of the log, for failure messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
