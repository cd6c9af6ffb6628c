//! The fixed vocabulary of the RDB format: versions, opcodes, value type
//! bytes, the length and string-encoding prefixes, and the CRC64 Redis uses.
//!
//! Invariants kept here:
//! - every number below is the one in Redis's `rdb.h` (7.2); nothing here
//!   depends on the rest of ringbus;
//! - [`write_len`] always picks the shortest form, as `rdbSaveLen` does, so
//!   what the encoder writes is byte-for-byte what Redis writes.

use crc::{Crc, Digest, Table, CRC_64_REDIS};

/// `REDIS` followed by four ASCII digits of version.
pub const MAGIC: &[u8; 5] = b"REDIS";
/// Length of the header (`REDIS0010`).
pub const HEADER_LEN: usize = 9;
/// Oldest version the decoder accepts (Redis accepts every version from 1).
pub const MIN_VERSION: u32 = 1;
/// Newest version the decoder accepts: Redis 7.2's.
pub const MAX_VERSION: u32 = 11;
/// What Redis 7.0 writes, and what 7.0 and 7.2 both load.
pub const VERSION_7_0: u32 = 10;
/// What Redis 7.2 writes.
pub const VERSION_7_2: u32 = 11;
/// First version whose files end with a CRC64.
pub const FIRST_CHECKSUMMED_VERSION: u32 = 5;

/// Opcodes: bytes in the place of a value type that carry something else.
pub mod opcode {
    /// A function library, format of 7.0 release candidates.
    pub const FUNCTION_PRE_GA: u8 = 246;
    /// A function library (its code, which names its engine and library).
    pub const FUNCTION2: u8 = 245;
    /// Module data that belongs to no key.
    pub const MODULE_AUX: u8 = 247;
    /// LRU idle time of the next key, in seconds.
    pub const IDLE: u8 = 248;
    /// LFU counter of the next key, one byte.
    pub const FREQ: u8 = 249;
    /// A string-string field about the file.
    pub const AUX: u8 = 250;
    /// Key count and expire count of the database, a sizing hint.
    pub const RESIZEDB: u8 = 251;
    /// Expiry of the next key, unix ms, 8 bytes little endian.
    pub const EXPIRETIME_MS: u8 = 252;
    /// Expiry of the next key, unix seconds, 4 bytes (files before 2.6).
    pub const EXPIRETIME: u8 = 253;
    /// The database the following keys belong to.
    pub const SELECTDB: u8 = 254;
    /// End of data; the checksum follows.
    pub const EOF: u8 = 255;
}

/// Value type bytes.
pub mod rdb_type {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// Whether `t` is a value type Redis 7.2 knows (`rdbIsObjectType`).
    pub fn is_object_type(t: u8) -> bool {
        t <= HASH
            || (ZSET_2..=MODULE_2).contains(&t)
            || (HASH_ZIPMAP..=STREAM_LISTPACKS_3).contains(&t)
    }

    /// A readable name for error messages.
    pub fn name(t: u8) -> &'static str {
        match t {
            STRING => "string",
            LIST => "list",
            SET => "set",
            ZSET => "zset",
            HASH => "hash",
            ZSET_2 => "zset2",
            MODULE_PRE_GA | MODULE_2 => "module",
            HASH_ZIPMAP => "hash zipmap",
            LIST_ZIPLIST => "list ziplist",
            SET_INTSET => "set intset",
            ZSET_ZIPLIST => "zset ziplist",
            HASH_ZIPLIST => "hash ziplist",
            LIST_QUICKLIST => "list quicklist",
            STREAM_LISTPACKS => "stream listpacks",
            HASH_LISTPACK => "hash listpack",
            ZSET_LISTPACK => "zset listpack",
            LIST_QUICKLIST_2 => "list quicklist2",
            STREAM_LISTPACKS_2 => "stream listpacks2",
            SET_LISTPACK => "set listpack",
            STREAM_LISTPACKS_3 => "stream listpacks3",
            _ => "unknown",
        }
    }
}

/// Top two bits of a length byte: 6-bit length.
pub const LEN_6BIT: u8 = 0;
/// 14-bit length: 6 bits here, 8 in the next byte (big endian).
pub const LEN_14BIT: u8 = 1;
/// Special encoding: the low 6 bits say which ([`ENC_INT8`] ..).
pub const LEN_ENCVAL: u8 = 3;
/// A whole byte: a 32-bit big-endian length follows.
pub const LEN_32BIT: u8 = 0x80;
/// A whole byte: a 64-bit big-endian length follows.
pub const LEN_64BIT: u8 = 0x81;

/// String encodings behind [`LEN_ENCVAL`].
pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

/// Quicklist 2 node containers.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// Append the shortest length encoding of `len` (`rdbSaveLen`).
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(((len >> 8) as u8) | (LEN_14BIT << 6));
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// The name a module type id stands for (`moduleTypeNameByID`): nine
/// characters of six bits each above ten bits of encoding version.
pub fn module_type_name(id: u64) -> String {
    const CSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = [0u8; 9];
    let mut v = id >> 10;
    for slot in name.iter_mut().rev() {
        *slot = CSET[(v & 63) as usize];
        v >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// Redis's CRC64 (Jones polynomial, reflected, zero init): the file
/// checksum and the DUMP payload checksum. Slice-by-16 tables, 32 KB.
pub static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// A running CRC64.
pub type Crc64Digest = Digest<'static, u64, Table<16>>;

/// CRC64 of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_test_vector() {
        // crc64.c's own test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn lengths_use_shortest_form() {
        let enc = |n| {
            let mut v = Vec::new();
            write_len(&mut v, n);
            v
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(63), [0x3f]);
        assert_eq!(enc(64), [0x40, 0x40]);
        assert_eq!(enc(16383), [0x7f, 0xff]);
        assert_eq!(enc(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(enc(u32::MAX as u64), [0x80, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(enc(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn module_names_decode() {
        // "ReJSON-RL" with encoding version 3, built the way Redis does.
        let cset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id: u64 = 0;
        for c in b"ReJSON-RL" {
            id = (id << 6) | cset.iter().position(|x| x == c).unwrap() as u64;
        }
        id = (id << 10) | 3;
        assert_eq!(module_type_name(id), "ReJSON-RL");
    }
}
