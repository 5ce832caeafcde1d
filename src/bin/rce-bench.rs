//! `rce-bench`: starts its own rce (a release build), drives it over HTTP and
//! WebSocket and prints the benchmark table with each figure's ratio to the
//! floor (bare Engine API containers), plus the goals met or missed; writes
//! the report as JSON. Run it with `make bench`.

use clap::Parser;
use rce::bench::{figures, goals, report::render, run, BenchOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rce-bench",
    about = "Benchmark a real rce against the bare-container floor"
)]
struct Cli {
    /// The rce binary to benchmark.
    #[arg(long, default_value = "target/release/rce")]
    rce_bin: PathBuf,
    /// Where the JSON report goes.
    #[arg(long, default_value = "artifacts/bench.json")]
    out: PathBuf,
    /// Fewer samples: a smoke run, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Worker slots of the started rce.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Idle WebSockets for the memory figure.
    #[arg(long, default_value_t = 1000)]
    websockets: usize,
    /// Run only the fairness phase (B's hello behind A's backlog).
    #[arg(long)]
    fairness_only: bool,
    /// Extra environment for the started rce, KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_pair)]
    env: Vec<(String, String)>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "expected KEY=VALUE".into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // unwrap-free: a failure to raise the limit only caps the WebSocket count.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let options = BenchOptions {
        rce_bin: cli.rce_bin,
        out: cli.out.clone(),
        quick: cli.quick,
        concurrency: cli.concurrency,
        websockets: cli.websockets,
        env: cli.env,
        fairness_only: cli.fairness_only,
    };
    match actix_rt::System::new().block_on(run(options)) {
        Ok(report) => {
            let only = |name: &str| !cli.fairness_only || name.starts_with("fairness");
            let rows: Vec<_> = figures(&report)
                .into_iter()
                .filter(|row| only(&row.name))
                .collect();
            println!("{}", render(&rows));
            for (goal, met) in goals(&report).into_iter().filter(|(goal, _)| only(goal)) {
                println!("{} {goal}", if met { "met   " } else { "MISSED" });
            }
            println!("\nreport written to {}", cli.out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rce-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
