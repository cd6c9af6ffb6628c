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
        check_add(&state, &lib, replace, true)?;
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

    /// FUNCTION RESTORE: adds every library, all or none.
    pub fn restore(&self, libs: Vec<Library>, policy: RestorePolicy) -> Result<(), String> {
        let mut state = self.state.write().expect("libraries");
        let mut next = State {
            libraries: if policy == RestorePolicy::Flush {
                BTreeMap::new()
            } else {
                state.libraries.clone()
            },
        };
        for lib in libs {
            check_add(&next, &lib, policy == RestorePolicy::Replace, false)?;
            next.libraries.insert(lib.name.clone(), Arc::new(lib));
        }
        *state = next;
        drop(state);
        self.bump();
        Ok(())
    }
}

/// A library may be added: its name is free (or replaced), and none of its
/// functions is a function of another library.
/// (FUNCTION LOAD quotes the name in its error, RESTORE does not.)
fn check_add(state: &State, lib: &Library, replace: bool, quoted: bool) -> Result<(), String> {
    if !replace && state.libraries.contains_key(&lib.name) {
        return Err(if quoted {
            format!("ERR Library '{}' already exists", lib.name)
        } else {
            format!("ERR Library {} already exists", lib.name)
        });
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

/// FUNCTION DUMP's payload: a tag, then each library's code as a length
/// and bytes. Only ringbus reads it back (Redis's own is an RDB fragment).
pub fn dump(libs: &[Arc<Library>]) -> Vec<u8> {
    let mut out = b"RBFUNC1".to_vec();
    for lib in libs {
        out.extend_from_slice(&(lib.code.len() as u32).to_le_bytes());
        out.extend_from_slice(&lib.code);
    }
    out
}

/// The library codes in a FUNCTION DUMP payload.
pub fn undump(payload: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut rest = payload.strip_prefix(b"RBFUNC1")?;
    let mut codes = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        codes.push(rest.get(4..4 + len)?.to_vec());
        rest = &rest[4 + len..];
    }
    Some(codes)
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

    #[test]
    fn dumps_read_back() {
        let lib = Arc::new(Library {
            name: "l".into(),
            code: b"#!lua name=l\n".to_vec(),
            functions: Vec::new(),
        });
        let payload = dump(&[lib.clone(), lib]);
        assert_eq!(undump(&payload).unwrap().len(), 2);
        assert!(undump(b"junk").is_none());
    }
}
