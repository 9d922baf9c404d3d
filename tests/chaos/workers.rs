//! Real `pagesift run` processes for a scenario: their environment (random queue and exchange
//! names), their logs, kill -9, SIGTERM, and CPU time read from /proc.

use std::net::SocketAddr;
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
    /// Whether each worker serves `/readyz` (on a free local port of its own).
    pub http: bool,
}

/// One worker process.
pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
    /// Where it serves `/healthz` and `/readyz` (None: HTTP off).
    pub http: Option<SocketAddr>,
}

impl WorkerSpec {
    /// The `PAGESIFT__*` variables a worker of this spec runs with (`extra` last, so it wins).
    pub fn env(&self) -> Vec<(String, String)> {
        let t = &self.topology;
        let mut vars: Vec<(String, String)> = [
            ("PAGESIFT__AMQP__URL", self.url.as_str()),
            ("PAGESIFT__AMQP__INPUT_QUEUE", &t.input),
            ("PAGESIFT__AMQP__OUTPUT_EXCHANGE", &t.output_exchange),
            ("PAGESIFT__AMQP__DEAD_LETTER_EXCHANGE", &t.dead_exchange),
            ("PAGESIFT__AMQP__DEAD_LETTER_QUEUE", &t.dead_queue),
            ("PAGESIFT__AMQP__ALL_ARTICLES_QUEUE", &t.all_queue),
            ("PAGESIFT__AMQP__SAFETY_ARTICLES_QUEUE", ""),
            ("PAGESIFT__AMQP__PAGE_SUMMARY", "false"),
            ("PAGESIFT__AMQP__PUBLISH_TIMEOUT_SECONDS", "5"),
            ("PAGESIFT__WORKER__RETRY_MAX_MS", "2000"),
            ("PAGESIFT__AMQP__RECONNECT_MAX_MS", "2000"),
            ("PAGESIFT__HTTP__ENABLED", "false"),
            ("PAGESIFT__LOG__STATS_INTERVAL_SECONDS", "0"),
            ("PAGESIFT__LOG__FORMAT", "json"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.push((
            "PAGESIFT__WORKER__CONCURRENCY".into(),
            self.concurrency.to_string(),
        ));
        vars.push((
            "PAGESIFT__WORKER__PREFETCH".into(),
            self.prefetch.to_string(),
        ));
        vars.extend(self.extra.iter().cloned());
        vars
    }

    /// The settings a worker of this spec loads (for the test to declare its topology).
    pub fn settings(&self) -> pagesift::settings::Settings {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        pagesift::settings::Settings::load_from(&root.join("config"), None, self.env())
            .expect("the scenario's settings")
    }

    /// Starts a worker; its stdout and stderr go to `log_dir/<name>.log`.
    pub fn spawn(&self, name: &str) -> Worker {
        std::fs::create_dir_all(&self.log_dir).expect("log dir");
        let log = self.log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("worker log");
        let err = file.try_clone().expect("worker log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pagesift"));
        cmd.arg("run")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("PAGESIFT_ENV")
            .env("RUST_LOG", "warn,pagesift=info")
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err));
        let http = self.http.then(|| {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port");
            cmd.env("PAGESIFT__HTTP__ENABLED", "true")
                .env("PAGESIFT__HTTP__LISTEN", addr.to_string());
            addr
        });
        let child = cmd.spawn().expect("start pagesift run");
        Worker { child, log, http }
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

    /// Whether it answers `/readyz` with 200 (false when HTTP is off or it does not answer).
    pub async fn ready(&self) -> bool {
        match self.http {
            Some(addr) => matches!(pagesift::http::get(addr, "/readyz").await, Ok((200, _))),
            None => false,
        }
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
