//! The `rce` binary: parses the command line, initialises logging, loads the
//! configuration and hands over to [`rce::app::run`].

use clap::{Parser, Subcommand};
use rce::app::Role;
use rce::config::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rce",
    version,
    about = "Remote code execution in fresh, locked-down containers"
)]
struct Cli {
    /// Configuration file (TOML); missing is fine, defaults and RCE_* apply.
    #[arg(long, global = true, default_value = "rce.toml", env = "RCE_CONFIG")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Which half to run: api (HTTP, WebSocket, Pub/Sub bridge), worker
        /// (stream consumer, worker pool) or all.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("rce: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    rce::app::init_tracing(&settings.log);
    match cli.command {
        Command::Serve { role } => match rce::app::serve(settings, role) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "rce stopped");
                ExitCode::FAILURE
            }
        },
    }
}
