use ringbus::config::{Config, ConfigError};

#[global_allocator]
static GLOBAL: ringbus::alloc::CountingAlloc = ringbus::alloc::CountingAlloc;

fn main() {
    let config = match Config::from_args(std::env::args().collect()) {
        Ok(c) => c,
        // Prints --help / --version to stdout with status 0, errors to stderr with 2.
        Err(ConfigError::Args(e)) => e.exit(),
        Err(ConfigError::File(msg)) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    if let Err(e) = ringbus::server::run(config) {
        eprintln!("ringbus: {e}");
        std::process::exit(1);
    }
}
