//! The command table: every family's commands, gathered. Each family
//! declares its own (`COMMANDS` in its module, built with `spec::decl`); this
//! module only finds a command by name for the connection, the executor,
//! scripts and COMMAND.

use std::sync::OnceLock;

pub use super::spec::{CommandSpec, KeySpec};
use super::{
    bitmaps, config, connection, dump, geo, hashes, hyperloglog, info, introspection, keymove,
    keys, keyspace, lcs, lists, persistence, pubsub, scripting, server, sets, sort, streams,
    strings, transaction, zset_ops, zsets,
};

/// Every family's commands.
static FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    persistence::COMMANDS,
    info::COMMANDS,
    config::COMMANDS,
    introspection::COMMANDS,
    keyspace::COMMANDS,
    keys::COMMANDS,
    keymove::COMMANDS,
    sort::COMMANDS,
    dump::COMMANDS,
    strings::COMMANDS,
    lcs::COMMANDS,
    bitmaps::COMMANDS,
    lists::COMMANDS,
    hashes::COMMANDS,
    sets::COMMANDS,
    zsets::COMMANDS,
    zset_ops::COMMANDS,
    hyperloglog::COMMANDS,
    geo::COMMANDS,
    streams::COMMANDS,
    pubsub::COMMANDS,
    transaction::COMMANDS,
    scripting::COMMANDS,
];

/// Every command ringbus knows (top level; subcommands hang off their
/// containers).
pub fn commands() -> impl ExactSizeIterator<Item = &'static CommandSpec> + Clone {
    all().iter().copied()
}

fn all() -> &'static [&'static CommandSpec] {
    static ALL: OnceLock<Vec<&'static CommandSpec>> = OnceLock::new();
    ALL.get_or_init(|| FAMILIES.iter().flat_map(|f| f.iter()).collect())
}

/// The command named `name` (ASCII case-insensitive).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: OnceLock<Vec<Vec<&'static CommandSpec>>> = OnceLock::new();
    fn bucket(name: &[u8]) -> usize {
        ((name.len() & 31) << 5) | (name.first().map_or(0, |b| b | 0x20) as usize & 31)
    }
    let index = INDEX.get_or_init(|| {
        let mut index = vec![Vec::new(); 32 * 32];
        for spec in commands() {
            index[bucket(spec.name.as_bytes())].push(spec);
        }
        index
    });
    index[bucket(name)]
        .iter()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions_follow_the_key_specs() {
        let keys = |name: &[u8], argv: &[&str]| -> Vec<usize> {
            let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            lookup(name).unwrap().key_positions(&argv).unwrap().to_vec()
        };
        assert_eq!(keys(b"MSET", &["mset", "a", "1", "b", "2"]), vec![1, 3]);
        assert_eq!(keys(b"del", &["del", "a", "b", "c"]), vec![1, 2, 3]);
        assert_eq!(keys(b"Ping", &["ping", "x"]), Vec::<usize>::new());
        assert_eq!(keys(b"rename", &["rename", "a", "b"]), vec![1, 2]);
        assert_eq!(
            keys(b"evalsha", &["evalsha", "sha", "2", "a", "b", "x"]),
            vec![3, 4]
        );
    }

    #[test]
    fn every_command_is_found_in_any_case() {
        for c in commands() {
            let upper = c.name.to_ascii_uppercase();
            assert!(
                std::ptr::eq(lookup(upper.as_bytes()).unwrap(), c),
                "{}",
                c.name
            );
            assert!(
                std::ptr::eq(lookup(c.name.as_bytes()).unwrap(), c),
                "{}",
                c.name
            );
        }
        assert!(lookup(b"").is_none());
        assert!(lookup(b"gett").is_none());
        assert!(lookup(&[0xff; 40]).is_none());
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in commands() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
        }
    }
}
