//! Stream nodes: how a stream keeps its entries in listpacks (`t_stream.c`).
//!
//! A node is keyed by its master ID (16 bytes big endian, the ID of the
//! first entry ever put in it) and holds one listpack:
//!
//! ```text
//! count | deleted | n-fields | field-1 .. field-n | 0          (master entry)
//! flags | ms-diff | seq-diff | n | f1 v1 .. fn vn | lp-count   (an entry)
//! flags | ms-diff | seq-diff | v1 .. vn | lp-count             (SAMEFIELDS)
//! ```
//!
//! IDs are deltas from the master ID; an entry with the master's field
//! names stores only values (flag 2); a deleted entry stays with flag 1
//! until its node goes; lp-count is the entry's element count (for walking
//! backwards).
//!
//! Invariants kept here:
//! - the decoder checks what `streamValidateListpackIntegrity` checks
//!   (every count an integer, the master terminator 0, each lp-count, no
//!   trailing elements) and also that the live and deleted entries match
//!   the master's counts; it never panics;
//! - the encoder lays out nodes as `streamAppendItem` does when entries are
//!   added in order: a new node when the current one would reach
//!   `stream-node-max-bytes` or holds `stream-node-max-entries`, the first
//!   entry's fields as master fields, SAMEFIELDS whenever they match, so a
//!   stream built by XADD encodes to the bytes Redis writes.

use super::error::BlobError;
use super::listpack::{int_entry_size, Elem, Iter, Listpack, ListpackBuilder};
use super::value::{StreamEntry, StreamId};

/// Entry flags.
pub const FLAG_DELETED: i64 = 1;
pub const FLAG_SAMEFIELDS: i64 = 2;
/// `STREAM_LISTPACK_MAX_SIZE`: the byte limit when none is configured.
pub const MAX_NODE_BYTES: usize = 1 << 30;

fn next<'a>(it: &mut Iter<'a>) -> Result<Elem<'a>, BlobError> {
    let at = it.offset();
    match it.next() {
        Some(r) => r,
        None => Err(BlobError::new(at, "stream node ends early")),
    }
}

fn next_int(it: &mut Iter<'_>, what: &str) -> Result<i64, BlobError> {
    let at = it.offset();
    next(it)?
        .as_int()
        .ok_or_else(|| BlobError::new(at, format!("stream node {what} is not an integer")))
}

fn next_count(it: &mut Iter<'_>, what: &str) -> Result<u64, BlobError> {
    let at = it.offset();
    let v = next_int(it, what)?;
    u64::try_from(v).map_err(|_| BlobError::new(at, format!("stream node {what} is negative")))
}

/// Decode the node whose key is `master`: its live entries, in order.
pub fn decode_node(master: StreamId, blob: &[u8]) -> Result<Vec<StreamEntry>, BlobError> {
    let lp = Listpack::new(blob)?;
    if lp.is_empty() {
        return Err(BlobError::new(6, "empty listpack inside stream"));
    }
    let mut it = lp.iter();
    let count = next_count(&mut it, "entry count")?;
    let deleted = next_count(&mut it, "deleted count")?;
    let n_master = next_count(&mut it, "master field count")?;
    let mut master_fields: Vec<Vec<u8>> = Vec::new();
    for _ in 0..n_master {
        master_fields.push(next(&mut it)?.to_vec());
    }
    let at = it.offset();
    if next_int(&mut it, "master terminator")? != 0 {
        return Err(BlobError::new(
            at,
            "stream master entry not terminated by 0",
        ));
    }
    let total = count
        .checked_add(deleted)
        .ok_or_else(|| BlobError::new(0, "stream node counts overflow"))?;
    let mut entries = Vec::new();
    let (mut live, mut dead) = (0u64, 0u64);
    for _ in 0..total {
        let flags = next_int(&mut it, "entry flags")?;
        let ms_diff = next_int(&mut it, "entry ID")?;
        let seq_diff = next_int(&mut it, "entry ID")?;
        let mut fields = Vec::new();
        let expected_count = if flags & FLAG_SAMEFIELDS != 0 {
            for f in &master_fields {
                fields.push((f.clone(), next(&mut it)?.to_vec()));
            }
            n_master + 3
        } else {
            let n = next_count(&mut it, "entry field count")?;
            for _ in 0..n {
                let f = next(&mut it)?.to_vec();
                let v = next(&mut it)?.to_vec();
                fields.push((f, v));
            }
            n.checked_mul(2)
                .and_then(|x| x.checked_add(4))
                .ok_or_else(|| BlobError::new(0, "stream entry field count overflows"))?
        };
        let at = it.offset();
        let lp_count = next_int(&mut it, "lp-count")?;
        if lp_count as u64 != expected_count {
            return Err(BlobError::new(
                at,
                "stream entry lp-count does not match its fields",
            ));
        }
        if flags & FLAG_DELETED != 0 {
            dead += 1;
            continue;
        }
        live += 1;
        let id = StreamId::new(
            master.ms.wrapping_add(ms_diff as u64),
            master.seq.wrapping_add(seq_diff as u64),
        );
        entries.push(StreamEntry { id, fields });
    }
    let at = it.offset();
    match it.next() {
        None => {}
        Some(Err(e)) => return Err(e),
        Some(Ok(_)) => {
            return Err(BlobError::new(
                at,
                "stream node has elements after its entries",
            ))
        }
    }
    if live != count || dead != deleted {
        return Err(BlobError::new(
            0,
            format!(
                "stream node says {count} live and {deleted} deleted entries, holds {live} and {dead}"
            ),
        ));
    }
    Ok(entries)
}

/// Node limits (`stream-node-max-bytes`, `stream-node-max-entries`; 0 means
/// no limit).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

/// Lays entries into nodes as XADD would, handing out each finished node
/// (master ID, listpack).
pub struct NodeEncoder {
    max_bytes: usize,
    max_entries: usize,
    /// The node's first ID and master field names (owned: entries may come
    /// from buffers that do not outlive the node).
    master: Option<(StreamId, Vec<Vec<u8>>)>,
    /// Entries in the current node.
    count: usize,
    /// The current node after its first element (the live count, which
    /// changes size as it grows and is put in front at the end).
    body: ListpackBuilder,
    node: ListpackBuilder,
    nodes: u64,
}

impl NodeEncoder {
    pub fn new(limits: NodeLimits) -> NodeEncoder {
        let max_bytes = match limits.max_bytes {
            0 => MAX_NODE_BYTES,
            n => n.min(MAX_NODE_BYTES),
        };
        NodeEncoder {
            max_bytes,
            max_entries: limits.max_entries,
            master: None,
            count: 0,
            body: ListpackBuilder::new(),
            node: ListpackBuilder::new(),
            nodes: 0,
        }
    }

    /// Nodes handed out so far.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    /// Add the next entry (IDs must ascend). `emit` gets any node this
    /// closes.
    pub fn add<'f, I, E>(&mut self, id: StreamId, fields: I, emit: &mut E) -> std::io::Result<()>
    where
        I: Iterator<Item = (&'f [u8], &'f [u8])> + Clone,
        E: FnMut(StreamId, &[u8]) -> std::io::Result<()>,
    {
        if self.master.is_some() {
            let totelelen: usize = fields.clone().map(|(f, v)| f.len() + v.len()).sum();
            let lp_bytes = 6 + int_entry_size(self.count as i64) + self.body.entries().len() + 1;
            let full = lp_bytes + totelelen >= self.max_bytes
                || (self.max_entries != 0 && self.count >= self.max_entries);
            if full {
                self.flush(emit)?;
            }
        }
        let nfields = fields.clone().count() as i64;
        let same = match &self.master {
            None => {
                // A new node: this entry's fields become the master fields.
                self.body.clear();
                self.body.push_int(0); // deleted
                self.body.push_int(nfields);
                let names: Vec<Vec<u8>> = fields.clone().map(|(f, _)| f.to_vec()).collect();
                for f in &names {
                    self.body.push(f);
                }
                self.body.push_int(0); // master terminator
                self.master = Some((id, names));
                self.count = 0;
                true
            }
            Some((_, names)) => {
                names.len() == nfields as usize
                    && names
                        .iter()
                        .zip(fields.clone())
                        .all(|(m, (f, _))| m.as_slice() == f)
            }
        };
        let master_id = self.master.as_ref().map(|(m, _)| *m).unwrap_or_default();
        self.count += 1;
        let body = &mut self.body;
        body.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
        body.push_int(id.ms.wrapping_sub(master_id.ms) as i64);
        body.push_int(id.seq.wrapping_sub(master_id.seq) as i64);
        if same {
            for (_, v) in fields {
                body.push(v);
            }
            body.push_int(nfields + 3);
        } else {
            body.push_int(nfields);
            for (f, v) in fields {
                body.push(f);
                body.push(v);
            }
            body.push_int(2 * nfields + 4);
        }
        Ok(())
    }

    /// Close the current node, if any.
    pub fn flush<E>(&mut self, emit: &mut E) -> std::io::Result<()>
    where
        E: FnMut(StreamId, &[u8]) -> std::io::Result<()>,
    {
        if let Some((master_id, _)) = self.master.take() {
            self.node.clear();
            self.node.push_int(self.count as i64);
            self.node
                .extend_encoded(self.body.entries(), self.body.count());
            emit(master_id, self.node.finish())?;
            self.nodes += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    fn encode(entries: &[(StreamId, Fields)], limits: NodeLimits) -> Vec<(StreamId, Vec<u8>)> {
        let mut nodes = Vec::new();
        let mut enc = NodeEncoder::new(limits);
        let mut emit = |id: StreamId, lp: &[u8]| {
            nodes.push((id, lp.to_vec()));
            Ok(())
        };
        for (id, f) in entries {
            enc.add(
                *id,
                f.iter().map(|(a, b)| (a.as_slice(), b.as_slice())),
                &mut emit,
            )
            .unwrap();
        }
        enc.flush(&mut emit).unwrap();
        nodes
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
            .collect()
    }

    const DEFAULT: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };

    #[test]
    fn one_entry_node_exact_bytes() {
        // XADD s 5-1 a 1: master count 1, deleted 0, 1 field "a", 0; then
        // flags 2 (SAMEFIELDS), ms-diff 0, seq-diff 0, value 1, lp-count 4.
        let nodes = encode(&[(StreamId::new(5, 1), fields(&[("a", "1")]))], DEFAULT);
        assert_eq!(nodes.len(), 1);
        let (id, lp) = &nodes[0];
        assert_eq!(*id, StreamId::new(5, 1));
        let want_entries: &[u8] = &[
            1, 1, 0, 1, 1, 1, 0x81, b'a', 2, 0,
            1, // master: 1 live, 0 deleted, 1 field, "a", 0
            2, 1, 0, 1, 0, 1, 1, 1, 4, 1, // flags 2, 0, 0, "1" as int 1, lp-count 4
        ];
        assert_eq!(&lp[6..lp.len() - 1], want_entries);
        assert_eq!(u16::from_le_bytes([lp[4], lp[5]]), 10);
        let back = decode_node(*id, lp).unwrap();
        assert_eq!(
            back,
            vec![StreamEntry {
                id: StreamId::new(5, 1),
                fields: fields(&[("a", "1")])
            }]
        );
    }

    #[test]
    fn mixed_fields_deltas_and_splits() {
        let mut entries = Vec::new();
        for i in 0..250u64 {
            let f = if i % 3 == 0 {
                fields(&[("name", "x"), ("n", &i.to_string())])
            } else {
                fields(&[("other", "y")])
            };
            // IDs whose seq goes down while ms goes up: negative seq deltas.
            entries.push((StreamId::new(1000 + i, 7 - (i % 2) * 7), f));
        }
        let nodes = encode(&entries, DEFAULT);
        assert_eq!(nodes.len(), 3); // 100 + 100 + 50 entries
        let mut back = Vec::new();
        for (id, lp) in &nodes {
            back.extend(decode_node(*id, lp).unwrap());
        }
        let want: Vec<StreamEntry> = entries
            .iter()
            .map(|(id, f)| StreamEntry {
                id: *id,
                fields: f.clone(),
            })
            .collect();
        assert_eq!(back, want);
    }

    #[test]
    fn byte_limit_splits_nodes() {
        let big = "v".repeat(1000);
        let entries: Vec<_> = (0..10u64)
            .map(|i| (StreamId::new(i + 1, 0), fields(&[("f", &big)])))
            .collect();
        let nodes = encode(&entries, DEFAULT);
        // About 1 KB per entry: a 4 KB node takes 4 entries before the next
        // one would reach the limit.
        assert!(nodes.len() >= 3, "{}", nodes.len());
        for (_, lp) in &nodes {
            assert!(lp.len() < 4096 + 1100);
        }
    }

    #[test]
    fn deleted_entries_are_skipped_and_counted() {
        // One node by hand: 1 live, 1 deleted entry.
        let mut b = ListpackBuilder::new();
        for v in [1i64, 1, 1] {
            b.push_int(v);
        }
        b.push(b"f");
        b.push_int(0);
        // deleted entry 10-0 (SAMEFIELDS | DELETED)
        for v in [3i64, 0, 0] {
            b.push_int(v);
        }
        b.push(b"gone");
        b.push_int(4);
        // live entry 10-1 with its own field
        for v in [0i64, 0, 1, 1] {
            b.push_int(v);
        }
        b.push(b"g");
        b.push(b"kept");
        b.push_int(6);
        let lp = b.finish().to_vec();
        let got = decode_node(StreamId::new(10, 0), &lp).unwrap();
        assert_eq!(
            got,
            vec![StreamEntry {
                id: StreamId::new(10, 1),
                fields: fields(&[("g", "kept")])
            }]
        );
    }

    #[test]
    fn corrupt_nodes_are_errors() {
        let nodes = encode(
            &[(StreamId::new(1, 1), fields(&[("a", "b"), ("c", "d")]))],
            DEFAULT,
        );
        let lp = &nodes[0].1;
        for i in 0..lp.len() {
            let _ = decode_node(StreamId::new(1, 1), &lp[..i]);
            for x in [0u8, 1, 2, 5, 0x7F, 0x81, 0xC0, 0xFF] {
                let mut m = lp.clone();
                m[i] = x;
                let _ = decode_node(StreamId::new(1, 1), &m);
            }
        }
        // Wrong master count.
        let mut m = lp.clone();
        m[6] = 2;
        assert!(decode_node(StreamId::new(1, 1), &m).is_err());
    }
}
