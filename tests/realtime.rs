//! The real-time layer end to end, against real Redis, Docker and
//! containers, over real WebSockets: live output, interactive stdin (also
//! across processes), kill, watch after a reconnect, authentication, user
//! isolation, the heartbeat, and a client that stops reading.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Child;
use std::time::{Duration, Instant};

const JOB_WAIT: Duration = Duration::from_secs(60);

/// Registers `username` and returns its login token.
async fn account(rce: &Rce, username: &str) -> String {
    register_and_login_as(rce, username, "a password for tests").await
}

/// The concatenated stdout of a job's `output` events.
fn stdout_of(events: &[Value], id: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "output" && e["id"] == id && e["stream"] == "stdout")
        .map(|e| e["data"].as_str().unwrap_or_default())
        .collect()
}

/// A worker process, stopped with SIGTERM (then killed) when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of a process, in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A program printing a line every 200 ms shows up as separate `output`
/// events, one per line, spread over the run and all before `finished`.
#[actix_rt::test]
async fn output_arrives_live_as_separate_events() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let source = "import time\nfor i in range(5):\n    print(f'line {i}')\n    time.sleep(0.2)\n";
    let id = submit_ws(&mut ws, json!({"language": "python", "source": source})).await;
    let mut arrivals = Vec::new();
    let deadline = Instant::now() + JOB_WAIT;
    let events = loop {
        let event = ws
            .next_event(deadline - Instant::now())
            .await
            .expect("events until finished");
        if event["id"] != id.as_str() {
            continue;
        }
        arrivals.push((Instant::now(), event.clone()));
        if event["type"] == "finished" {
            break arrivals;
        }
    };
    let outputs: Vec<&(Instant, Value)> = events
        .iter()
        .filter(|(_, e)| e["type"] == "output")
        .collect();
    assert_eq!(outputs.len(), 5, "one event per line: {events:?}");
    for (i, (_, event)) in outputs.iter().enumerate() {
        assert_eq!(event["data"], format!("line {i}\n"));
    }
    let spread = outputs[4].0 - outputs[0].0;
    assert!(
        spread >= Duration::from_millis(600),
        "the lines arrived together ({spread:?}), not live"
    );
    let (_, finished) = events.last().unwrap();
    assert_eq!(finished["result"]["verdict"], "ok", "{finished}");
    assert_eq!(
        finished["result"]["stdout"],
        "line 0\nline 1\nline 2\nline 3\nline 4\n"
    );
}

/// An interactive Python program asks for a name with input(); the client
/// answers after seeing the prompt and the program greets that name.
#[actix_rt::test]
async fn interactive_program_greets_the_name_typed() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let source = "name = input('What is your name? ')\nprint(f'Hello, {name}!')\n";
    let body = json!({"language": "python", "source": source, "interactive": true});
    let id = submit_ws(&mut ws, body).await;
    let mut out = Transcript::of(&id);
    out.until(&mut ws, "What is your name? ", JOB_WAIT).await;
    let sent = Instant::now();
    ws.send(&json!({"type": "stdin", "id": id, "data": "Ada\n"}))
        .await;
    let greeted = out
        .until(&mut ws, "Hello, Ada!", Duration::from_secs(10))
        .await;
    eprintln!(
        "stdin → greeting round trip (one process): {:?}",
        greeted - sent
    );
    let events = ws.events_until_finished(&id, JOB_WAIT).await;
    let finished = events.last().unwrap();
    assert_eq!(finished["result"]["verdict"], "ok", "{finished}");
    assert_eq!(
        finished["result"]["stdout"],
        "What is your name? Hello, Ada!\n"
    );
}

/// A WebSocket `submit` frame is read as strictly as the HTTP body: an
/// array where an object belongs is an `error` naming the field and its
/// place, for that frame's `ref`, and the socket stays usable.
#[actix_rt::test]
async fn a_submit_frame_of_the_wrong_shape_is_an_error_naming_the_field() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    ws.send(&json!({
        "type": "submit", "ref": "bad", "language": "python",
        "files": [["main.py", "print(1)"]],
    }))
    .await;
    let reply = ws
        .next_event(Duration::from_secs(10))
        .await
        .expect("a reply");
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "files", "{reply}");
    assert_eq!(reply["ref"], "bad", "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("files[0]: must be an object")),
        "{reply}"
    );
    let id = submit_ws(&mut ws, json!({"language": "python", "source": "print(2)"})).await;
    let events = ws.events_until_finished(&id, JOB_WAIT).await;
    assert_eq!(events.last().unwrap()["result"]["stdout"], "2\n");
}

/// A program calling input() twice is driven line by line, each answer
/// sent only after its prompt; then end of input is sent explicitly and the
/// program sees EOF on a third read.
#[actix_rt::test]
async fn two_inputs_driven_line_by_line_then_eof() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let source = "a = int(input('a? '))\nb = int(input('b? '))\nprint('sum', a + b)\nimport sys\nprint('rest', repr(sys.stdin.read()))\n";
    let id = submit_ws(
        &mut ws,
        json!({"language": "python", "source": source, "interactive": true}),
    )
    .await;
    let mut out = Transcript::of(&id);
    out.until(&mut ws, "a? ", JOB_WAIT).await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "2\n"}))
        .await;
    out.until(&mut ws, "b? ", Duration::from_secs(10)).await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "40\n"}))
        .await;
    out.until(&mut ws, "sum 42", Duration::from_secs(10)).await;
    ws.send(&json!({"type": "stdin", "id": id, "eof": true}))
        .await;
    let events = ws.events_until_finished(&id, Duration::from_secs(20)).await;
    let finished = events.last().unwrap();
    assert_eq!(finished["result"]["verdict"], "ok", "{finished}");
    assert_eq!(finished["result"]["stdout"], "a? b? sum 42\nrest ''\n");
}

/// Input sent right after `queued`, before the container exists, is not
/// lost: it waits in Redis and reaches the program when it starts.
#[actix_rt::test]
async fn stdin_sent_before_the_job_starts_is_delivered() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let source = "import sys\nprint(sys.stdin.read().upper(), end='')\n";
    let id = submit_ws(
        &mut ws,
        json!({"language": "python", "source": source, "interactive": true}),
    )
    .await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "early "}))
        .await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "bird", "eof": true}))
        .await;
    let events = ws.events_until_finished(&id, JOB_WAIT).await;
    let finished = events.last().unwrap();
    assert_eq!(finished["result"]["stdout"], "EARLY BIRD", "{events:?}");
}

/// Two API processes and one worker process: a client on the second API
/// process drives an interactive job through Redis and gets all of its
/// events; a second user connected at the same time (to both API
/// processes) gets none of them and may not watch, feed or kill the job.
#[actix_rt::test]
async fn events_and_stdin_cross_processes_and_stay_with_their_user() {
    let first = start_rce_with(RceOptions {
        role: "api",
        ..RceOptions::default()
    });
    let share = Some((first.prefix.clone(), first.dir.clone()));
    let second = start_rce_with(RceOptions {
        role: "api",
        share_with: share,
        ..RceOptions::default()
    });
    let _worker = Worker(start_worker(&first, vec![]));
    // Both API processes share the store: one account works on either.
    let (alice, bob) = (account(&first, "alice").await, account(&first, "bob").await);
    let mut alice = WsClient::connect_authed(&second, &alice).await;
    let mut bob_first = WsClient::connect_authed(&first, &bob).await;
    let mut bob_second = WsClient::connect_authed(&second, &bob).await;

    let source = "for i in range(3):\n    line = input(f'{i}> ')\n    print(line[::-1])\n";
    let id = submit_ws(
        &mut alice,
        json!({"language": "python", "source": source, "interactive": true}),
    )
    .await;
    let mut out = Transcript::of(&id);
    let mut latencies = Vec::new();
    for (i, word) in ["alpha", "bravo", "charlie"].iter().enumerate() {
        out.until(&mut alice, &format!("{i}> "), JOB_WAIT).await;
        // A person takes a moment to answer; the output that follows a
        // quiet spell is published at once, so this measures the transport.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sent = Instant::now();
        alice
            .send(&json!({"type": "stdin", "id": id, "data": format!("{word}\n")}))
            .await;
        let reversed: String = word.chars().rev().collect();
        let seen = out
            .until(&mut alice, &reversed, Duration::from_secs(10))
            .await;
        latencies.push(seen - sent);
    }
    eprintln!("stdin → output round trips across processes (API → Redis → worker → Redis → API): {latencies:?}");
    let events = alice.events_until_finished(&id, JOB_WAIT).await;
    assert_eq!(
        events.last().unwrap()["result"]["stdout"],
        "0> ahpla\n1> ovarb\n2> eilrahc\n"
    );

    // Bob may not touch Alice's job, from either process.
    for bob in [&mut bob_first, &mut bob_second] {
        for frame in [
            json!({"type": "watch", "id": id}),
            json!({"type": "kill", "id": id}),
            json!({"type": "stdin", "id": id, "data": "x"}),
        ] {
            bob.send(&frame).await;
            let reply = bob
                .next_event(Duration::from_secs(10))
                .await
                .expect("a reply");
            assert_eq!(reply["type"], "error", "{reply}");
            assert!(
                reply["code"] == "not_found" || reply["code"] == "job.finished",
                "{reply}"
            );
            assert!(reply.get("result").is_none());
        }
        // Nothing of Alice's job ever reached Bob.
        while let Some(event) = bob.next_event(Duration::from_millis(500)).await {
            assert_ne!(event["id"], id.as_str(), "bob saw alice's event {event}");
        }
    }
    // And Bob's own job reaches Bob, not Alice.
    let bobs = submit_ws(
        &mut bob_first,
        json!({"language": "python", "source": "print('bob')"}),
    )
    .await;
    bob_first.events_until_finished(&bobs, JOB_WAIT).await;
    while let Some(event) = alice.next_event(Duration::from_millis(500)).await {
        assert_ne!(event["id"], bobs.as_str(), "alice saw bob's event {event}");
    }
}

/// A browser that reconnects in the middle of a run and watches its job
/// gets the current state at once, the output printed so far (also while it
/// was away) replayed, then the remaining output live and the result: every
/// output event once, in order.
#[actix_rt::test]
async fn reconnect_and_watch_resumes_mid_run() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let source = "import time\nfor i in range(10):\n    print(i)\n    time.sleep(0.25)\n";
    let id = submit_ws(&mut ws, json!({"language": "python", "source": source})).await;
    let mut out = Transcript::of(&id);
    out.until(&mut ws, "1\n", JOB_WAIT).await;
    drop(ws);
    // Output printed while no client is connected.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    ws.send(&json!({"type": "watch", "id": id})).await;
    let state = ws.next_event(Duration::from_secs(10)).await.expect("state");
    assert_eq!(state["type"], "started", "the job is running: {state}");
    assert_eq!(state["id"], id.as_str());
    let events = ws.events_until_finished(&id, JOB_WAIT).await;
    let seqs: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "output")
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "replay then live, no gap or duplicate"
    );
    assert_eq!(
        stdout_of(&events, &id),
        "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n",
        "{events:?}"
    );
    let finished = events.last().unwrap();
    assert_eq!(
        finished["result"]["stdout"],
        "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"
    );

    // Watching a finished job gives its result at once.
    ws.send(&json!({"type": "watch", "id": id})).await;
    let state = ws.next_event(Duration::from_secs(10)).await.expect("state");
    assert_eq!(state["type"], "finished", "{state}");
    assert_eq!(state["result"]["verdict"], "ok");
}

/// A bad token in the query, a first frame that is not `auth`, an `auth`
/// frame with a bad token and a tampered login token are each closed with
/// 1008 before any event; an API key in the query and a good token in the
/// first frame are accepted.
#[actix_rt::test]
async fn bad_tokens_are_refused_with_policy_violation() {
    let rce = start_rce();
    let mut ws = WsClient::connect(&rce.ws_url("/api/v1/ws?token=forged")).await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(1008));

    let mut ws = WsClient::connect(&rce.ws_url("/api/v1/ws")).await;
    ws.send(&json!({"type": "submit", "language": "python", "source": "print(1)"}))
        .await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(1008));

    let mut ws = WsClient::connect(&rce.ws_url("/api/v1/ws")).await;
    ws.send(&json!({"type": "auth", "token": "forged"})).await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(1008));

    // A real token with its signature tampered with.
    let mut tampered = rce.token().await;
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(tampered.len() - 1.., last);
    let mut ws = WsClient::connect(&rce.ws_url(&format!("/api/v1/ws?token={tampered}"))).await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(1008));

    // An API key is accepted like a login token.
    let created = request(
        "POST",
        &rce.url("/api/v1/keys"),
        Some(&rce.token().await),
        Some(&json!({"name": "ws"})),
    )
    .await;
    let key = created.body["key"]
        .as_str()
        .expect("an API key")
        .to_string();
    WsClient::connect_authed(&rce, &key).await;

    let mut ws = WsClient::connect(&rce.ws_url("/api/v1/ws")).await;
    ws.send(&json!({"type": "auth", "token": rce.token().await}))
        .await;
    let ready = ws.next_event(Duration::from_secs(10)).await.expect("ready");
    assert_eq!(ready["type"], "ready", "{ready}");
    let id = submit_ws(&mut ws, json!({"language": "python", "source": "print(7)"})).await;
    let events = ws.events_until_finished(&id, JOB_WAIT).await;
    assert_eq!(events.last().unwrap()["result"]["stdout"], "7\n");
}

/// A connection that never authenticates is closed with 1008 when its
/// authentication time is up.
#[actix_rt::test]
async fn unauthenticated_connection_times_out() {
    let rce = start_rce_with(RceOptions {
        env: vec![("RCE_WS__AUTH_TIMEOUT_MS".into(), "500".into())],
        ..RceOptions::default()
    });
    let mut ws = WsClient::connect(&rce.ws_url("/api/v1/ws")).await;
    let started = Instant::now();
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(1008));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A kill stops a running program at once with a clear verdict
/// (runtime_error, signal 9, "stopped on request") and keeps the output it
/// printed; a kill sent right after `queued` stops the job too.
#[actix_rt::test]
async fn kill_stops_the_program_with_a_clear_verdict() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let source = "import time\nprint('working', flush=True)\nwhile True: time.sleep(0.1)\n";
    let id = submit_ws(
        &mut ws,
        json!({"language": "python", "source": source, "limits": {"wall_ms": 30000}}),
    )
    .await;
    let mut out = Transcript::of(&id);
    out.until(&mut ws, "working", JOB_WAIT).await;
    let sent = Instant::now();
    ws.send(&json!({"type": "kill", "id": id})).await;
    let events = ws.events_until_finished(&id, Duration::from_secs(10)).await;
    let took = sent.elapsed();
    let result = &events.last().unwrap()["result"];
    assert_eq!(result["verdict"], "runtime_error", "{result}");
    assert_eq!(result["signal"], 9);
    assert_eq!(result["message"], "stopped on request");
    assert_eq!(result["stdout"], "working\n");
    assert!(took < Duration::from_secs(3), "kill took {took:?}");
    eprintln!("kill → finished: {took:?}");

    let id = submit_ws(&mut ws, json!({"language": "python", "source": "import time\ntime.sleep(20)\n", "limits": {"wall_ms": 30000}})).await;
    ws.send(&json!({"type": "kill", "id": id})).await;
    let events = ws.events_until_finished(&id, Duration::from_secs(20)).await;
    let result = &events.last().unwrap()["result"];
    assert_eq!(result["verdict"], "runtime_error", "{result}");
    assert!(
        result["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("stopped on request"),
        "{result}"
    );
    assert!(containers_left(&rce.prefix, Duration::from_secs(5))
        .await
        .is_empty());
}

/// A peer that never answers pings is dropped after the client timeout
/// (shortened through configuration); one that answers stays.
#[actix_rt::test]
async fn silent_peer_is_dropped_by_the_heartbeat() {
    let env = vec![
        ("RCE_WS__HEARTBEAT_MS".into(), "200".into()),
        ("RCE_WS__CLIENT_TIMEOUT_MS".into(), "1000".into()),
    ];
    let rce = start_rce_with(RceOptions {
        env,
        ..RceOptions::default()
    });
    let mut silent = WsClient::connect_authed(&rce, &rce.token().await).await;
    let mut lively = WsClient::connect_authed(&rce, &rce.token().await).await;
    // The lively client answers pings (next_event does) for 2.5 s; the
    // silent one reads nothing meanwhile.
    assert!(lively
        .next_event(Duration::from_millis(2500))
        .await
        .is_none());
    assert_eq!(
        silent.close_code(Duration::from_secs(5)).await,
        Some(1001),
        "closed as gone away"
    );
    assert!(rce.log().contains("client timed out"), "{}", rce.log());
    let id = submit_ws(
        &mut lively,
        json!({"language": "python", "source": "print('still here')"}),
    )
    .await;
    lively.events_until_finished(&id, JOB_WAIT).await;
}

/// A client that stops reading while programs print a lot (2 × 12 MiB)
/// cannot grow the API process's memory by that much: its output events are
/// dropped beyond the session's budget. When it resumes reading in time it
/// learns how many were dropped (`lagged`) and still gets both `finished`
/// events with the full output. Another session of the same user, reading
/// normally, is not held back.
#[actix_rt::test]
async fn stalled_reader_is_bounded_and_still_gets_finished() {
    // Large blocks always come from (and go back to) mmap, so the resident
    // size shows what is held, not what glibc keeps in its arenas.
    let malloc = vec![("MALLOC_MMAP_THRESHOLD_".to_string(), "65536".to_string())];
    let api = start_rce_with(RceOptions {
        role: "api",
        env: malloc.clone(),
        ..RceOptions::default()
    });
    // The reader watches from another API process: the same events pass
    // through both, but only `api` has a client that stops reading, so the
    // other is the yardstick for what the traffic itself costs.
    let share = Some((api.prefix.clone(), api.dir.clone()));
    let other = start_rce_with(RceOptions {
        role: "api",
        env: malloc,
        share_with: share,
    });
    let _worker = Worker(start_worker(&api, vec![]));
    let mut stalled = WsClient::connect_authed(&api, &api.token().await).await;
    let mut reader = WsClient::connect_authed(&other, &other.token().await).await;
    let mib = 12;
    let source = format!("import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range({mib} * 1024):\n    sys.stdout.write(line)\n");
    let body = json!({"language": "python", "source": source, "limits": {"output_kb": 16384}});
    let ids = [
        submit_ws(&mut stalled, body.clone()).await,
        submit_ws(&mut stalled, body).await,
    ];

    // `stalled` reads nothing from here on; sample the API's memory while
    // the reader follows both jobs to their end, and once they are over.
    let (pid, other_pid) = (api.child.id(), other.child.id());
    let (baseline, other_baseline) = (rss_kb(pid), rss_kb(other_pid));
    let mut peak = baseline;
    let mut finished = 0;
    let deadline = Instant::now() + JOB_WAIT;
    while finished < 2 {
        let event = reader
            .next_event(deadline - Instant::now())
            .await
            .expect("the reader sees both jobs finish");
        if event["type"] == "finished" {
            assert_eq!(
                event["result"]["stdout"].as_str().map(str::len),
                Some(mib * 1024 * 1024),
                "full output"
            );
            finished += 1;
        }
        peak = peak.max(rss_kb(pid));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (settled, other_settled) = (rss_kb(pid), rss_kb(other_pid));
    let over = |kb: u64, from: u64| kb.saturating_sub(from) as f64 / 1024.0;
    let (grown, other_grown) = (over(settled, baseline), over(other_settled, other_baseline));
    eprintln!(
        "API RSS while 2 × {mib} MiB of output and results went to a client that stopped reading: \
         +{grown:.1} MiB after the jobs (peak +{:.1} MiB); the API whose client read it all: +{other_grown:.1} MiB",
        over(peak, baseline)
    );
    // Holding the stalled client's output and results would be ≥ 48 MiB
    // more than the reading client's process.
    assert!(
        grown < other_grown + 8.0,
        "the API holds {grown:.1} MiB for a stalled client (yardstick {other_grown:.1} MiB)"
    );

    // The stalled client resumes: some output was dropped and said so, both
    // results arrive complete, each after its job's last output event.
    let mut events = Vec::new();
    let mut left: Vec<&String> = ids.iter().collect();
    let deadline = Instant::now() + JOB_WAIT;
    while !left.is_empty() {
        let event = stalled
            .next_event(deadline - Instant::now())
            .await
            .expect("finished still arrives");
        if event["type"] == "finished" {
            left.retain(|id| event["id"] != id.as_str());
        }
        events.push(event);
    }
    let lagged: u64 = events
        .iter()
        .filter(|e| e["type"] == "lagged")
        .map(|e| e["dropped"].as_u64().unwrap_or(0))
        .sum();
    let received: usize = events
        .iter()
        .filter(|e| e["type"] == "output")
        .map(|e| e["data"].as_str().unwrap_or_default().len())
        .sum();
    eprintln!(
        "stalled client: {received} bytes of output events received, {lagged} events dropped"
    );
    assert!(lagged > 0, "output was dropped and the client was told");
    assert!(received < 2 * mib * 1024 * 1024);
    for id in &ids {
        let position = |kind: &str| {
            events
                .iter()
                .rposition(|e| e["type"] == kind && e["id"] == id.as_str())
        };
        let finished = position("finished").expect("finished");
        assert_eq!(
            events[finished]["result"]["stdout"].as_str().map(str::len),
            Some(mib * 1024 * 1024)
        );
        assert!(
            position("output").is_none_or(|last_output| last_output < finished),
            "finished after the last output"
        );
    }
}
