//! CONFIG GET, SET and RESETSTAT. Each core keeps its own copy of the
//! configuration (`Core::config`), and what commands read on a shard is
//! shared by all shards (`ShardLimits`); CONFIG SET checks every pair first
//! and then updates every copy.

use super::args::{truncated, CmdResult, Error};
use super::exec::Client;
use super::spec::decl::*;
use crate::glob;
use crate::server::client::CoreCounters;
use std::sync::atomic::Ordering;

/// CONFIG GET parameter [parameter ...]: every option matching any pattern.
pub fn config_get(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let config = c.core().config.borrow().clone();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for pattern in &argv[2..] {
        for name in crate::config::Config::NAMES {
            if glob::matches(pattern, name.as_bytes(), true)
                && !pairs.iter().any(|(n, _)| n == name)
            {
                pairs.push((name, config.get(name).unwrap_or_default()));
            }
        }
    }
    c.out().map(pairs.len());
    for (name, value) in pairs {
        c.out().bulk_str(name);
        c.out().bulk_str(&value);
    }
    Ok(())
}

/// CONFIG SET parameter value [...]: all or none, then every core's copy.
pub async fn config_set(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    if !argv.len().is_multiple_of(2) {
        return Err(Error::arity("config|set"));
    }
    let mut config = c.core().config.borrow().clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        let failed = |why: &str| {
            Error::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        // An alias is a parameter of its own for this check, as in Redis.
        if seen.contains(&name) {
            return Err(failed("duplicate parameter"));
        }
        match config.set(&name, &value) {
            Ok(()) => {}
            Err(why) if why == "unknown" => {
                return Err(Error::msg(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    truncated(pair[0], 128)
                )))
            }
            Err(why) => return Err(failed(&why)),
        }
        if name == "maxclients" {
            // As Redis: the open-file limit must hold them, or CONFIG SET fails.
            let reserved = crate::server::limits::reserved_fds(c.core().cores(), config.bind.len());
            if let crate::server::limits::Adjusted::Reduced { maxclients, .. } =
                crate::server::limits::adjust(config.maxclients, reserved)
            {
                return Err(failed(&format!(
                    "The operating system is not able to handle the specified number of clients, try with {maxclients}"
                )));
            }
        }
        seen.push(name);
    }
    c.core()
        .shared
        .limits
        .proto_max_bulk_len
        .store(config.proto_max_bulk_len, Ordering::Relaxed);
    c.core()
        .shared
        .limits
        .rdb_compression
        .store(config.rdbcompression, Ordering::Relaxed);
    config.apply_process_wide();
    c.core()
        .shared
        .busy
        .set_threshold(config.busy_reply_threshold);
    let core = c.core().clone();
    let was_on = core.config.borrow().appendonly;
    for log in core.shared.aof.logs() {
        if let Some(f) = crate::persist::aof::log::Fsync::parse(&config.appendfsync) {
            log.set_fsync(f);
        }
        log.set_timestamps(config.aof_timestamp_enabled);
    }
    let now_on = config.appendonly;
    core.on_every_core(move |core| *core.config.borrow_mut() = config.clone())
        .await;
    if now_on && !was_on {
        // As Redis: the log starts from a rewrite, in the background.
        let core = core.clone();
        crate::runtime::spawn(async move {
            let _ = crate::persist::aof::rewrite::enable(core).await;
        });
    } else if was_on && !now_on {
        crate::persist::aof::disable(&core).await;
    }
    c.out().ok();
    Ok(())
}

/// CONFIG REWRITE: the running configuration into the config file the
/// server started with (see `config_rewrite`).
pub fn config_rewrite(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let config = c.core().config.borrow().clone();
    let Some(path) = config.config_file.clone() else {
        return Err(Error::msg(
            "ERR The server is running without a config file",
        ));
    };
    crate::config_rewrite::rewrite(&path, &config).map_err(|e| {
        eprintln!("ringbus: CONFIG REWRITE failed: {e}");
        Error::msg(format!(
            "ERR Rewriting config file: {}",
            crate::config::os_reason(&e)
        ))
    })?;
    eprintln!("ringbus: CONFIG REWRITE executed with success.");
    c.out().ok();
    Ok(())
}

/// CONFIG HELP, Redis's text.
pub fn config_help(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    c.out().help(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// CONFIG RESETSTAT: every core's and every shard's statistics back to zero.
pub async fn config_resetstat(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    c.core()
        .on_every_core(|core| {
            core.clients.borrow_mut().counters = CoreCounters::default();
            crate::resp::encode::reset_error_replies();
        })
        .await;
    super::exec::each_shard(c, |here| here.shard.reset_stats()).await;
    c.out().ok();
    Ok(())
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static CONFIG_SUBS: &[CommandSpec] = &[
    spec("config|get", -3, ADMIN, NO_KEYS, "server", "Returns the effective values of configuration parameters.",
    Exec::Local(config_get), "parameter [parameter ...]"),
    spec("config|set", -4, ADMIN, NO_KEYS, "server", "Sets configuration parameters in-flight.", crate::awaits!(config_set),
    "parameter value [parameter value ...]"),
    spec("config|help", 2, &["loading", "stale"], NO_KEYS, "server", "Returns helpful text about the different subcommands.",
    Exec::Local(config_help), ""),
    spec("config|rewrite", 2, ADMIN, NO_KEYS, "server", "Persists the effective configuration to file.",
    Exec::Local(config_rewrite), ""),
    spec("config|resetstat", 2, ADMIN, NO_KEYS, "server", "Resets the server's statistics.", crate::anywhere!(config_resetstat), ""),
];

/// The CONFIG commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    container("config", "server", "A container for server configuration commands.", CONFIG_SUBS),
];
