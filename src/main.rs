//! `gateway-zero`: parses the command line, sets up logging and runs the command (serve
//! by default).

use clap::Parser;
use gateway_zero::cli::{run, Cli, Command};

fn main() {
    let cli = Cli::parse();
    let default_level = match cli.command {
        None | Some(Command::Serve) => "info",
        _ => "warn",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .format_timestamp_millis()
        .init();
    let system = actix_web::rt::System::new();
    let result = system.block_on(run(cli));
    // Exit without tearing the runtime down: by now the server has drained and flushed
    // usage and logs, but an actor's periodic sync may hold a database query; dropped
    // outside the runtime, its pooled connection panics in a destructor (sqlx spawns the
    // connection's return), and a panic during that teardown aborts the process (SIGABRT
    // instead of exit 0 on SIGTERM, seen about once in six stops).
    let code = match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(code);
}
