//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS,
//! GETKEYSANDFLAGS): what the command table says of each command, in Redis
//! 7.2's shapes. COMMAND DOCS derives each command's argument tree from the
//! syntax its family declared (`argdocs`).

use super::args::{is, CmdResult, Error};
use super::exec::Client;
use super::spec::decl::*;
use super::spec::{Begin, Find};
use super::table::{commands, CommandSpec};
use crate::glob;
use crate::resp::Out;

/// COMMAND: every command's COMMAND INFO entry.
pub fn command(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    reply_command_infos(c.out(), commands().map(Some));
    Ok(())
}

pub fn command_count(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    c.out().int(commands().len() as i64);
    Ok(())
}

pub fn command_info_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        reply_command_infos(c.out(), commands().map(Some));
    } else {
        reply_command_infos(c.out(), argv[2..].iter().map(|n| find_command(n)));
    }
    Ok(())
}

pub fn command_docs_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    command_docs(c.out(), argv);
    Ok(())
}

pub fn command_list_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    command_list(c.out(), argv)
}

pub fn command_getkeys_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    command_getkeys(c.out(), &argv[2..], false)
}

pub fn command_getkeysandflags(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    command_getkeys(c.out(), &argv[2..], true)
}

fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    match std::str::from_utf8(name)
        .ok()?
        .to_ascii_lowercase()
        .split_once('|')
    {
        Some((container, sub)) => {
            super::table::lookup(container.as_bytes())?.subcommand(sub.as_bytes())
        }
        None => super::table::lookup(name),
    }
}

fn acl_categories(spec: &CommandSpec) -> Vec<String> {
    let mut cats = Vec::new();
    if spec.has_flag("write") {
        cats.push("@write".to_string());
    } else if spec.has_flag("readonly") {
        cats.push("@read".to_string());
    }
    cats.push(format!("@{}", spec.group));
    // In the order of Redis's category bits: admin, fast/slow, blocking,
    // dangerous.
    if spec.has_flag("admin") {
        cats.push("@admin".to_string());
    }
    cats.push(
        if spec.has_flag("fast") {
            "@fast"
        } else {
            "@slow"
        }
        .to_string(),
    );
    if spec.has_flag("blocking") {
        cats.push("@blocking".to_string());
    }
    if spec.has_flag("admin") {
        cats.push("@dangerous".to_string());
    }
    // Redis lists a command's categories in the order of their bits.
    const ORDER: &[&str] = &[
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@bitmap",
        "@hyperloglog",
        "@geo",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
        "@scripting",
    ];
    cats.sort_by_key(|c| ORDER.iter().position(|o| o == c).unwrap_or(ORDER.len()));
    cats
}

/// COMMAND INFO's 10-field entry for each command (null for unknown names).
fn reply_command_infos<'a>(
    out: &mut Out,
    specs: impl ExactSizeIterator<Item = Option<&'a CommandSpec>>,
) {
    out.array(specs.len());
    for spec in specs {
        match spec {
            Some(spec) => command_info(out, spec),
            None => out.null(),
        }
    }
}

fn command_info(out: &mut Out, spec: &CommandSpec) {
    let (first, last, step) = spec.legacy_range();
    out.array(10);
    out.bulk_str(spec.name);
    out.int(spec.arity as i64);
    // Redis hides these flags from COMMAND INFO on purpose.
    let shown = |f: &&&str| !matches!(**f, "may_replicate" | "protected");
    out.set(spec.flags.iter().filter(shown).count());
    for flag in spec.flags.iter().filter(shown) {
        out.simple(flag);
    }
    out.int(first);
    out.int(last);
    out.int(step);
    let cats = acl_categories(spec);
    out.set(cats.len());
    for cat in &cats {
        out.simple(cat);
    }
    out.set(0); // tips
    let access = if spec.has_flag("write") { "RW" } else { "RO" };
    out.array(spec.keys.len());
    for key_spec in spec.keys {
        out.map(3);
        out.bulk_str("flags");
        out.set(1);
        out.simple(access);
        out.bulk_str("begin_search");
        out.map(2);
        out.bulk_str("type");
        match key_spec.begin {
            Begin::Index(index) => {
                out.bulk_str("index");
                out.bulk_str("spec");
                out.map(1);
                out.bulk_str("index");
                out.int(index as i64);
            }
            Begin::Keyword { word, from } => {
                out.bulk_str("keyword");
                out.bulk_str("spec");
                out.map(2);
                out.bulk_str("keyword");
                out.bulk_str(word);
                out.bulk_str("startfrom");
                out.int(from as i64);
            }
        }
        out.bulk_str("find_keys");
        out.map(2);
        out.bulk_str("type");
        match key_spec.find {
            Find::Range { last, step, limit } => {
                out.bulk_str("range");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("lastkey");
                out.int(last as i64);
                out.bulk_str("keystep");
                out.int(step as i64);
                out.bulk_str("limit");
                out.int(limit as i64);
            }
            Find::KeyNum {
                numkeys,
                first,
                step,
            } => {
                out.bulk_str("keynum");
                out.bulk_str("spec");
                out.map(3);
                out.bulk_str("keynumidx");
                out.int(numkeys as i64);
                out.bulk_str("firstkey");
                out.int(first as i64);
                out.bulk_str("keystep");
                out.int(step as i64);
            }
        }
    }
    out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        command_info(out, sub);
    }
}

fn command_docs(out: &mut Out, argv: &[&[u8]]) {
    let specs: Vec<&CommandSpec> = if argv.len() == 2 {
        commands().collect()
    } else {
        argv[2..].iter().filter_map(|n| find_command(n)).collect()
    };
    out.map(specs.len());
    for spec in specs {
        out.bulk_str(spec.name);
        command_doc(out, spec);
    }
}

/// The time complexity COMMAND DOCS reports, as Redis's documentation states it.
fn complexity(name: &str) -> &'static str {
    match name {
        "del" | "unlink" | "exists" | "touch" => {
            "O(N) where N is the number of keys that will be removed or checked."
        }
        "mget" | "mset" | "msetnx" => "O(N) where N is the number of keys to retrieve or set.",
        "keys" => "O(N) with N being the number of keys in the database.",
        "scan" => "O(1) for every call. O(N) for a complete iteration.",
        "flushdb" | "flushall" => "O(N) where N is the total number of keys in all databases",
        "client|list" | "client|kill" => "O(N) where N is the number of client connections",
        "command" | "command|info" | "command|docs" | "command|list" => {
            "O(N) where N is the number of commands to look up"
        }
        "config|get" | "config|set" => {
            "O(N) when N is the number of configuration parameters provided"
        }
        "getrange" => "O(N) where N is the length of the returned string.",
        "setrange" => "O(1), not counting the time taken to copy the new string in place.",
        _ => "O(1)",
    }
}

fn command_doc(out: &mut Out, spec: &CommandSpec) {
    let has_subs = !spec.subcommands.is_empty();
    let args = argdocs::parse(spec.syntax, spec.name);
    out.map(4 + !args.is_empty() as usize + has_subs as usize);
    out.bulk_str("summary");
    out.bulk_str(spec.summary);
    out.bulk_str("since");
    out.bulk_str(spec.since);
    out.bulk_str("group");
    out.bulk_str(spec.group);
    out.bulk_str("complexity");
    out.bulk_str(complexity(spec.name));
    if !args.is_empty() {
        out.bulk_str("arguments");
        // Key arguments belong to the key specifications in order (the
        // last one takes any further key arguments).
        let mut next_key = 0;
        write_doc_args(out, &args, spec.keys.len(), &mut next_key);
    }
    if has_subs {
        out.bulk_str("subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            out.bulk_str(sub.name);
            command_doc(out, sub);
        }
    }
}

/// COMMAND DOCS argument maps, in Redis's field order.
fn write_doc_args(out: &mut Out, args: &[argdocs::Arg], key_specs: usize, next_key: &mut usize) {
    out.array(args.len());
    for arg in args {
        let key_spec = key_specs > 0 && arg.kind == "key";
        let flags = [(arg.optional, "optional"), (arg.multiple, "multiple")];
        let nflags = flags.iter().filter(|(on, _)| *on).count();
        out.map(
            2 + key_spec as usize
                + arg.token.is_some() as usize
                + (nflags > 0) as usize
                + !arg.args.is_empty() as usize,
        );
        out.bulk_str("name");
        out.bulk_str(&arg.name);
        out.bulk_str("type");
        out.bulk_str(arg.kind);
        if key_spec {
            out.bulk_str("key_spec_index");
            out.int((*next_key).min(key_specs - 1) as i64);
            *next_key += 1;
        }
        if let Some(token) = &arg.token {
            out.bulk_str("token");
            out.bulk_str(token);
        }
        if nflags > 0 {
            out.bulk_str("flags");
            out.set(nflags);
            for (_, flag) in flags.iter().filter(|(on, _)| *on) {
                out.simple(flag);
            }
        }
        if !arg.args.is_empty() {
            out.bulk_str("arguments");
            write_doc_args(out, &arg.args, key_specs, next_key);
        }
    }
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of `argv` as its command's
/// key specifications find them (the same ones routing and transactions use).
fn command_getkeys(out: &mut Out, argv: &[&[u8]], with_flags: bool) -> Result<(), Error> {
    let mut spec =
        super::table::lookup(argv[0]).ok_or(Error::msg("ERR Invalid command specified"))?;
    if !spec.subcommands.is_empty() && argv.len() > 1 {
        spec = spec
            .subcommand(argv[1])
            .ok_or(Error::msg("ERR Invalid command specified"))?;
    }
    if spec.keys.is_empty() {
        return Err(Error::msg("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(argv.len()) {
        return Err(Error::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let positions = spec.key_positions(argv).unwrap_or_default();
    if positions.is_empty() && !spec.has_flag("no_mandatory_keys") {
        return Err(Error::msg("ERR Invalid arguments specified for command"));
    }
    let access = if spec.has_flag("write") { "RW" } else { "RO" };
    out.array(positions.len());
    for i in positions {
        if with_flags {
            out.array(2);
            out.bulk(argv[i]);
            out.set(1);
            out.simple(access);
        } else {
            out.bulk(argv[i]);
        }
    }
    Ok(())
}

fn command_list(out: &mut Out, argv: &[&[u8]]) -> Result<(), Error> {
    let pattern = match argv.len() {
        2 => None,
        5 if is(argv[2], "filterby") && is(argv[3], "pattern") => Some(argv[4]),
        _ => return Err(Error::SYNTAX),
    };
    let names: Vec<&str> = commands()
        .flat_map(|c| std::iter::once(c.name).chain(c.subcommands.iter().map(|s| s.name)))
        .filter(|n| pattern.is_none_or(|p| glob::matches(p, n.as_bytes(), true)))
        .collect();
    out.array(names.len());
    for name in names {
        out.bulk_str(name);
    }
    Ok(())
}

/// COMMAND HELP, Redis's text.
pub fn command_help(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    c.out().help(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static COMMAND_SUBS: &[CommandSpec] = &[
    spec("command|help", 2, SERVER, NO_KEYS, "server", "Returns helpful text about the different subcommands.",
    Exec::Local(command_help), ""),
    spec("command|count", 2, SERVER, NO_KEYS, "server", "Returns a count of commands.", Exec::Local(command_count), ""),
    spec("command|info", -2, SERVER, NO_KEYS, "server", "Returns information about one, multiple or all commands.",
    Exec::Local(command_info_cmd), "[command-name [command-name ...]]"),
    spec("command|docs", -2, SERVER, NO_KEYS, "server", "Returns documentary information about one, multiple or all commands.",
    Exec::Local(command_docs_cmd), "[command-name [command-name ...]]"),
    spec("command|list", -2, SERVER, NO_KEYS, "server", "Returns a list of command names.", Exec::Local(command_list_cmd),
    "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]"),
    spec("command|getkeys", -3, SERVER, NO_KEYS, "server", "Extracts the key names from an arbitrary command.",
    Exec::Local(command_getkeys_cmd), "command [arg [arg ...]]"),
    spec("command|getkeysandflags", -3, SERVER, NO_KEYS, "server", "Extracts the key names and access flags for an arbitrary command.",
    Exec::Local(command_getkeysandflags), "command [arg [arg ...]]"),
];

/// The COMMAND commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "command",
        arity: -1,
        flags: SERVER,
        keys: NO_KEYS,
        group: "server",
        summary: "Returns detailed information about all commands.",
        since: "2.8.13",
        syntax: "",
        exec: Exec::Local(command),
        subcommands: COMMAND_SUBS,
        },
];

/// COMMAND DOCS `arguments`: a command's documented syntax (`key value [NX | XX]
/// [EX seconds | ...]`) parsed into the argument tree Redis reports — each
/// argument a name, a type, an optional token, `optional` / `multiple` flags and,
/// for `oneof` and `block`, the arguments inside.
mod argdocs {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Arg {
        pub name: String,
        /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`,
        /// `pure-token`, `oneof` or `block`.
        pub kind: &'static str,
        pub token: Option<String>,
        pub optional: bool,
        pub multiple: bool,
        /// The alternatives of a `oneof`, the parts of a `block`.
        pub args: Vec<Arg>,
    }

    impl Arg {
        fn new(name: impl Into<String>, kind: &'static str) -> Arg {
            Arg {
                name: name.into(),
                kind,
                token: None,
                optional: false,
                multiple: false,
                args: Vec::new(),
            }
        }

        fn group(name: impl Into<String>, kind: &'static str, args: Vec<Arg>) -> Arg {
            Arg {
                args,
                ..Arg::new(name, kind)
            }
        }
    }

    /// The syntax as written, before it becomes arguments.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Node {
        Word(String),
        /// `[a | b]` (optional) or `<a | b>`: one or more alternative sequences.
        Group {
            optional: bool,
            alts: Vec<Vec<Node>>,
        },
        /// `x [x ...]` or `<...> [...]`: the repeated sequence.
        Repeat(Vec<Node>),
        /// A `...` that follows no matching repetition: repeats what precedes it.
        Ellipsis,
    }

    /// Parses `syntax` for command `cmd` (lower case; it picks INCRBYFLOAT's double).
    /// Never fails: stray brackets are ignored and unclosed ones end at the end.
    pub fn parse(syntax: &str, cmd: &str) -> Vec<Arg> {
        let tokens = lex(syntax);
        let mut pos = 0;
        let alts = parse_alts(&tokens, &mut pos, false);
        match alts.as_slice() {
            [seq] => seq_args(seq, cmd),
            _ => oneof(alts.iter().filter_map(|seq| single(seq, cmd)).collect())
                .into_iter()
                .collect(),
        }
    }

    fn lex(syntax: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = syntax.trim_start();
        while let Some(c) = rest.chars().next() {
            let len = if rest.starts_with("...") {
                3
            } else if "[]<>|".contains(c) {
                1
            } else {
                rest.find(|c: char| c.is_whitespace() || "[]<>|".contains(c))
                    .unwrap_or(rest.len())
            };
            out.push(&rest[..len]);
            rest = rest[len..].trim_start();
        }
        out
    }

    /// Alternatives separated by `|`, each a sequence, up to the group's closing
    /// bracket (`nested`) or the end.
    fn parse_alts(tokens: &[&str], pos: &mut usize, nested: bool) -> Vec<Vec<Node>> {
        let mut alts = vec![Vec::new()];
        while let Some(&t) = tokens.get(*pos) {
            *pos += 1;
            let seq = alts.last_mut().expect("never empty");
            match t {
                "|" => alts.push(Vec::new()),
                "[" | "<" => {
                    let inner = parse_alts(tokens, pos, true);
                    push(
                        seq,
                        Node::Group {
                            optional: t == "[",
                            alts: inner,
                        },
                    );
                }
                "]" | ">" if nested => break,
                "]" | ">" => {}
                "..." => seq.push(Node::Ellipsis),
                word => seq.push(Node::Word(word.to_string())),
            }
        }
        alts
    }

    /// Appends `node`, folding `x [x ...]` and `<...> [...]` into a repetition of `x`.
    fn push(seq: &mut Vec<Node>, node: Node) {
        if let Node::Group {
            optional: true,
            alts,
        } = &node
        {
            if let [alt] = alts.as_slice() {
                if let [inner @ .., Node::Ellipsis] = alt.as_slice() {
                    let n = inner.len().max(1);
                    if seq.len() >= n && (inner.is_empty() || seq[seq.len() - n..] == *inner) {
                        let repeated = seq.split_off(seq.len() - n);
                        seq.push(Node::Repeat(repeated));
                        return;
                    }
                }
            }
        }
        seq.push(node);
    }

    /// UPPERCASE words (`NX`, `LIB-NAME`) are literal tokens; the rest name values.
    fn is_token(word: &str) -> bool {
        word.chars().any(|c| c.is_ascii_alphabetic())
            && !word.chars().any(|c| c.is_ascii_lowercase())
    }

    fn is_token_node(node: &Node) -> bool {
        matches!(node, Node::Word(w) if is_token(w))
    }

    fn seq_args(seq: &[Node], cmd: &str) -> Vec<Arg> {
        let mut out: Vec<Arg> = Vec::new();
        let mut i = 0;
        while i < seq.len() {
            match &seq[i] {
                Node::Word(word) if is_token(word) => {
                    // A token introduces the values that follow it, up to the next token.
                    let end = seq[i + 1..]
                        .iter()
                        .position(is_token_node)
                        .map_or(seq.len(), |p| i + 1 + p);
                    out.push(with_token(word, seq_args(&seq[i + 1..end], cmd)));
                    i = end;
                    continue;
                }
                Node::Ellipsis => {
                    if let Some(last) = out.last_mut() {
                        last.multiple = true;
                    }
                }
                node => out.extend(node_arg(node, cmd)),
            }
            i += 1;
        }
        out
    }

    fn node_arg(node: &Node, cmd: &str) -> Option<Arg> {
        match node {
            Node::Word(word) => Some(Arg::new(word.as_str(), value_type(word, cmd))),
            Node::Group { optional, alts } => {
                let mut arg = match alts.as_slice() {
                    [seq] => single(seq, cmd)?,
                    _ => oneof(alts.iter().filter_map(|seq| single(seq, cmd)).collect())?,
                };
                arg.optional |= optional;
                Some(arg)
            }
            Node::Repeat(seq) => {
                let mut arg = single(seq, cmd)?;
                arg.multiple = true;
                Some(arg)
            }
            Node::Ellipsis => None,
        }
    }

    /// A sequence as one argument: itself when it has one part, else a block.
    fn single(seq: &[Node], cmd: &str) -> Option<Arg> {
        let mut args = seq_args(seq, cmd);
        match args.len() {
            0 => None,
            1 => args.pop(),
            _ => Some(Arg::group(joined(&args), "block", args)),
        }
    }

    fn oneof(args: Vec<Arg>) -> Option<Arg> {
        match args.len() {
            0 => None,
            1 => args.into_iter().next(),
            _ => {
                let name = if args.iter().any(|a| a.token.as_deref() == Some("EX")) {
                    "expiration".to_string()
                } else if args
                    .iter()
                    .all(|a| matches!(a.token.as_deref(), Some("NX" | "XX" | "GT" | "LT")))
                {
                    "condition".to_string()
                } else {
                    joined(&args)
                };
                Some(Arg::group(name, "oneof", args))
            }
        }
    }

    /// `TOKEN` alone is a pure token; `TOKEN value` a value with that token;
    /// `TOKEN <a | b>` a oneof with it; anything longer a block with it.
    fn with_token(token: &str, mut rest: Vec<Arg>) -> Arg {
        let lower = token.to_ascii_lowercase();
        let mut arg = match rest.len() {
            0 => Arg::new(lower, "pure-token"),
            1 if rest[0].token.is_none() && !rest[0].optional && !rest[0].multiple => {
                let mut arg = rest.pop().expect("one");
                if arg.kind == "oneof" || arg.kind == "block" {
                    arg.name = lower;
                }
                arg
            }
            _ => Arg::group(lower, "block", rest),
        };
        arg.token = Some(token.to_string());
        arg
    }

    /// Redis's name for a group it has no better name for: its parts' names joined.
    fn joined(args: &[Arg]) -> String {
        let names: Vec<String> = args
            .iter()
            .map(|a| {
                a.token
                    .as_deref()
                    .map_or_else(|| a.name.clone(), str::to_ascii_lowercase)
            })
            .collect();
        names.join("_")
    }

    fn value_type(name: &str, cmd: &str) -> &'static str {
        match name {
            "key" | "newkey" | "destination" | "source" => "key",
            "pattern" => "pattern",
            "increment" if cmd == "incrbyfloat" || cmd == "hincrbyfloat" => "double",
            "count" | "cursor" | "offset" | "start" | "end" | "numkeys" | "index" | "db"
            | "increment" | "decrement" | "client-id" | "protover" | "timeout" => "integer",
            n if n.starts_with("unix-time") => "unix-time",
            n if n.ends_with("seconds") || n.ends_with("milliseconds") => "integer",
            _ => "string",
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn arg(name: &str, kind: &'static str) -> Arg {
            Arg::new(name, kind)
        }
        fn pure(token: &str) -> Arg {
            tok(arg(&token.to_ascii_lowercase(), "pure-token"), token)
        }
        fn tok(a: Arg, token: &str) -> Arg {
            Arg {
                token: Some(token.to_string()),
                ..a
            }
        }
        fn opt(a: Arg) -> Arg {
            Arg {
                optional: true,
                ..a
            }
        }
        fn many(a: Arg) -> Arg {
            Arg {
                multiple: true,
                ..a
            }
        }
        fn oneof(name: &str, args: Vec<Arg>) -> Arg {
            Arg::group(name, "oneof", args)
        }
        fn block(name: &str, args: Vec<Arg>) -> Arg {
            Arg::group(name, "block", args)
        }

        #[test]
        fn set() {
            let syntax = "key value [NX | XX] [GET] [EX seconds | PX milliseconds | \
                          EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]";
            assert_eq!(
                parse(syntax, "set"),
                vec![
                    arg("key", "key"),
                    arg("value", "string"),
                    opt(oneof("condition", vec![pure("NX"), pure("XX")])),
                    opt(pure("GET")),
                    opt(oneof(
                        "expiration",
                        vec![
                            tok(arg("seconds", "integer"), "EX"),
                            tok(arg("milliseconds", "integer"), "PX"),
                            tok(arg("unix-time-seconds", "unix-time"), "EXAT"),
                            tok(arg("unix-time-milliseconds", "unix-time"), "PXAT"),
                            pure("KEEPTTL"),
                        ]
                    )),
                ]
            );
        }

        #[test]
        fn mset_and_repeats() {
            assert_eq!(
                parse("key value [key value ...]", "mset"),
                vec![many(block(
                    "key_value",
                    vec![arg("key", "key"), arg("value", "string")]
                ))]
            );
            assert_eq!(parse("key [key ...]", "del"), vec![many(arg("key", "key"))]);
            assert_eq!(
                parse("[section [section ...]]", "info"),
                vec![opt(many(arg("section", "string")))]
            );
            assert_eq!(
                parse("[ID client-id [client-id ...]]", "client|list"),
                vec![opt(tok(
                    block("id", vec![many(arg("client-id", "integer"))]),
                    "ID"
                ))]
            );
        }

        #[test]
        fn ping_and_simple() {
            assert_eq!(
                parse("[message]", "ping"),
                vec![opt(arg("message", "string"))]
            );
            assert_eq!(parse("", "time"), vec![]);
            assert_eq!(
                parse("key increment", "incrby")[1],
                arg("increment", "integer")
            );
            assert_eq!(
                parse("key increment", "incrbyfloat")[1],
                arg("increment", "double")
            );
            assert_eq!(
                parse("cursor [MATCH pattern] [COUNT count] [TYPE type]", "scan"),
                vec![
                    arg("cursor", "integer"),
                    opt(tok(arg("pattern", "pattern"), "MATCH")),
                    opt(tok(arg("count", "integer"), "COUNT")),
                    opt(tok(arg("type", "string"), "TYPE")),
                ]
            );
            assert_eq!(
                parse(
                    "[protover [AUTH username password] [SETNAME clientname]]",
                    "hello"
                ),
                vec![opt(block(
                    "protover_auth_setname",
                    vec![
                        arg("protover", "integer"),
                        opt(tok(
                            block(
                                "auth",
                                vec![arg("username", "string"), arg("password", "string")]
                            ),
                            "AUTH"
                        )),
                        opt(tok(arg("clientname", "string"), "SETNAME")),
                    ]
                ))]
            );
        }

        #[test]
        fn client_kill() {
            let syntax = "ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | \
                          [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>]> [...]";
            let types = ["NORMAL", "MASTER", "SLAVE", "REPLICA", "PUBSUB"]
                .map(pure)
                .to_vec();
            let new_format = many(oneof(
                "id_type_user_addr_laddr_skipme",
                vec![
                    opt(tok(arg("client-id", "integer"), "ID")),
                    opt(tok(oneof("type", types), "TYPE")),
                    opt(tok(arg("username", "string"), "USER")),
                    opt(tok(arg("ip:port", "string"), "ADDR")),
                    opt(tok(arg("ip:port", "string"), "LADDR")),
                    opt(tok(
                        oneof("skipme", vec![pure("YES"), pure("NO")]),
                        "SKIPME",
                    )),
                ],
            ));
            assert_eq!(
                parse(syntax, "client|kill"),
                vec![oneof(
                    "ip:port_id_type_user_addr_laddr_skipme",
                    vec![arg("ip:port", "string"), new_format]
                )]
            );
        }

        #[test]
        fn malformed_syntax_does_not_panic() {
            for syntax in [
                "[",
                "]",
                "<a | >",
                "[...]",
                "... x",
                "| |",
                "[a [b ...]",
                "A B C",
                "[x] ...",
            ] {
                let _ = parse(syntax, "x");
            }
        }

        /// Every documented command parses into well-formed arguments.
        #[test]
        fn whole_table() {
            fn check(a: &Arg) {
                assert!(!a.name.is_empty());
                let kinds = [
                    "key",
                    "string",
                    "integer",
                    "double",
                    "pattern",
                    "unix-time",
                    "pure-token",
                    "oneof",
                    "block",
                ];
                assert!(kinds.contains(&a.kind), "{a:?}");
                assert_eq!(
                    a.kind == "oneof" || a.kind == "block",
                    !a.args.is_empty(),
                    "{a:?}"
                );
                if a.kind == "pure-token" {
                    assert!(a.token.is_some(), "{a:?}");
                }
                a.args.iter().for_each(check);
            }
            let table = crate::cmd::table::commands;
            for spec in table().chain(table().flat_map(|c| c.subcommands.iter())) {
                let args = parse(spec.syntax, spec.name);
                assert_eq!(args.is_empty(), spec.syntax.is_empty(), "{}", spec.name);
                args.iter().for_each(check);
            }
        }
    }
}
