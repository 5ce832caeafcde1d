//! Shared helpers for integration tests: start a real `rce serve` process on
//! port 0 against the real Redis and Docker engine (each test gets its own
//! Redis prefix and SQLite file, so tests run in parallel without seeing each
//! other's jobs), register and log in users (every `Rce` has a default user,
//! named after its prefix, whose token `submit`, `get_submission`,
//! `wait_completed` and `Rce::ws_url_authed` use), talk to it over HTTP and
//! WebSocket, and count the
//! containers a test left behind. `make test` starts Redis and dockerd and
//! writes their addresses to `.rce/env`; these helpers read that file when
//! the variables are not already set.
#![allow(dead_code)]

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Variables from `.rce/env` (written by scripts/setup.sh), overridden by the
/// process environment.
pub fn service_env() -> HashMap<String, String> {
    let mut vars = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(repo().join(".rce/env")) {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ");
            if let Some((key, value)) = line.split_once('=') {
                vars.insert(
                    key.to_string(),
                    value.trim_matches('"').trim_matches('\'').to_string(),
                );
            }
        }
    }
    for key in ["DOCKER_HOST", "RCE_REDIS__URL"] {
        if let Ok(value) = std::env::var(key) {
            vars.insert(key.to_string(), value);
        }
    }
    vars
}

/// The shared Redis the tests' rce processes use.
pub fn redis_url() -> String {
    service_env()
        .get("RCE_REDIS__URL")
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into())
}

/// A running `rce serve` child process; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Rce {
    pub child: Child,
    pub base: String,
    pub prefix: String,
    pub dir: PathBuf,
    /// The default user's login token, registered on first use.
    token: tokio::sync::OnceCell<String>,
}

/// Options for [`start_rce`].
pub struct RceOptions {
    pub role: &'static str,
    pub env: Vec<(String, String)>,
    /// Share another instance's prefix and store (split api/worker tests).
    pub share_with: Option<(String, PathBuf)>,
}

impl Default for RceOptions {
    fn default() -> Self {
        RceOptions {
            role: "all",
            env: vec![],
            share_with: None,
        }
    }
}

/// Starts rce with default options.
pub fn start_rce() -> Rce {
    start_rce_with(RceOptions::default())
}

pub fn start_rce_with(options: RceOptions) -> Rce {
    let (prefix, dir) = options.share_with.unwrap_or_else(|| {
        let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).expect("creating the test dir");
        (prefix, dir)
    });
    let mut command = Command::new(env!("CARGO_BIN_EXE_rce"));
    command
        .args(["serve", "--role", options.role])
        .current_dir(repo())
        .env("RCE_CONFIG", dir.join("none.toml"))
        .env("RCE_HTTP__BIND", "127.0.0.1:0")
        // A worker-only process serves its probes here (and prints the address).
        .env("RCE_WORKER__HEALTH_BIND", "127.0.0.1:0")
        .env("RCE_REDIS__PREFIX", &prefix)
        .env("RCE_STORE__SQLITE_PATH", dir.join("rce.db"))
        .env("RCE_WORKER__CONCURRENCY", "2")
        .env("RCE_LOG__LEVEL", "info,rce=debug")
        // Tests register users and submit bursts of jobs from 127.0.0.1;
        // the quotas have their own tests, which set their values over these.
        .env("RCE_AUTH__THROTTLE__ATTEMPTS_PER_MINUTE", "100000")
        .env("RCE_QUOTA__SUBMISSION_BURST", "100000")
        .env("RCE_QUOTA__MAX_ACTIVE_JOBS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("rce.log"))
                .expect("log file"),
        ));
    for (key, value) in service_env() {
        command.env(key, value);
    }
    for (key, value) in &options.env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("starting rce");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(address) = line.strip_prefix("rce listening on ") {
                    break address.to_string();
                }
            }
            _ => {
                let log = std::fs::read_to_string(dir.join("rce.log")).unwrap_or_default();
                panic!(
                    "rce exited before listening; is `make test` (Redis, Docker) set up?\n{log}"
                );
            }
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Rce {
        child,
        base,
        prefix,
        dir,
        token: tokio::sync::OnceCell::new(),
    }
}

/// Starts a process that only runs workers (no HTTP) for `rce`'s prefix and store.
pub fn start_worker(rce: &Rce, env: Vec<(String, String)>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rce"));
    command
        .args(["serve", "--role", "worker"])
        .current_dir(repo())
        .env("RCE_CONFIG", rce.dir.join("none.toml"))
        .env("RCE_REDIS__PREFIX", &rce.prefix)
        .env("RCE_STORE__SQLITE_PATH", rce.dir.join("rce.db"))
        .env("RCE_WORKER__CONCURRENCY", "2")
        .env("RCE_WORKER__HEALTH_BIND", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(rce.dir.join("worker.log"))
                .expect("log file"),
        ));
    for (key, value) in service_env().into_iter().chain(env) {
        command.env(key, value);
    }
    command.spawn().expect("starting an rce worker")
}

impl Rce {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{}", self.base.replacen("http://", "ws://", 1), path)
    }

    /// The default user's token. The user is named after the prefix, so
    /// every instance sharing a prefix and store (a restarted server, a
    /// second API process) acts for the same user.
    pub async fn token(&self) -> String {
        let init = || async {
            let hex: String = self
                .prefix
                .chars()
                .filter(char::is_ascii_hexdigit)
                .take(24)
                .collect();
            let username = format!("u{hex}");
            let credentials =
                serde_json::json!({"username": username, "password": "default user password"});
            let (status, reply) = post_json(&self.url("/api/v1/auth/register"), &credentials).await;
            assert!(
                status == 201 || status == 409,
                "register answered {status} {reply}\n{}",
                self.log()
            );
            login(self, &credentials).await
        };
        self.token.get_or_init(init).await.clone()
    }

    /// A WebSocket URL carrying the default user's token as `?token=`.
    pub async fn ws_url_authed(&self, path: &str) -> String {
        format!("{}?token={}", self.ws_url(path), self.token().await)
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("rce.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                return self.child.wait().expect("waiting for rce");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rce {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// An HTTP client with a generous timeout (jobs can run for seconds).
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(90))
        .finish()
}

/// A request's answer: status, headers and the body parsed as JSON (`Null`
/// when it is not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

/// Sends `method url` with an optional bearer credential and JSON body.
pub async fn request(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut builder = client().request(method, url);
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    let mut response = match body {
        Some(body) => builder.send_json(body).await,
        None => builder.send().await,
    }
    .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.body().limit(64 * 1024 * 1024).await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// POSTs JSON without credentials; returns status and parsed body.
pub async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let reply = request("POST", url, None, Some(body)).await;
    (reply.status, reply.body)
}

/// POSTs JSON as the holder of `token`.
pub async fn post_json_as(token: &str, url: &str, body: &Value) -> (u16, Value) {
    let reply = request("POST", url, Some(token), Some(body)).await;
    (reply.status, reply.body)
}

/// POSTs raw bytes with a content type (and a credential, if given).
pub async fn post_raw_as(
    token: Option<&str>,
    url: &str,
    content_type: &str,
    body: &'static [u8],
) -> (u16, Value) {
    let mut builder = client()
        .post(url)
        .insert_header(("content-type", content_type));
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    let mut response = builder.send_body(body).await.expect("POST");
    let status = response.status().as_u16();
    let bytes = response.body().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// POSTs raw bytes with a content type, without credentials.
pub async fn post_raw(url: &str, content_type: &str, body: &'static [u8]) -> (u16, Value) {
    post_raw_as(None, url, content_type, body).await
}

/// GETs JSON without credentials (public routes); returns status and body.
pub async fn get_json(url: &str) -> (u16, Value) {
    let reply = request("GET", url, None, None).await;
    (reply.status, reply.body)
}

/// GETs a text body without credentials (`/metrics`); `None` when the
/// request fails (a sampler may ask while a process is still starting).
pub async fn get_text(url: &str) -> Option<String> {
    let mut response = client().get(url).send().await.ok()?;
    let body = response.body().limit(16 * 1024 * 1024).await.ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// GETs JSON as the holder of `token`.
pub async fn get_json_as(token: &str, url: &str) -> (u16, Value) {
    let reply = request("GET", url, Some(token), None).await;
    (reply.status, reply.body)
}

/// Logs in with `{username,password}` and returns the token.
async fn login(rce: &Rce, credentials: &Value) -> String {
    let (status, reply) = post_json(&rce.url("/api/v1/auth/login"), credentials).await;
    assert_eq!(status, 200, "login answered {reply}\n{}", rce.log());
    reply["token"].as_str().expect("token").to_string()
}

/// Registers a fresh user (random name) and returns its login token.
pub async fn register_and_login(rce: &Rce) -> String {
    let username = format!("user{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    register_and_login_as(rce, &username, "test password 1").await
}

/// Registers `username` with `password` and returns its login token.
pub async fn register_and_login_as(rce: &Rce, username: &str, password: &str) -> String {
    let credentials = serde_json::json!({"username": username, "password": password});
    let (status, reply) = post_json(&rce.url("/api/v1/auth/register"), &credentials).await;
    assert_eq!(status, 201, "register answered {reply}\n{}", rce.log());
    login(rce, &credentials).await
}

/// Submits a job as the default user and returns its id.
pub async fn submit(rce: &Rce, body: Value) -> String {
    submit_as(rce, &rce.token().await, body).await
}

/// Submits a job as the holder of `token` and returns its id.
pub async fn submit_as(rce: &Rce, token: &str, body: Value) -> String {
    let (status, reply) = post_json_as(token, &rce.url("/api/v1/submissions"), &body).await;
    assert_eq!(status, 202, "submit answered {reply}\n{}", rce.log());
    reply["id"].as_str().expect("id").to_string()
}

/// The default user's submission `id` as the API shows it (status, body).
pub async fn get_submission(rce: &Rce, id: &str) -> (u16, Value) {
    get_json_as(
        &rce.token().await,
        &rce.url(&format!("/api/v1/submissions/{id}")),
    )
    .await
}

/// Polls the default user's submission until it is completed (or panics
/// after `within`).
pub async fn wait_completed(rce: &Rce, id: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (status, submission) = get_submission(rce, id).await;
        assert_eq!(status, 200, "{submission}");
        if submission["status"] == "completed" {
            return submission;
        }
        assert!(
            started.elapsed() < within,
            "job {id} not completed within {within:?}: {submission}\n{}",
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `rce_compile_cache_lookups_total` of `language` and `outcome` (`hit`,
/// `miss`) on `rce` so far.
pub async fn compile_cache_lookups(rce: &Rce, language: &str, outcome: &str) -> u64 {
    counter(
        rce,
        &format!(r#"rce_compile_cache_lookups_total{{language="{language}",outcome="{outcome}"}}"#),
    )
    .await
}

/// `rce_preloaded_runs_total` of `language` on `rce` so far.
pub async fn preloaded_runs(rce: &Rce, language: &str) -> u64 {
    counter(
        rce,
        &format!(r#"rce_preloaded_runs_total{{language="{language}"}}"#),
    )
    .await
}

/// The value of the counter or gauge `series` (name and labels) on `rce`;
/// 0 before it was first set.
pub async fn counter(rce: &Rce, series: &str) -> u64 {
    let metrics = get_text(&rce.url("/metrics")).await.expect("GET /metrics");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .map_or(0, |value| value.trim().parse().expect("a counter value"))
}

/// A WebSocket connection to the API.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
}

impl WsClient {
    pub async fn connect(url: &str) -> WsClient {
        let (_, framed) = client()
            .ws(url)
            .max_frame_size(16 * 1024 * 1024)
            .connect()
            .await
            .expect("websocket connect");
        WsClient { framed }
    }

    pub async fn send(&mut self, frame: &Value) {
        self.framed
            .send(ws::Message::Text(frame.to_string().into()))
            .await
            .expect("websocket send");
    }

    /// The next JSON event (pings are answered), or `None` on close/timeout.
    pub async fn next_event(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            match frame.ok()? {
                ws::Frame::Text(bytes) => return serde_json::from_slice(&bytes).ok(),
                ws::Frame::Ping(bytes) => {
                    let _ = self.framed.send(ws::Message::Pong(bytes)).await;
                }
                ws::Frame::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Connects with `token` in the query and waits for `ready`, after
    /// which no event of the token's user is missed.
    pub async fn connect_authed(rce: &Rce, token: &str) -> WsClient {
        let mut ws = WsClient::connect(&rce.ws_url(&format!("/api/v1/ws?token={token}"))).await;
        let ready = ws.next_event(Duration::from_secs(10)).await;
        assert_eq!(
            ready.as_ref().map(|r| r["type"].clone()),
            Some(Value::from("ready")),
            "{ready:?}\n{}",
            rce.log()
        );
        ws
    }

    /// The code of the close frame the server sends (text frames and pings
    /// before it are skipped), or `None` if the socket ends without one.
    pub async fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            if let ws::Frame::Close(reason) = frame.ok()? {
                return reason.map(|reason| u16::from(reason.code));
            }
        }
    }

    /// Events until `finished` for job `id` (inclusive), or panics after `within`.
    pub async fn events_until_finished(&mut self, id: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .next_event(left)
                .await
                .unwrap_or_else(|| panic!("no finished event for {id}; got {events:?}"));
            let done = event["type"] == "finished" && event["id"] == id;
            events.push(event);
            if done {
                return events;
            }
        }
    }
}

/// Submits `body` over the socket and returns the job id from `queued`.
pub async fn submit_ws(ws: &mut WsClient, mut body: Value) -> String {
    let reference = uuid::Uuid::new_v4().to_string();
    body["type"] = json!("submit");
    body["ref"] = json!(reference);
    ws.send(&body).await;
    loop {
        let event = ws
            .next_event(Duration::from_secs(10))
            .await
            .expect("queued event");
        if event["type"] == "queued" && event["ref"] == reference.as_str() {
            return event["id"].as_str().expect("id").to_string();
        }
        assert_ne!(event["type"], "error", "{event}");
    }
}

/// A job's output as it arrives, read up to a needle at a time (one output
/// event may join what the program printed in several writes).
pub struct Transcript {
    id: String,
    unread: String,
}

impl Transcript {
    pub fn of(id: &str) -> Transcript {
        Transcript {
            id: id.to_string(),
            unread: String::new(),
        }
    }

    /// Reads events until the unread output contains `needle`, consumes it
    /// (with what precedes it) and says when it was seen.
    pub async fn until(&mut self, ws: &mut WsClient, needle: &str, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        loop {
            if let Some(at) = self.unread.find(needle) {
                self.unread.drain(..at + needle.len());
                return Instant::now();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let event = ws
                .next_event(left)
                .await
                .unwrap_or_else(|| panic!("no {needle:?}; unread {:?}", self.unread));
            if event["id"] != self.id.as_str() {
                continue;
            }
            assert_ne!(
                event["type"], "finished",
                "finished before {needle:?} appeared: {event}"
            );
            if event["type"] == "output" {
                self.unread += event["data"].as_str().unwrap_or_default();
            }
        }
    }
}

/// Containers (running or not) carrying this test's prefix label, except
/// idle warm-pool containers (made before any job; at most the pool size).
pub async fn containers_of(prefix: &str) -> Vec<String> {
    containers_on(&docker().await, prefix).await
}

/// The job containers (not warm ones) of `prefix` on the engine `docker`.
pub async fn containers_on(docker: &bollard::Docker, prefix: &str) -> Vec<String> {
    let filters = HashMap::from([("label", vec![format!("rce.prefix={prefix}")])]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .expect("listing containers")
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .is_none_or(|labels| !labels.contains_key("rce.warm"))
        })
        .filter_map(|c| c.id)
        .collect()
}

/// A Docker client for the engine the tests use (`DOCKER_HOST` from the
/// environment or `.rce/env`, else the default socket).
pub async fn docker() -> bollard::Docker {
    let docker = match service_env()
        .get("DOCKER_HOST")
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
    {
        Some(socket) => {
            bollard::Docker::connect_with_unix(&socket, 120, bollard::API_DEFAULT_VERSION)
        }
        None => bollard::Docker::connect_with_local_defaults(),
    }
    .expect("connecting to Docker; run `make test`");
    docker
        .negotiate_version()
        .await
        .expect("negotiating the Docker API version")
}

/// Waits until the prefix has no containers left (removal can trail the
/// result by a moment); returns those still there after `within`.
pub async fn containers_left(prefix: &str, within: Duration) -> Vec<String> {
    let started = Instant::now();
    loop {
        let left = containers_of(prefix).await;
        if left.is_empty() || started.elapsed() > within {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Unix-socket proxy in front of the Docker engine that a test can cut
/// (every connection dropped, new ones refused) and restore, to play "the
/// engine went away" without touching the shared engine.
pub struct DockerProxy {
    pub socket: PathBuf,
    target: PathBuf,
    state: std::sync::Arc<std::sync::Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    up: bool,
    connections: Vec<std::os::unix::net::UnixStream>,
    generation: u64,
}

impl DockerProxy {
    pub fn start() -> DockerProxy {
        let host = service_env()
            .get("DOCKER_HOST")
            .cloned()
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        let target = PathBuf::from(host.strip_prefix("unix://").expect("a unix DOCKER_HOST"));
        let socket =
            std::env::temp_dir().join(format!("rce-dproxy-{}.sock", uuid::Uuid::new_v4().simple()));
        let proxy = DockerProxy {
            socket,
            target,
            state: Default::default(),
        };
        proxy.restore();
        proxy
    }

    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Starts (again) accepting connections.
    pub fn restore(&self) {
        let listener =
            std::os::unix::net::UnixListener::bind(&self.socket).expect("binding the proxy socket");
        let generation = {
            let mut state = self.state.lock().unwrap();
            state.up = true;
            state.generation += 1;
            state.generation
        };
        let (state, target) = (self.state.clone(), self.target.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                {
                    let state = state.lock().unwrap();
                    if !state.up || state.generation != generation {
                        return;
                    }
                }
                let Ok(engine) = std::os::unix::net::UnixStream::connect(&target) else {
                    continue;
                };
                {
                    let mut state = state.lock().unwrap();
                    state.connections.push(client.try_clone().unwrap());
                    state.connections.push(engine.try_clone().unwrap());
                }
                let (mut c1, mut e1) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
                let (mut c2, mut e2) = (client, engine);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c1, &mut e1);
                    let _ = e1.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut e2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
            }
        });
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.up = false;
        for connection in state.connections.drain(..) {
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.socket);
        // Wake the accept loop so it sees it is down and exits.
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Why gVisor cannot be used here, or `None` when `/usr/bin/runsc` exists and
/// the engine lists a `runsc` runtime (tests then run with
/// `RCE_SANDBOX__RUNTIME=runsc`).
pub async fn runsc_unavailable() -> Option<String> {
    if !std::path::Path::new("/usr/bin/runsc").exists() {
        return Some("/usr/bin/runsc is not installed".into());
    }
    match docker().await.info().await {
        Ok(info)
            if info
                .runtimes
                .as_ref()
                .is_some_and(|r| r.contains_key("runsc")) =>
        {
            None
        }
        Ok(_) => Some("the Docker engine has no runsc runtime registered".into()),
        Err(error) => Some(format!("docker info failed: {error}")),
    }
}

/// Environment pairs for [`RceOptions::env`] and [`start_worker`].
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Worker settings that make recovery quick enough to test.
pub fn fast_recovery() -> Vec<(String, String)> {
    env(&[
        ("RCE_WORKER__CLAIM_IDLE_MS", "3000"),
        ("RCE_WORKER__REAP_INTERVAL_MS", "1000"),
        ("RCE_WORKER__TRIM_INTERVAL_MS", "1000"),
        ("RCE_WORKER__READ_BLOCK_MS", "500"),
    ])
}

/// A python job that sleeps `seconds` and prints `i`.
pub fn sleepy_job(i: usize, seconds: f64) -> serde_json::Value {
    serde_json::json!({"language": "python", "source": format!("import time\ntime.sleep({seconds})\nprint({i})")})
}

/// A fresh connection to `url`.
pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Entries pending in the workers group of `prefix`.
pub async fn pending_count(url: &str, prefix: &str) -> usize {
    let mut conn = redis_connection(url).await;
    let summary: (usize, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(format!("{prefix}:jobs"))
        .arg("workers")
        .query_async(&mut conn)
        .await
        .unwrap();
    summary.0
}

/// Sends `signal` (`-TERM`, `-KILL`) to `child`.
pub fn kill(child: &Child, signal: &str) {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
}

/// A redis-server of the test's own, on a free port, with appendonly (so a
/// restart keeps the stream and its group); stopped on drop.
pub struct OwnRedis {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("rce-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = OwnRedis {
            port,
            dir,
            child: None,
        };
        redis.spawn();
        redis
    }

    pub fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: writes not yet in the append-only file are lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&child, "-KILL");
            child.wait().unwrap();
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&child, "-TERM");
            child.wait().unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls the submission until it is running (panics after 30 s).
pub async fn wait_running(rce: &Rce, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, submission) = get_submission(rce, id).await;
        if submission["status"] == "running" {
            return;
        }
        assert!(Instant::now() < deadline, "job never started: {submission}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for every job of `ids` (in order) and asserts that job `i` printed
/// `i` (the jobs of [`sleepy_job`]).
pub async fn assert_each_printed_its_index(rce: &Rce, ids: &[String], within: Duration) {
    for (i, id) in ids.iter().enumerate() {
        let submission = wait_completed(rce, id, within).await;
        assert_eq!(
            submission["result"]["stdout"],
            format!("{i}\n"),
            "{submission}"
        );
    }
}

/// `ENV` of the Dockerfile's runtime stage, as key/value pairs.
pub fn dockerfile_env() -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let runtime = text
        .split("AS runtime")
        .nth(1)
        .expect("a stage named runtime");
    let joined = runtime.replace("\\\n", " ");
    let mut env = std::collections::BTreeMap::new();
    for line in joined.lines().filter(|l| l.starts_with("ENV ")) {
        for pair in line["ENV ".len()..].split_whitespace() {
            let (key, value) = pair.split_once('=').expect("ENV key=value");
            env.insert(key.to_string(), value.to_string());
        }
    }
    env
}
