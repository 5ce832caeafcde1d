//! Drives a real rce the way users do and measures it: it starts its own
//! `rce serve` (own Redis prefix and store, so the queue can be flushed after
//! the ingest phase), then measures the floor (bare Engine API containers),
//! submit→finished latency on the WebSocket `finished` event (Python hello
//! and a CPU-bound program, then every language's hello world, then the idle
//! warm containers' memory), throughput at several concurrencies, API ingest while the
//! workers are saturated, CPU per job of rce and of the Docker stack,
//! resident memory idle and with many idle WebSockets, and fairness (a second
//! rce with 2 slots: one user's backlog of sleeping jobs against another
//! user's hello world).

use super::floor;
use super::procstat;
use super::report::{Figure, Hello, Report, WarmIdle};
use super::stats::{summarize, Summary};
use crate::job::{Job, SubmissionRequest};
use crate::languages::Languages;
use crate::sandbox::{ContainerLabels, SandboxSettings};
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run and where to write the results.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The rce binary to start (a release build for meaningful numbers).
    pub rce_bin: PathBuf,
    /// Where the JSON report goes.
    pub out: PathBuf,
    /// Fewer samples (for a smoke run).
    pub quick: bool,
    /// Worker slots of the started rce.
    pub concurrency: usize,
    /// Idle WebSockets opened for the memory figure.
    pub websockets: usize,
    /// Extra environment for the started rce (KEY=VALUE).
    pub env: Vec<(String, String)>,
    /// Run only the fairness phase.
    pub fairness_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("starting rce: {0}")]
    Start(String),
    #[error("docker: {0}")]
    Docker(String),
    #[error("http: {0}")]
    Http(String),
    #[error("websocket: {0}")]
    WebSocket(String),
    #[error("redis: {0}")]
    Redis(String),
}

fn http_error(error: impl std::fmt::Display) -> BenchError {
    BenchError::Http(error.to_string())
}

/// A started rce process, killed (and its containers removed) on drop.
struct Server {
    child: Child,
    base: String,
    prefix: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(options: &BenchOptions) -> Result<Server, BenchError> {
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Start(e.to_string()))?;
    let mut command = Command::new(&options.rce_bin);
    command
        .args(["serve", "--role", "all"])
        .env("RCE_CONFIG", dir.join("none.toml"))
        .env("RCE_HTTP__BIND", "127.0.0.1:0")
        .env("RCE_REDIS__PREFIX", &prefix)
        .env("RCE_STORE__SQLITE_PATH", dir.join("rce.db"))
        .env("RCE_WORKER__CONCURRENCY", options.concurrency.to_string())
        .env("RCE_LOG__LEVEL", "warn")
        // One benchmark user submits thousands of jobs a second: the
        // per-user quotas (0 = off) would measure themselves, not the pipeline.
        .env("RCE_QUOTA__SUBMISSIONS_PER_MINUTE", "0")
        .env("RCE_QUOTA__MAX_ACTIVE_JOBS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in &options.env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .map_err(|e| BenchError::Start(e.to_string()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Start("no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(address) = line.strip_prefix("rce listening on ") {
                    break address.to_string();
                }
            }
            _ => return Err(BenchError::Start("rce exited before listening".into())),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        base,
        prefix,
    })
}

/// An authenticated client of the started server.
#[derive(Clone)]
struct Api {
    base: String,
    token: Option<String>,
    client: awc::Client,
}

impl Api {
    /// Registers and logs in a bench user where the server has accounts.
    async fn connect(base: &str) -> Result<Api, BenchError> {
        // No connection cap: the memory phase holds a thousand WebSockets.
        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(0))
            .timeout(Duration::from_secs(120))
            .finish();
        let credentials = json!({"username": format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..12]), "password": "bench-password-123456"});
        let registered = client
            .post(format!("{base}/api/v1/auth/register"))
            .send_json(&credentials)
            .await
            .map_err(http_error)?;
        let token = if registered.status().as_u16() == 404 {
            None
        } else {
            let mut login = client
                .post(format!("{base}/api/v1/auth/login"))
                .send_json(&credentials)
                .await
                .map_err(http_error)?;
            let body: Value = login.json().await.map_err(http_error)?;
            body["token"].as_str().map(str::to_string)
        };
        Ok(Api {
            base: base.to_string(),
            token,
            client,
        })
    }

    async fn websocket(&self) -> Result<WebSocket, BenchError> {
        let url = format!("{}/api/v1/ws", self.base.replacen("http://", "ws://", 1));
        let url = match &self.token {
            Some(token) => format!("{url}?token={token}"),
            None => url,
        };
        let (_, framed) = self
            .client
            .ws(url)
            .connect()
            .await
            .map_err(|e| BenchError::WebSocket(e.to_string()))?;
        Ok(WebSocket { framed })
    }

    /// The body of `GET {base}{path}`.
    async fn get(&self, path: &str) -> Result<Vec<u8>, BenchError> {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(http_error)?;
        let body = response.body().limit(16 << 20).await.map_err(http_error)?;
        Ok(body.to_vec())
    }

    /// The ids of the languages the server serves, in its order.
    async fn languages(&self) -> Result<Vec<String>, BenchError> {
        let languages: Value =
            serde_json::from_slice(&self.get("/api/v1/languages").await?).map_err(http_error)?;
        Ok(languages
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|language| language["id"].as_str().map(str::to_string))
            .collect())
    }

    /// A gauge's value on `/metrics` (0 when absent).
    async fn gauge(&self, name: &str) -> Result<f64, BenchError> {
        let metrics = self.get("/metrics").await?;
        Ok(String::from_utf8_lossy(&metrics)
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0))
    }

    /// POSTs a submission; returns its id.
    async fn submit(&self, body: &Value) -> Result<String, BenchError> {
        let mut request = self
            .client
            .post(format!("{}/api/v1/submissions", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let mut response = request.send_json(body).await.map_err(http_error)?;
        let reply: Value = response.json().await.map_err(http_error)?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BenchError::Http(format!("submission refused: {reply}")))
    }

    /// Waits for submission `id` to complete; returns its created→finished
    /// time from the server's timestamps.
    async fn duration_of(&self, id: &str) -> Result<Duration, BenchError> {
        let at = |submission: &Value, field: &str| {
            let text = submission[field].as_str().unwrap_or_default();
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(http_error)
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let mut request = self
                .client
                .get(format!("{}/api/v1/submissions/{id}", self.base));
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let mut response = request.send().await.map_err(http_error)?;
            let submission: Value = response.json().await.map_err(http_error)?;
            if submission["status"] == "completed" {
                let took = at(&submission, "finished_at")? - at(&submission, "created_at")?;
                return Ok(took.unsigned_abs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(BenchError::Http(format!("submission {id} never completed")))
    }

    /// POSTs a submission; returns the status and how long it took.
    async fn post(&self, body: &Value) -> Result<(u16, Duration), BenchError> {
        let mut request = self
            .client
            .post(format!("{}/api/v1/submissions", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let mut response = request.send_json(body).await.map_err(http_error)?;
        let _ = response.body().await;
        Ok((response.status().as_u16(), started.elapsed()))
    }
}

struct WebSocket {
    framed: actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
}

impl WebSocket {
    async fn send(&mut self, frame: &Value) -> Result<(), BenchError> {
        self.framed
            .send(ws::Message::Text(frame.to_string().into()))
            .await
            .map_err(|e| BenchError::WebSocket(e.to_string()))
    }

    async fn next_event(&mut self) -> Result<Value, BenchError> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(120), self.framed.next())
                .await
                .map_err(|_| BenchError::WebSocket("no event for 120 s".into()))?
                .ok_or_else(|| BenchError::WebSocket("closed".into()))?
                .map_err(|e| BenchError::WebSocket(e.to_string()))?;
            match frame {
                ws::Frame::Text(bytes) => {
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| BenchError::WebSocket(e.to_string()))
                }
                ws::Frame::Ping(bytes) => {
                    let _ = self.framed.send(ws::Message::Pong(bytes)).await;
                }
                ws::Frame::Close(_) => return Err(BenchError::WebSocket("closed".into())),
                _ => {}
            }
        }
    }

    /// Runs `jobs` keeping at most `in_flight` submitted and unfinished;
    /// returns each job's submit→finished time and the total time.
    async fn run_jobs(
        &mut self,
        body: &Value,
        jobs: usize,
        in_flight: usize,
    ) -> Result<(Vec<Duration>, Duration), BenchError> {
        let started = Instant::now();
        let mut sent_at: HashMap<String, Instant> = HashMap::new();
        let mut ids: HashMap<String, Instant> = HashMap::new();
        let mut done = Vec::with_capacity(jobs);
        let (mut sent, mut open) = (0, 0);
        let mut finished_ids = HashSet::new();
        while done.len() < jobs {
            while sent < jobs && open < in_flight {
                let reference = format!("b{sent}");
                let mut frame = body.clone();
                frame["type"] = json!("submit");
                frame["ref"] = json!(reference);
                sent_at.insert(reference, Instant::now());
                self.send(&frame).await?;
                sent += 1;
                open += 1;
            }
            let event = self.next_event().await?;
            match event["type"].as_str() {
                Some("queued") => {
                    if let (Some(reference), Some(id)) =
                        (event["ref"].as_str(), event["id"].as_str())
                    {
                        if let Some(at) = sent_at.remove(reference) {
                            ids.insert(id.to_string(), at);
                        }
                    }
                }
                Some("finished") => {
                    let id = event["id"].as_str().unwrap_or_default().to_string();
                    if let Some(at) = ids.remove(&id) {
                        if finished_ids.insert(id) {
                            done.push(at.elapsed());
                            open -= 1;
                        }
                    }
                }
                Some("error") => {
                    return Err(BenchError::WebSocket(format!("server error: {event}")))
                }
                _ => {}
            }
        }
        Ok((done, started.elapsed()))
    }
}

fn python(source: &str) -> Value {
    json!({"language": "python", "source": source})
}

/// Latency samples start at most this often: 5 jobs/s, a third of the
/// containers per second this 2-core machine's engine can start, so a sample
/// measures one job rather than a queue behind the engine. (Back to back, a
/// 45 ms job asks for 22 containers/s; no fresh-container design keeps up.)
const LATENCY_PACE: Duration = Duration::from_millis(200);

/// Runs the whole benchmark and returns its report.
pub async fn run(options: BenchOptions) -> Result<Report, BenchError> {
    let mut report = if options.fairness_only {
        Report::default()
    } else {
        run_pipeline(&options).await?
    };
    (report.fair_a_job_s, report.fair_b_s) = fairness(&options).await?;
    report
        .write(&options.out)
        .map_err(|e| BenchError::Start(format!("writing {}: {e}", options.out.display())))?;
    Ok(report)
}

/// The fairness scenario on a fresh rce with 2 slots: user A submits
/// ten Python jobs that sleep, then user B one `print(1)`; returns one A
/// job's duration and B's submit→finished, both in seconds. First in, first out B would
/// wait for all of A's jobs; fair dispatch starts it at the next free slot.
async fn fairness(options: &BenchOptions) -> Result<(f64, f64), BenchError> {
    eprintln!("rce-bench: fairness: 10 sleeping jobs of user A, then B's hello, on 2 slots");
    let two_slots = BenchOptions {
        concurrency: 2,
        ..options.clone()
    };
    let server = start_server(&two_slots)?;
    let (a, b) = (
        Api::connect(&server.base).await?,
        Api::connect(&server.base).await?,
    );
    let sleep_s: u64 = if options.quick { 3 } else { 8 };
    let mut a_jobs = Vec::new();
    for _ in 0..10 {
        let body = python(&format!("import time\ntime.sleep({sleep_s})"));
        a_jobs.push(a.submit(&body).await?);
    }
    // Both slots busy with A's first jobs before B arrives.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut socket = b.websocket().await?;
    let (samples, _) = socket.run_jobs(&python("print(1)"), 1, 1).await?;
    let b_s = samples.first().map_or(f64::NAN, Duration::as_secs_f64);
    // One A job's duration as the server saw it (its sleep plus the
    // container's start and stop): the yardstick of the goal.
    let a_job_s = a.duration_of(&a_jobs[0]).await?.as_secs_f64();
    let prefix = server.prefix.clone();
    drop(server);
    if let Ok(docker) = crate::sandbox::connect().await {
        remove_containers(&docker, &prefix).await;
    }
    Ok((a_job_s, b_s))
}

/// A phase's size: the full one, or a smaller one under `--quick`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    quick: bool,
}

impl Scale {
    fn pick(self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// Every phase but fairness, on one rce with `options.concurrency` slots.
async fn run_pipeline(options: &BenchOptions) -> Result<Report, BenchError> {
    let server = start_server(options)?;
    let pid = server.child.id();
    let api = Api::connect(&server.base).await?;
    let mut report = Report::default();
    let scale = Scale {
        quick: options.quick,
    };

    eprintln!("rce-bench: warming up");
    // Warm the images' page cache so the first samples are not outliers.
    let mut socket = api.websocket().await?;
    socket.run_jobs(&python("print(1)"), 2, 1).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kb = procstat::rss_kb(pid);

    eprintln!("rce-bench: floor: bare Engine API containers");
    let docker = crate::sandbox::connect()
        .await
        .map_err(|e| BenchError::Docker(e.to_string()))?;
    measure_floor(&docker, &server.prefix, scale, &mut report).await?;
    eprintln!(
        "rce-bench: latency: one job at a time, one every {} ms, then back to back",
        LATENCY_PACE.as_millis()
    );
    measure_latency(&mut socket, scale, &mut report).await?;
    eprintln!("rce-bench: hello world in every served language, then the idle warm containers");
    measure_hello(&api, &mut socket, scale, &mut report).await?;
    report.warm_idle = measure_warm_idle(&docker, &server.prefix).await;
    report.compile_cache_bytes = api.gauge("rce_compile_cache_bytes").await? as u64;
    report.hello_rss_kb = procstat::rss_kb(pid);
    eprintln!("rce-bench: throughput");
    measure_throughput(&mut socket, pid, scale, &mut report).await?;
    eprintln!("rce-bench: ingest while saturated");
    measure_ingest(&api, options, scale, &mut report).await?;
    drop_queued_jobs(&server.prefix).await?;
    eprintln!("rce-bench: memory with idle WebSockets");
    measure_idle_websockets(&api, options.websockets, pid, &mut report).await?;
    report.idle_rss_kb = idle_rss_kb;

    let prefix = server.prefix.clone();
    drop(server);
    remove_containers(&docker, &prefix).await;
    Ok(report)
}

/// The floor: bare Engine API containers running the same Python hello,
/// one at a time and eight in flight.
async fn measure_floor(
    docker: &bollard::Docker,
    prefix: &str,
    scale: Scale,
    report: &mut Report,
) -> Result<(), BenchError> {
    let languages = Languages::load(std::path::Path::new("images/languages.toml"))
        .map_err(|e| BenchError::Start(e.to_string()))?;
    let settings = SandboxSettings::default();
    let python_language = languages
        .get("python")
        .cloned()
        .ok_or_else(|| BenchError::Start("no python".into()))?;
    let request = SubmissionRequest {
        language: "python".into(),
        source: Some("print('hello')".into()),
        ..Default::default()
    };
    let job = Job::from_request(request, "bench", &languages, &settings.bounds())
        .map_err(|e| BenchError::Start(e.to_string()))?;
    let labels = ContainerLabels {
        worker: format!("bench-floor-{}", std::process::id()),
        prefix: prefix.to_string(),
    };
    let floor_job = floor::FloorJob {
        docker,
        job: &job,
        language: &python_language,
        settings: &settings,
        labels: &labels,
        program: &["python3", "-c", "print('hello')"],
    };
    let floor = floor_job
        .measure(scale.pick(20, 5))
        .await
        .map_err(|e| BenchError::Docker(e.to_string()))?;
    report.floor_throughput_8 = floor_job
        .throughput(8, scale.pick(48, 16))
        .await
        .map_err(|e| BenchError::Docker(e.to_string()))?;
    report.floor = summarize(&floor.samples);
    report.floor_docker_cpu_ms = floor.docker_cpu_per_job.as_secs_f64() * 1000.0;
    report.floor_machine_cpu_ms = floor.machine_cpu_per_job.as_secs_f64() * 1000.0;
    Ok(())
}

/// Latency, one job at a time, on the finished event: three programs
/// paced by [`LATENCY_PACE`], then Python hello back to back.
async fn measure_latency(
    socket: &mut WebSocket,
    scale: Scale,
    report: &mut Report,
) -> Result<(), BenchError> {
    let programs = [
        ("python hello", python("print('hello')"), scale.pick(30, 5)),
        (
            "python cpu-bound",
            python("s=0\nfor i in range(3_000_000):\n    s+=i\nprint(s)"),
            scale.pick(10, 3),
        ),
    ];
    for (name, body, runs) in programs {
        let samples = paced(socket, &body, runs).await?;
        report.latency.push((name.to_string(), summarize(&samples)));
    }
    // The same Python job back to back: faster than the engine can start
    // containers, so this measures the pool running dry, not one job.
    let (samples, _) = socket
        .run_jobs(&python("print('hello')"), scale.pick(30, 5), 1)
        .await?;
    report.back_to_back = summarize(&samples);
    Ok(())
}

/// `runs` jobs of `body`, one at a time, started at most every
/// [`LATENCY_PACE`]; their submit→finished times.
async fn paced(
    socket: &mut WebSocket,
    body: &Value,
    runs: usize,
) -> Result<Vec<Duration>, BenchError> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let next = Instant::now() + LATENCY_PACE;
        let (sample, _) = socket.run_jobs(body, 1, 1).await?;
        samples.extend(sample);
        tokio::time::sleep_until(next.into()).await;
    }
    Ok(samples)
}

/// Every language the server serves (`GET /api/v1/languages`: the built
/// images, narrowed by `sandbox.languages`), its `images/<id>/hello.json`,
/// paced: one job first, timed apart from the samples (a language's first
/// job starts its warm pool and, where it compiles, fills the compile cache
/// the samples reuse), then the samples.
async fn measure_hello(
    api: &Api,
    socket: &mut WebSocket,
    scale: Scale,
    report: &mut Report,
) -> Result<(), BenchError> {
    for id in api.languages().await? {
        let path = format!("images/{id}/hello.json");
        let body: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| BenchError::Start(format!("cannot read {path}")))?;
        let first = paced(socket, &body, 1).await?;
        let preloaded_series = format!("rce_preloaded_runs_total{{language=\"{id}\"}}");
        let preloaded_before = api.gauge(&preloaded_series).await?;
        let samples = paced(socket, &body, scale.pick(15, 3)).await?;
        let preloaded = api.gauge(&preloaded_series).await? - preloaded_before;
        report.hello.push(Hello {
            language: id,
            first_ms: first.first().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            preloaded: preloaded as usize,
            samples: summarize(&samples),
        });
    }
    Ok(())
}

/// The idle warm containers of `prefix` and what they hold: their cgroups'
/// memory (Docker's stats) and their containerd shims' resident size.
async fn measure_warm_idle(docker: &bollard::Docker, prefix: &str) -> WarmIdle {
    let filters = HashMap::from([
        (
            "label",
            vec![
                format!("{}={prefix}", crate::sandbox::LABEL_PREFIX),
                crate::sandbox::LABEL_WARM.to_string(),
            ],
        ),
        ("status", vec!["running".to_string()]),
    ]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let ids: Vec<String> = match docker.list_containers(Some(options)).await {
        Ok(containers) => containers.into_iter().filter_map(|c| c.id).collect(),
        Err(_) => Vec::new(),
    };
    let mut idle = WarmIdle {
        containers: ids.len(),
        ..WarmIdle::default()
    };
    // All at once: an engine without one-shot stats (API 1.41) takes a second
    // or two per container, and the bench's WebSocket, unread meanwhile, must
    // not reach the server's client timeout with forty languages' pools.
    let usages = futures_util::future::join_all(ids.iter().map(|id| async move {
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        match docker.stats(id, Some(options)).next().await {
            Some(Ok(stats)) => stats.memory_stats.and_then(|m| m.usage).unwrap_or(0),
            _ => 0,
        }
    }))
    .await;
    idle.cgroup_kb = usages.iter().sum::<u64>() / 1024;
    idle.shim_kb = procstat::shims_rss_kb(&ids);
    idle
}

/// Throughput at several concurrencies; CPU per job (of rce, the Docker
/// stack and the machine) measured at 8.
async fn measure_throughput(
    socket: &mut WebSocket,
    pid: u32,
    scale: Scale,
    report: &mut Report,
) -> Result<(), BenchError> {
    for concurrency in [1usize, 2, 4, 8, 16] {
        let jobs = scale.pick((concurrency * 6).max(24), concurrency.max(4));
        let (rce_cpu, docker_cpu, machine_cpu) = (
            procstat::cpu_time(pid),
            procstat::docker_stack_cpu(),
            procstat::machine_busy_cpu(),
        );
        let (_, total) = socket
            .run_jobs(&python("print('hello')"), jobs, concurrency)
            .await?;
        let per_second = jobs as f64 / total.as_secs_f64();
        report.throughput.push((concurrency, per_second));
        if concurrency == 8 {
            let per_job_ms = |now: Duration, before: Duration| {
                now.saturating_sub(before).as_secs_f64() * 1000.0 / jobs as f64
            };
            report.rce_cpu_per_job_ms = per_job_ms(procstat::cpu_time(pid), rce_cpu);
            report.machine_cpu_per_job_ms = per_job_ms(procstat::machine_busy_cpu(), machine_cpu);
            report.docker_cpu_per_job_ms = per_job_ms(procstat::docker_stack_cpu(), docker_cpu);
        }
    }
    Ok(())
}

/// Ingest while every worker slot is busy with a sleeping job: 16 clients
/// posting as fast as they are answered.
async fn measure_ingest(
    api: &Api,
    options: &BenchOptions,
    scale: Scale,
    report: &mut Report,
) -> Result<(), BenchError> {
    for _ in 0..options.concurrency {
        api.post(&python("import time\ntime.sleep(20)")).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ingest_for = Duration::from_secs(scale.pick(3, 1) as u64);
    let clients = 16;
    let deadline = Instant::now() + ingest_for;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let api = api.clone();
        tasks.push(actix_rt::spawn(async move {
            let mut latencies = Vec::new();
            let mut rejected = 0usize;
            while Instant::now() < deadline {
                match api.post(&python("print(1)")).await {
                    Ok((202, took)) => latencies.push(took),
                    _ => rejected += 1,
                }
            }
            (latencies, rejected)
        }));
    }
    let (mut accepted, mut rejected) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((latencies, failed)) = task.await {
            accepted.extend(latencies);
            rejected += failed;
        }
    }
    report.ingest_per_second = accepted.len() as f64 / ingest_for.as_secs_f64();
    report.ingest_latency = summarize(&accepted);
    report.ingest_rejected = rejected;
    Ok(())
}

/// Drops the ingest flood from the queue so the workers do not run it. It
/// waits in the fair dispatcher's holding lists, not the stream.
async fn drop_queued_jobs(prefix: &str) -> Result<(), BenchError> {
    let redis_url =
        std::env::var("RCE_REDIS__URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let client =
        redis::Client::open(redis_url.as_str()).map_err(|e| BenchError::Redis(e.to_string()))?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| BenchError::Redis(e.to_string()))?;
    let keys = crate::queue::Keys::new(prefix);
    let held: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", keys.fair_queue_prefix()))
        .query_async(&mut connection)
        .await
        .map_err(|e| BenchError::Redis(e.to_string()))?;
    redis::cmd("DEL")
        .arg(keys.jobs_stream())
        .arg(keys.fair_ring())
        .arg(keys.fair_held())
        .arg(held)
        .query_async::<i64>(&mut connection)
        .await
        .map_err(|e| BenchError::Redis(e.to_string()))?;
    Ok(())
}

/// Resident memory with `count` idle WebSockets open.
async fn measure_idle_websockets(
    api: &Api,
    count: usize,
    pid: u32,
    report: &mut Report,
) -> Result<(), BenchError> {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        sockets.push(api.websocket().await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.websockets = sockets.len();
    report.websockets_rss_kb = procstat::rss_kb(pid);
    drop(sockets);
    Ok(())
}

/// Removes whatever the bench's rce left running (the sleeping jobs).
async fn remove_containers(docker: &bollard::Docker, prefix: &str) {
    let filters = HashMap::from([(
        "label",
        vec![format!("{}={prefix}", crate::sandbox::LABEL_PREFIX)],
    )]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    if let Ok(containers) = docker.list_containers(Some(options)).await {
        for id in containers.into_iter().filter_map(|c| c.id) {
            let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                .force(true)
                .build();
            let _ = docker.remove_container(&id, Some(remove)).await;
        }
    }
}

/// A figure with its ratio to the floor, for the table.
pub fn figures(report: &Report) -> Vec<Figure> {
    let mut rows = latency_figures(report);
    rows.extend(cost_figures(report));
    rows.extend(service_figures(report));
    rows
}

/// Latencies against the bare-container floor.
fn latency_figures(report: &Report) -> Vec<Figure> {
    let floor = report.floor.p50_ms.max(f64::EPSILON);
    let mut rows = vec![Figure::new(
        "floor: Engine API create→remove, p50 / p95",
        format!("{:.0} / {:.0} ms", report.floor.p50_ms, report.floor.p95_ms),
        Some(1.0),
    )];
    for (name, summary) in &report.latency {
        rows.push(Figure::new(
            &format!("{name}: submit→finished p50 / p95 / p99"),
            format!(
                "{:.0} / {:.0} / {:.0} ms",
                summary.p50_ms, summary.p95_ms, summary.p99_ms
            ),
            Some(summary.p50_ms / floor),
        ));
    }
    for hello in &report.hello {
        rows.push(Figure::new(
            &format!(
                "hello {}: submit→finished p50 / p95 (first job, cold; preloaded)",
                hello.language
            ),
            format!(
                "{:.0} / {:.0} ms ({:.0} ms; {}/{})",
                hello.samples.p50_ms,
                hello.samples.p95_ms,
                hello.first_ms,
                hello.preloaded,
                hello.samples.count
            ),
            Some(hello.samples.p50_ms / floor),
        ));
    }
    rows.push(Figure::new(
        "python hello back to back (no pacing): p50 / p95 / p99",
        format!(
            "{:.0} / {:.0} / {:.0} ms",
            report.back_to_back.p50_ms, report.back_to_back.p95_ms, report.back_to_back.p99_ms
        ),
        Some(report.back_to_back.p50_ms / floor),
    ));
    rows
}

/// Throughput and CPU per job, against the floor's.
fn cost_figures(report: &Report) -> Vec<Figure> {
    let mut rows = Vec::new();
    let floor_rate = report.cpu_bound_rate();
    rows.push(Figure::new(
        "floor: bare containers/s with 8 in flight",
        format!("{:.1} /s", report.floor_throughput_8),
        None,
    ));
    for (concurrency, rate) in &report.throughput {
        rows.push(Figure::new(
            &format!("throughput at concurrency {concurrency}"),
            format!("{rate:.1} jobs/s"),
            (floor_rate > 0.0).then(|| rate / floor_rate),
        ));
    }
    rows.push(Figure::new(
        "machine CPU per job (floor: one bare container)",
        format!("{:.0} ms", report.floor_machine_cpu_ms),
        Some(1.0),
    ));
    rows.push(Figure::new(
        "machine CPU per job (via rce, c=8)",
        format!("{:.0} ms", report.machine_cpu_per_job_ms),
        Some(report.machine_cpu_per_job_ms / report.floor_machine_cpu_ms.max(f64::EPSILON)),
    ));
    rows.push(Figure::new(
        "docker stack processes' CPU per job (floor; misses runc)",
        format!("{:.0} ms", report.floor_docker_cpu_ms),
        Some(1.0),
    ));
    rows.push(Figure::new(
        "docker stack processes' CPU per job (via rce, c=8)",
        format!("{:.0} ms", report.docker_cpu_per_job_ms),
        Some(report.docker_cpu_per_job_ms / report.floor_docker_cpu_ms.max(f64::EPSILON)),
    ));
    rows.push(Figure::new(
        "rce CPU per job (c=8)",
        format!("{:.1} ms", report.rce_cpu_per_job_ms),
        Some(report.rce_cpu_per_job_ms / report.floor_machine_cpu_ms.max(f64::EPSILON)),
    ));
    rows
}

/// Ingest, fairness and memory: the service's own figures.
fn service_figures(report: &Report) -> Vec<Figure> {
    let mut rows = Vec::new();
    rows.push(Figure::new(
        "ingest while saturated: accepted/s, p99",
        format!(
            "{:.0}/s, {:.1} ms ({} rejected)",
            report.ingest_per_second, report.ingest_latency.p99_ms, report.ingest_rejected
        ),
        None,
    ));
    rows.push(Figure::new(
        "fairness: B's hello behind A's 10 sleeping jobs, 2 slots",
        format!(
            "{:.1} s (one A job: {:.1} s)",
            report.fair_b_s, report.fair_a_job_s
        ),
        None,
    ));
    rows.push(Figure::new(
        "idle warm containers: count, cgroup memory + shims' RSS",
        format!(
            "{}, {:.1} + {:.1} MB",
            report.warm_idle.containers,
            report.warm_idle.cgroup_kb as f64 / 1024.0,
            report.warm_idle.shim_kb as f64 / 1024.0
        ),
        None,
    ));
    rows.push(Figure::new(
        "compile cache after the hello phase, rce RSS then",
        format!(
            "{:.1} MB, {:.1} MB",
            report.compile_cache_bytes as f64 / (1024.0 * 1024.0),
            report.hello_rss_kb as f64 / 1024.0
        ),
        None,
    ));
    rows.push(Figure::new(
        "rce RSS idle",
        format!("{:.1} MB", report.idle_rss_kb as f64 / 1024.0),
        None,
    ));
    rows.push(Figure::new(
        &format!("rce RSS with {} idle WebSockets", report.websockets),
        format!("{:.1} MB", report.websockets_rss_kb as f64 / 1024.0),
        None,
    ));
    rows
}

/// The goals, each with whether this run met it.
pub fn goals(report: &Report) -> Vec<(String, bool)> {
    let floor = report.floor.p50_ms;
    let python = report.latency.first().map(|(_, s)| *s).unwrap_or_default();
    let rate_8 = report.throughput_8();
    let floor_rate = report.cpu_bound_rate();
    let hello = report.hello.iter().map(|hello| {
        let summary = &hello.samples;
        (
            format!(
                "hello {}: p50 {:.0} ms ≤ 0.5 × floor and p95 {:.0} ms ≤ 1.0 × floor",
                hello.language, summary.p50_ms, summary.p95_ms
            ),
            summary.p50_ms <= 0.5 * floor && summary.p95_ms <= floor,
        )
    });
    let mut goals = vec![
        (
            format!(
                "python hello p50 {:.0} ms ≤ 0.5 × floor {:.0} ms",
                python.p50_ms, floor
            ),
            python.p50_ms <= 0.5 * floor,
        ),
        (
            format!(
                "python hello p95 {:.0} ms ≤ 1.0 × floor {:.0} ms",
                python.p95_ms, floor
            ),
            python.p95_ms <= floor,
        ),
        (
            format!("throughput at 8: {rate_8:.1} jobs/s within 15 % of {floor_rate:.1} (cores / floor CPU per job)"),
            rate_8 >= 0.85 * floor_rate,
        ),
        (
            format!(
                "throughput at 8: {rate_8:.1} jobs/s within 15 % of bare containers at 8, {:.1}/s",
                report.floor_throughput_8
            ),
            rate_8 >= 0.85 * report.floor_throughput_8,
        ),
        (
            format!("rce CPU per job {:.1} ms ≤ 5 ms", report.rce_cpu_per_job_ms),
            report.rce_cpu_per_job_ms <= 5.0,
        ),
        (
            format!(
                "ingest {:.0}/s ≥ 5000/s with p99 {:.1} ms < 50 ms",
                report.ingest_per_second, report.ingest_latency.p99_ms
            ),
            report.ingest_per_second >= 5000.0 && report.ingest_latency.p99_ms < 50.0,
        ),
        (
            format!(
                "fairness: B's hello {:.1} s ≤ one A job + 1 s = {:.1} s",
                report.fair_b_s,
                report.fair_a_job_s + 1.0
            ),
            report.fair_b_s <= report.fair_a_job_s + 1.0,
        ),
        (
            format!(
                "idle RSS {:.1} MB < 50 MB",
                report.idle_rss_kb as f64 / 1024.0
            ),
            report.idle_rss_kb < 50 * 1024,
        ),
        (
            format!(
                "RSS with {} WebSockets {:.1} MB < 150 MB",
                report.websockets,
                report.websockets_rss_kb as f64 / 1024.0
            ),
            report.websockets_rss_kb < 150 * 1024,
        ),
    ];
    goals.extend(hello);
    goals
}

impl Summary {
    /// Whether any sample was taken.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}
