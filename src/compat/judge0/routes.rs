//! The Judge0 CE 1.13.1 routes, mounted under `compat.judge0.prefix`:
//! submissions (single and batch, create and fetch, `wait`, `fields`,
//! `base64_encoded`), languages, statuses, `/about`, `/version`,
//! `/config_info`, `/system_info` and `/workers`. Submissions go through the
//! same [`Intake`](crate::actors::intake::Intake) as API v1 (quota, validation,
//! store, queue) and are read back from the store; the Judge0-only fields
//! live in Redis beside the job. Submissions need `X-Auth-Token` with an rce
//! API key (or login token); a user only ever sees their own tokens.

use super::error::Judge0Error;
use super::request::{
    self, Extras, Parsed, CPU_EXTRA_TIME, MAX_CPU_EXTRA_TIME, MAX_NUMBER_OF_RUNS,
};
use super::request::{MAX_STACK_LIMIT_KB, STACK_LIMIT_KB};
use super::tables::{language_by_id, LANGUAGES, STATUSES};
use super::view::{render, Fields};
use crate::actors::store::CompleteJob;
use crate::api_state::ApiState;
use crate::compat::auth;
use crate::compat::wait;
use crate::job::{Job, JobId, JobResult};
use crate::store::StoredJob;
use actix_web::{web, HttpRequest, HttpResponse};
use redis::streams::StreamInfoGroupsReply;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Duration;

/// The Judge0 version these routes reproduce.
pub const VERSION: &str = "1.13.1";

type Query = web::Query<HashMap<String, String>>;

/// The Judge0 scope under `prefix`.
pub fn scope(prefix: &str, max_body: usize) -> actix_web::Scope {
    web::scope(prefix.trim_end_matches('/'))
        .app_data(web::PayloadConfig::new(max_body))
        .route("/about", web::get().to(about))
        .route("/version", web::get().to(version))
        .route("/config_info", web::get().to(config_info))
        .route("/statuses", web::get().to(statuses))
        .route("/languages", web::get().to(languages))
        .route("/languages/all", web::get().to(languages))
        .route("/languages/{id}", web::get().to(language))
        .route("/system_info", web::get().to(system_info))
        .route("/workers", web::get().to(workers))
        .route("/submissions/batch", web::post().to(create_batch))
        .route("/submissions/batch", web::get().to(get_batch))
        .route("/submissions", web::post().to(create))
        .route("/submissions/{token}", web::get().to(get))
        .route("/authenticate", web::post().to(authenticate))
        .route("/authorize", web::post().to(authorize))
        // Never the editor's page: an unknown path here is Judge0's JSON 404.
        .default_service(web::to(no_route))
}

async fn no_route() -> Result<HttpResponse, Judge0Error> {
    Err(Judge0Error::NotFound("route"))
}

/// `POST /authenticate`: Judge0's check of an `X-Auth-Token` (header or
/// query): 200 with an empty body when it is a valid rce credential, else 401.
async fn authenticate(
    state: web::Data<ApiState>,
    request: HttpRequest,
) -> Result<HttpResponse, Judge0Error> {
    check_credential(&state, &request, auth::JUDGE0_HEADER).await
}

/// `POST /authorize`: Judge0's check of an `X-Auth-User` (header or query).
/// rce has one kind of credential, so the same check as `/authenticate`.
async fn authorize(
    state: web::Data<ApiState>,
    request: HttpRequest,
) -> Result<HttpResponse, Judge0Error> {
    check_credential(&state, &request, auth::JUDGE0_USER_HEADER).await
}

/// 200 when the credential named `name` (header or query) is valid.
async fn check_credential(
    state: &ApiState,
    request: &HttpRequest,
    name: &str,
) -> Result<HttpResponse, Judge0Error> {
    auth::user_of(&state.accounts, auth::judge0_value(request, name)).await?;
    Ok(HttpResponse::Ok().finish())
}

/// A `true`/`false` query flag (Judge0 also takes `1`).
fn flag(query: &Query, name: &str) -> bool {
    query.get(name).is_some_and(|v| v == "true" || v == "1")
}

fn fields(query: &Query) -> Result<Fields, Judge0Error> {
    Fields::parse(query.get("fields").map(String::as_str)).map_err(|unknown| {
        Judge0Error::BadRequest(format!("invalid fields: [{}]", unknown.join(", ")))
    })
}

fn json_body(body: &[u8]) -> Result<Value, Judge0Error> {
    serde_json::from_slice(body)
        .map_err(|e| Judge0Error::BadRequest(format!("the body is not JSON: {e}")))
}

async fn caller(state: &ApiState, request: &HttpRequest) -> Result<String, Judge0Error> {
    Ok(auth::user_of(&state.accounts, auth::judge0_credential(request)).await?)
}

/// Jobs waiting for a worker (the group's lag; the whole stream before any
/// worker made the group).
async fn waiting(state: &ApiState) -> Result<(u64, u64), Judge0Error> {
    let mut redis = state.redis.clone();
    let stream = state.keys.jobs_stream();
    let unavailable =
        |e: redis::RedisError| Judge0Error::Unavailable(format!("reading the queue: {e}"));
    let length: u64 = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut redis)
        .await
        .map_err(unavailable)?;
    if length == 0 {
        return Ok((0, 0));
    }
    let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&stream)
        .query_async(&mut redis)
        .await
        .map_err(unavailable)?;
    let group = groups.groups.iter().find(|g| g.name == state.keys.group());
    let lag = group.map_or(Some(length as usize), |g| g.lag).unwrap_or(0) as u64;
    Ok((lag, group.map_or(0, |g| g.pending as u64)))
}

/// Stores, records the Judge0 fields (and callback) and queues one checked
/// submission. If the Judge0 fields cannot be recorded the job is completed
/// as internal_error before it is queued, so it never runs half-registered.
async fn submit(state: &ApiState, user: &str, parsed: Parsed) -> Result<Job, Judge0Error> {
    let job = state.intake.accept(parsed.request, user).await?;
    let id = job.id.to_string();
    let extras = serde_json::to_string(&parsed.extras)
        .map_err(|e| Judge0Error::Unavailable(e.to_string()))?;
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg(state.keys.judge0_submission(&id))
        .arg(extras)
        .arg("EX")
        .arg(state.compat.judge0.metadata_ttl_secs.max(1))
        .ignore();
    if parsed.extras.callback_url.is_some() {
        pipe.cmd("HSET")
            .arg(state.keys.judge0_callbacks())
            .arg(&id)
            .arg(user)
            .ignore();
    }
    if let Err(error) = pipe.query_async::<()>(&mut state.redis.clone()).await {
        tracing::error!(job_id = %job.id, %error, "recording the Judge0 fields failed");
        let result = JobResult::internal_error("the Judge0 fields could not be recorded");
        let _ = state
            .intake
            .store
            .send(CompleteJob { id: job.id, result })
            .await;
        return Err(Judge0Error::Unavailable(format!(
            "recording the submission: {error}"
        )));
    }
    state.intake.enqueue(&job).await?;
    Ok(job)
}

/// The Judge0 fields of these jobs (`None` where absent or unreadable).
async fn extras_of(state: &ApiState, ids: &[JobId]) -> Vec<Option<Extras>> {
    if ids.is_empty() {
        return Vec::new();
    }
    let keys: Vec<String> = ids
        .iter()
        .map(|id| state.keys.judge0_submission(&id.to_string()))
        .collect();
    let values: Vec<Option<String>> = match redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut state.redis.clone())
        .await
    {
        Ok(values) => values,
        Err(error) => {
            tracing::warn!(%error, "reading Judge0 fields failed; showing defaults");
            vec![None; ids.len()]
        }
    };
    values
        .into_iter()
        .map(|v| v.and_then(|text| serde_json::from_str(&text).ok()))
        .collect()
}

/// The caller's job with this token, if it is theirs.
async fn owned(
    state: &ApiState,
    user: &str,
    token: &str,
) -> Result<Option<StoredJob>, Judge0Error> {
    let Ok(id) = token.parse::<JobId>() else {
        return Ok(None);
    };
    let stored = wait::load(&state.intake.store, id)
        .await
        .map_err(|e| Judge0Error::Unavailable(e.to_string()))?;
    Ok(stored.filter(|s| s.job.user_id == user))
}

async fn create(
    state: web::Data<ApiState>,
    request: HttpRequest,
    query: Query,
    body: web::Bytes,
) -> Result<HttpResponse, Judge0Error> {
    let user = caller(&state, &request).await?;
    let (base64, wait_for_it, fields) = (
        flag(&query, "base64_encoded"),
        flag(&query, "wait"),
        fields(&query)?,
    );
    let value = json_body(&body)?;
    let parsed = request::parse(&value, base64, &state.intake.bounds, &state.compat.judge0)
        .map_err(Judge0Error::Validate)?;
    if waiting(&state).await?.0 >= state.compat.judge0.max_queue_size {
        return Err(Judge0Error::QueueFull);
    }
    let extras = parsed.extras.clone();
    let job = submit(&state, &user, parsed).await?;
    if !wait_for_it {
        return Ok(HttpResponse::Created().json(json!({"token": job.id})));
    }
    let max = Duration::from_millis(state.http.max_wait_ms);
    let stored = wait::until_completed(&state.intake.store, job.id, max)
        .await
        .map_err(|e| Judge0Error::Unavailable(e.to_string()))?;
    let shown = render(
        &stored,
        Some(&extras),
        &state.intake.languages,
        base64,
        &fields,
    );
    Ok(HttpResponse::Created().json(shown))
}

async fn get(
    state: web::Data<ApiState>,
    request: HttpRequest,
    token: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, Judge0Error> {
    let user = caller(&state, &request).await?;
    let fields = fields(&query)?;
    let stored = owned(&state, &user, &token)
        .await?
        .ok_or(Judge0Error::NotFound("submission"))?;
    let extras = extras_of(&state, &[stored.job.id]).await.pop().flatten();
    let shown = render(
        &stored,
        extras.as_ref(),
        &state.intake.languages,
        flag(&query, "base64_encoded"),
        &fields,
    );
    Ok(HttpResponse::Ok().json(shown))
}

async fn create_batch(
    state: web::Data<ApiState>,
    request: HttpRequest,
    query: Query,
    body: web::Bytes,
) -> Result<HttpResponse, Judge0Error> {
    let user = caller(&state, &request).await?;
    let base64 = flag(&query, "base64_encoded");
    let value = json_body(&body)?;
    let Some(items) = value.get("submissions").and_then(Value::as_array) else {
        return Err(Judge0Error::BadRequest(
            "the body must be {\"submissions\": [...]}".into(),
        ));
    };
    let max = state.compat.judge0.max_batch_size;
    if items.is_empty() || items.len() > max {
        let mut errors = request::FieldErrors::new();
        errors.insert(
            "submissions".into(),
            vec![format!("a batch holds 1 to {max} submissions")],
        );
        return Err(Judge0Error::Validate(errors));
    }
    let (waiting_now, _) = waiting(&state).await?;
    if waiting_now + items.len() as u64 > state.compat.judge0.max_queue_size {
        return Err(Judge0Error::QueueFull);
    }
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        let answer = match request::parse(item, base64, &state.intake.bounds, &state.compat.judge0)
        {
            Err(errors) => json!(errors),
            Ok(parsed) => match submit(&state, &user, parsed).await {
                Ok(job) => json!({"token": job.id}),
                Err(Judge0Error::Validate(errors)) => json!(errors),
                Err(error) => json!({"error": error.to_string()}),
            },
        };
        answers.push(answer);
    }
    Ok(HttpResponse::Created().json(answers))
}

async fn get_batch(
    state: web::Data<ApiState>,
    request: HttpRequest,
    query: Query,
) -> Result<HttpResponse, Judge0Error> {
    let user = caller(&state, &request).await?;
    let fields = fields(&query)?;
    let base64 = flag(&query, "base64_encoded");
    let tokens: Vec<&str> = query
        .get("tokens")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if tokens.is_empty() || tokens.len() > state.compat.judge0.max_batch_size {
        return Err(Judge0Error::BadRequest(format!(
            "tokens must list 1 to {} tokens",
            state.compat.judge0.max_batch_size
        )));
    }
    let mut found = Vec::with_capacity(tokens.len());
    for token in &tokens {
        found.push(owned(&state, &user, token).await?);
    }
    let ids: Vec<JobId> = found.iter().flatten().map(|s| s.job.id).collect();
    let mut extras = extras_of(&state, &ids).await.into_iter();
    let submissions: Vec<Value> = found
        .iter()
        .map(|stored| match stored {
            None => Value::Null,
            Some(stored) => {
                let extra = extras.next().flatten();
                Value::Object(render(
                    stored,
                    extra.as_ref(),
                    &state.intake.languages,
                    base64,
                    &fields,
                ))
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"submissions": submissions})))
}

async fn about() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "version": VERSION,
        "homepage": "https://judge0.com",
        "source_code": "https://github.com/judge0/judge0",
        "maintainer": "rce (Judge0 CE 1.13.1 compatible API)",
    }))
}

async fn version() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body(VERSION)
}

async fn statuses() -> HttpResponse {
    let list: Vec<Value> = STATUSES
        .iter()
        .map(|s| json!({"id": s.id, "description": s.description}))
        .collect();
    HttpResponse::Ok().json(list)
}

fn language_name(state: &ApiState, id: u32) -> Option<(String, &'static str)> {
    let mapped = language_by_id(id)?;
    let version = state.intake.languages.get(mapped.language)?.version.clone();
    Some((mapped.label.replace("{}", &version), mapped.language))
}

async fn languages(state: web::Data<ApiState>) -> HttpResponse {
    let mut list: Vec<(String, u32)> = LANGUAGES
        .iter()
        .filter_map(|l| language_name(&state, l.id).map(|(name, _)| (name, l.id)))
        .collect();
    list.sort();
    let list: Vec<Value> = list
        .into_iter()
        .map(|(name, id)| json!({"id": id, "name": name}))
        .collect();
    HttpResponse::Ok().json(list)
}

async fn language(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Judge0Error> {
    let id: u32 = id.parse().map_err(|_| Judge0Error::NotFound("language"))?;
    let (name, rce_id) = language_name(&state, id).ok_or(Judge0Error::NotFound("language"))?;
    let language = state
        .intake
        .languages
        .get(rce_id)
        .ok_or(Judge0Error::NotFound("language"))?;
    Ok(HttpResponse::Ok().json(json!({
        "id": id,
        "name": name,
        "is_archived": false,
        "source_file": language.file,
        "compile_cmd": language.compile.as_ref().map(|argv| argv.join(" ")),
        "run_cmd": language.run.join(" "),
    })))
}

async fn config_info(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(config_document(&state))
}

/// Every key Judge0 CE 1.13.1 reports, typed as Judge0 types them, with
/// rce's values.
fn config_document(state: &ApiState) -> Map<String, Value> {
    let (default, max) = (
        state.intake.bounds.default_limits,
        state.intake.bounds.max_limits,
    );
    let judge0 = &state.compat.judge0;
    let seconds = |ms: u64| ms as f64 / 1000.0;
    let mut config = Map::new();
    let mut put = |key: &str, value: Value| {
        config.insert(key.to_string(), value);
    };
    put("maintenance_mode", json!(false));
    put("enable_wait_result", json!(true));
    put("enable_compiler_options", json!(true));
    put("allowed_languages_for_compile_options", json!([]));
    put("enable_command_line_arguments", json!(true));
    put("enable_submission_delete", json!(false));
    put("enable_callbacks", json!(judge0.callbacks_enabled()));
    put("callbacks_max_tries", json!(judge0.callback_max_tries));
    put("callbacks_timeout", json!(judge0.callback_timeout_secs));
    put("enable_additional_files", json!(false));
    put("max_queue_size", json!(judge0.max_queue_size));
    put("cpu_time_limit", json!(seconds(default.time_ms)));
    put("max_cpu_time_limit", json!(seconds(max.time_ms)));
    put("cpu_extra_time", json!(CPU_EXTRA_TIME));
    put("max_cpu_extra_time", json!(MAX_CPU_EXTRA_TIME));
    put(
        "wall_time_limit",
        json!(seconds(default.wall_ms.max(default.time_ms * 2))),
    );
    put("max_wall_time_limit", json!(seconds(max.wall_ms)));
    put("memory_limit", json!(default.memory_mb * 1024));
    put("max_memory_limit", json!(max.memory_mb * 1024));
    put("stack_limit", json!(STACK_LIMIT_KB));
    put("max_stack_limit", json!(MAX_STACK_LIMIT_KB));
    put("max_processes_and_or_threads", json!(default.pids));
    put("max_max_processes_and_or_threads", json!(max.pids));
    put("enable_per_process_and_thread_time_limit", json!(false));
    put(
        "allow_enable_per_process_and_thread_time_limit",
        json!(true),
    );
    put("enable_per_process_and_thread_memory_limit", json!(false));
    put(
        "allow_enable_per_process_and_thread_memory_limit",
        json!(true),
    );
    put("max_file_size", json!(default.output_kb));
    put("max_max_file_size", json!(max.output_kb));
    put("number_of_runs", json!(1));
    put("max_number_of_runs", json!(MAX_NUMBER_OF_RUNS));
    put("redirect_stderr_to_stdout", json!(false));
    put("max_extract_size", json!(0));
    put("enable_batched_submissions", json!(true));
    put("max_submission_batch_size", json!(judge0.max_batch_size));
    put(
        "submission_cache_duration",
        json!(judge0.metadata_ttl_secs as f64),
    );
    put("use_docs_as_homepage", json!(false));
    put("allow_enable_network", json!(false));
    put("enable_network", json!(false));
    config
}

async fn system_info(
    state: web::Data<ApiState>,
    request: HttpRequest,
) -> Result<HttpResponse, Judge0Error> {
    caller(&state, &request).await?;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = |key: &str| {
        meminfo
            .lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim_start_matches(':').trim().to_string())
            })
            .unwrap_or_default()
    };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Ok(HttpResponse::Ok().json(json!({
        "Architecture": std::env::consts::ARCH,
        "CPU(s)": cpus.to_string(),
        "Model name": model,
        "Mem": mem("MemTotal"),
        "Swap": mem("SwapTotal"),
    })))
}

async fn workers(
    state: web::Data<ApiState>,
    request: HttpRequest,
) -> Result<HttpResponse, Judge0Error> {
    caller(&state, &request).await?;
    let (lag, pending) = waiting(&state).await?;
    Ok(HttpResponse::Ok().json(json!([{
        "queue": VERSION,
        "size": lag,
        "available": 0,
        "idle": 0,
        "working": pending,
        "paused": 0,
        "failed": 0,
    }])))
}
