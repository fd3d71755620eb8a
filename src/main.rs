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
    let result = actix_web::rt::System::new().block_on(run(cli));
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
