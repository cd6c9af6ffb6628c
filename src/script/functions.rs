//! Redis 7 functions: libraries of named Lua functions, loaded with
//! FUNCTION LOAD and called with FCALL. The libraries are shared by every
//! core (like scripts, behind a lock only FUNCTION LOAD/DELETE/FLUSH/RESTORE
//! write); each core's interpreter runs a library's code once per change
//! (the registry's generation) to get its functions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use super::registry::UNSEEN;

/// One registered function, as FUNCTION LIST shows it.
#[derive(Debug)]
pub struct FunctionMeta {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<String>,
    /// Where its runs went (see `script`): UNSEEN, STAYS or ROAMS.
    pub reach: Arc<AtomicU8>,
}

impl FunctionMeta {
    pub fn new(name: String, description: Option<String>, flags: Vec<String>) -> FunctionMeta {
        FunctionMeta {
            name,
            description,
            flags,
            reach: Arc::new(AtomicU8::new(UNSEEN)),
        }
    }

    pub fn no_writes(&self) -> bool {
        self.flags.iter().any(|f| f == "no-writes")
    }
}

#[derive(Debug)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionMeta>,
}

#[derive(Default)]
struct State {
    libraries: BTreeMap<String, Arc<Library>>,
}

#[derive(Default)]
pub struct Libraries {
    state: RwLock<State>,
    generation: AtomicU64,
}

/// The library name in a code's first line, `#!lua name=<name>`.
pub fn parse_metadata(code: &[u8]) -> Result<String, String> {
    let Some(rest) = code.strip_prefix(b"#!") else {
        return Err("ERR Missing library metadata".into());
    };
    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&rest[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for part in parts {
        match part.strip_prefix("name=") {
            Some(n) => name = Some(n.to_string()),
            None => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if !valid_name(&name) {
        return Err(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
                .into(),
        );
    }
    Ok(name)
}

/// Letters, digits and underscores, at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What FUNCTION RESTORE does with libraries that exist.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Append,
    Replace,
    Flush,
}

impl Libraries {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self, name: &str) -> Option<Arc<Library>> {
        self.state
            .read()
            .expect("libraries")
            .libraries
            .get(name)
            .cloned()
    }

    /// Every library, by name.
    pub fn all(&self) -> Vec<Arc<Library>> {
        self.state
            .read()
            .expect("libraries")
            .libraries
            .values()
            .cloned()
            .collect()
    }

    /// The library holding function `name`, and the function's index in it.
    pub fn function(&self, name: &str) -> Option<(Arc<Library>, usize)> {
        let state = self.state.read().expect("libraries");
        state.libraries.values().find_map(|lib| {
            lib.functions
                .iter()
                .position(|f| f.name == name)
                .map(|i| (lib.clone(), i))
        })
    }

    /// Adds `lib` (checked by an interpreter already). With `replace`, a
    /// library of the same name is replaced.
    pub fn add(&self, lib: Library, replace: bool) -> Result<(), String> {
        let mut state = self.state.write().expect("libraries");
        check_add(&state, &lib, replace)?;
        state.libraries.insert(lib.name.clone(), Arc::new(lib));
        drop(state);
        self.bump();
        Ok(())
    }

    pub fn delete(&self, name: &str) -> bool {
        let removed = self
            .state
            .write()
            .expect("libraries")
            .libraries
            .remove(name)
            .is_some();
        if removed {
            self.bump();
        }
        removed
    }

    pub fn flush(&self) {
        self.state.write().expect("libraries").libraries.clear();
        self.bump();
    }

    /// FUNCTION RESTORE: adds every library, all or none, as Redis's
    /// `libraryJoin` does (FLUSH swaps them in): every library name is
    /// checked before any function name, and unlike FUNCTION LOAD the
    /// name is not quoted in the error.
    pub fn restore(&self, restored: Restored, policy: RestorePolicy) -> Result<(), String> {
        let mut state = self.state.write().expect("libraries");
        let mut next = match policy {
            RestorePolicy::Flush => BTreeMap::new(),
            _ => state.libraries.clone(),
        };
        for name in restored.state.libraries.keys() {
            if next.contains_key(name) {
                if policy != RestorePolicy::Replace {
                    return Err(format!("ERR Library {name} already exists"));
                }
                next.remove(name);
            }
        }
        for lib in restored.state.libraries.values() {
            for f in &lib.functions {
                if next
                    .values()
                    .any(|other| other.functions.iter().any(|g| g.name == f.name))
                {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        next.extend(restored.state.libraries);
        state.libraries = next;
        drop(state);
        self.bump();
        Ok(())
    }
}

/// The libraries of a FUNCTION RESTORE payload, gathered as Redis loads
/// them into a fresh set: a library name or a function name may appear
/// only once in a payload.
#[derive(Default)]
pub struct Restored {
    state: State,
}

impl Restored {
    /// Before compiling: the name is not already in the payload (Redis
    /// checks it first, with FUNCTION LOAD's quoted message).
    pub fn check_name(&self, name: &str) -> Result<(), String> {
        if self.state.libraries.contains_key(name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        Ok(())
    }

    /// After compiling: none of its functions is in the payload already.
    pub fn add(&mut self, lib: Library) -> Result<(), String> {
        check_add(&self.state, &lib, false)?;
        self.state.libraries.insert(lib.name.clone(), Arc::new(lib));
        Ok(())
    }
}

/// A library may be added: its name is free (or replaced), and none of its
/// functions is a function of another library.
fn check_add(state: &State, lib: &Library, replace: bool) -> Result<(), String> {
    if !replace && state.libraries.contains_key(&lib.name) {
        return Err(format!("ERR Library '{}' already exists", lib.name));
    }
    for f in &lib.functions {
        let taken = state
            .libraries
            .values()
            .filter(|other| other.name != lib.name)
            .any(|other| other.functions.iter().any(|g| g.name == f.name));
        if taken {
            return Err(format!("ERR Function {} already exists", f.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_as_redis_reads_it() {
        assert_eq!(parse_metadata(b"#!lua name=lib\ncode"), Ok("lib".into()));
        assert_eq!(parse_metadata(b"#!LUA name=lib\n"), Ok("lib".into()));
        assert_eq!(
            parse_metadata(b"return 1"),
            Err("ERR Missing library metadata".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua name=lib"),
            Err("ERR Invalid library metadata".into())
        );
        assert_eq!(
            parse_metadata(b"#!js name=x\n"),
            Err("ERR Engine 'js' not found".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua\n"),
            Err("ERR Library name was not given".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua name=x x=y\n"),
            Err("ERR Invalid metadata value given: x=y".into())
        );
    }

    fn lib(name: &str, functions: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: format!("#!lua name={name}\n").into_bytes(),
            functions: functions
                .iter()
                .map(|f| FunctionMeta::new(f.to_string(), None, Vec::new()))
                .collect(),
        }
    }

    fn restored(libs: &[Library]) -> Restored {
        let mut r = Restored::default();
        for l in libs {
            r.add(lib(
                &l.name,
                &l.functions
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>(),
            ))
            .unwrap();
        }
        r
    }

    fn names(libs: &Libraries) -> Vec<String> {
        libs.all().iter().map(|l| l.name.clone()).collect()
    }

    #[test]
    fn restore_policies_are_all_or_nothing() {
        let libs = Libraries::default();
        libs.add(lib("a", &["fa"]), false).unwrap();
        libs.add(lib("b", &["fb"]), false).unwrap();
        let g = libs.generation();
        // Library names are checked before functions, whatever the order.
        let both = [lib("0", &["fb"]), lib("a", &["fx"])];
        assert_eq!(
            libs.restore(restored(&both), RestorePolicy::Append),
            Err("ERR Library a already exists".into())
        );
        assert_eq!(
            libs.restore(restored(&both), RestorePolicy::Replace),
            Err("ERR Function fb already exists".into())
        );
        assert_eq!(libs.generation(), g);
        assert_eq!(names(&libs), ["a", "b"]);
        // REPLACE drops the old library with its functions first.
        let again = [lib("a", &["fa", "fa2"])];
        libs.restore(restored(&again), RestorePolicy::Replace)
            .unwrap();
        assert_eq!(libs.get("a").unwrap().functions.len(), 2);
        libs.restore(restored(&both), RestorePolicy::Flush).unwrap();
        assert_eq!(names(&libs), ["0", "a"]);
        assert!(libs.function("fb").is_some() && libs.function("fa").is_none());

        let mut r = Restored::default();
        r.add(lib("x", &["f"])).unwrap();
        assert_eq!(
            r.check_name("x"),
            Err("ERR Library 'x' already exists".into())
        );
        assert_eq!(
            r.add(lib("y", &["f"])),
            Err("ERR Function f already exists".into())
        );
    }
}
