//! The write-ahead journal of the sled engine: each committed transaction is one record, in
//! commit order, appended to segment files in `<store>/journal/`.
//!
//! A transaction is durable once its record is written and `fdatasync`ed: one sync covers
//! every record committed since the last one (group commit). sled itself is only brought up to
//! date later, in bulk, by the checkpoint (see `sled.rs`); a segment is deleted once every
//! record in it is in sled and sled has flushed.
//!
//! Record: `len: u32 LE | crc32(payload): u32 LE | payload`, payload:
//! `seq: u64 LE | count: u32 LE | count × (tree: u8 | key_len: u32 LE | key | op)`, where `tree` is
//! the tree's position in the list of names the engine was opened with, and `op` is
//! `0` (removed) or `1 | val_len: u32 LE | val` (written).
//! A crash can leave a torn record at the end of a segment; reading stops there. Segment files are
//! named after the seq of their first record, zero-padded, so name order is commit order.

use crate::overlay::WriteSet;
use crate::{KvError, TreeId};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One committed transaction, read back from the journal.
#[derive(Debug)]
pub struct Record {
    pub seq: u64,
    pub writes: WriteSet,
}

/// Appends the record of transaction `seq` to `out`.
pub fn encode(seq: u64, writes: &WriteSet, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(writes.len() as u32).to_le_bytes());
    for (tree, key, slot) in writes.iter() {
        out.push(tree.index() as u8);
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        match slot {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    let payload_len = (out.len() - start - 8) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A cursor over a payload; every read fails on a short buffer.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
}

/// Decodes one record's payload for an engine of `trees` trees.
fn decode(payload: &[u8], trees: usize) -> Option<Record> {
    let mut r = Reader(payload);
    let seq = r.u64()?;
    let count = r.u32()?;
    let mut writes = WriteSet::default();
    for _ in 0..count {
        let tree = r.u8()?;
        if usize::from(tree) >= trees {
            return None;
        }
        let tree = TreeId::new(tree);
        let klen = r.u32()? as usize;
        let key = r.take(klen)?.to_vec();
        let slot = match r.u8()? {
            0 => None,
            1 => {
                let vlen = r.u32()? as usize;
                Some(r.take(vlen)?.to_vec())
            }
            _ => return None,
        };
        writes.put(tree, key, slot);
    }
    r.0.is_empty().then_some(Record { seq, writes })
}

/// The complete records at the start of `bytes`, and whether a torn or corrupt record ended them.
fn parse_segment(bytes: &[u8], trees: usize) -> (Vec<Record>, bool) {
    let mut records = Vec::new();
    let mut r = Reader(bytes);
    while !r.0.is_empty() {
        let record = (|| {
            let len = r.u32()? as usize;
            let crc = r.u32()?;
            let payload = r.take(len)?;
            if crc32fast::hash(payload) != crc {
                return None;
            }
            decode(payload, trees)
        })();
        match record {
            Some(rec) => records.push(rec),
            None => return (records, true),
        }
    }
    (records, false)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> KvError {
    KvError::Io(format!("{what} {}: {e}", path.display()))
}

fn segment_files(dir: &Path) -> Result<Vec<PathBuf>, KvError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io("reading", dir, e))? {
        let path = entry.map_err(|e| io("reading", dir, e))?.path();
        if path.extension().is_some_and(|x| x == "wal") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every record in the journal in `dir` (created if missing) of an engine of `trees` trees, in
/// commit order, each once.
///
/// A torn record ends its segment (a crash during a write that was never reported durable). A
/// record seen twice (a write retried into a new segment after an I/O error) is kept once. A gap
/// in the sequence means records that were reported durable are missing: that is corruption.
pub fn recover(dir: &Path, trees: usize) -> Result<Vec<Record>, KvError> {
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let mut out: Vec<Record> = Vec::new();
    for path in segment_files(dir)? {
        let bytes = std::fs::read(&path).map_err(|e| io("reading", &path, e))?;
        let (records, torn) = parse_segment(&bytes, trees);
        if torn {
            tracing::warn!(segment = %path.display(), "journal segment ends in a torn record (a write interrupted by a crash); ignoring the rest of it");
        }
        for rec in records {
            match out.last().map(|l| l.seq + 1) {
                Some(next) if rec.seq < next => continue,
                Some(next) if rec.seq > next => {
                    return Err(KvError::Corrupt(format!(
                        "journal {}: record {} follows record {}; records in between are missing",
                        path.display(),
                        rec.seq,
                        next - 1
                    )))
                }
                _ => out.push(rec),
            }
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// The seq of the last record written to it, if any.
    last_seq: Option<u64>,
    bytes: u64,
}

/// The open journal: appends to the newest segment.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    /// Every segment on disk, oldest first; the last one is `file`.
    segments: Vec<Segment>,
    /// A write to `file` failed part-way: its tail may be torn, so the next append starts a
    /// new segment (a reader stops at a torn record, and would miss everything after it).
    poisoned: bool,
}

impl Journal {
    /// Starts a journal in `dir` whose next record is `next_seq`, deleting every old segment
    /// (call it only once their records are all in sled, flushed).
    pub fn start(dir: &Path, next_seq: u64) -> Result<Journal, KvError> {
        for old in segment_files(dir)? {
            std::fs::remove_file(&old).map_err(|e| io("removing", &old, e))?;
        }
        let (file, path) = create_segment(dir, next_seq)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            file,
            segments: vec![Segment {
                path,
                last_seq: None,
                bytes: 0,
            }],
            poisoned: false,
        })
    }

    /// Writes records `first..=last` (encoded in `bytes`) and syncs them to disk.
    pub fn append(&mut self, bytes: &[u8], first: u64, last: u64) -> Result<(), KvError> {
        if self.poisoned {
            self.rotate(first)?;
        }
        let path = self.current().path.clone();
        let written = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.poisoned = true;
            return Err(io("writing", &path, e));
        }
        self.poisoned = false;
        if let Some(s) = self.segments.last_mut() {
            s.last_seq = Some(last);
            s.bytes += bytes.len() as u64;
        }
        Ok(())
    }

    /// Starts a new segment for records from `next_seq` on, so older ones can be deleted once
    /// checkpointed. A current segment with no good record yet is reused instead (emptied if a
    /// write to it failed): a second segment of the same name would be the same file.
    pub fn rotate(&mut self, next_seq: u64) -> Result<(), KvError> {
        if self.current().last_seq.is_none() {
            if self.poisoned {
                let path = self.current().path.clone();
                self.file.set_len(0).map_err(|e| io("emptying", &path, e))?;
                self.poisoned = false;
            }
            return Ok(());
        }
        let (file, path) = create_segment(&self.dir, next_seq)?;
        self.file = file;
        self.poisoned = false;
        self.segments.push(Segment {
            path,
            last_seq: None,
            bytes: 0,
        });
        Ok(())
    }

    /// Deletes the segments, other than the current one, whose records are all at or below
    /// `applied` (in sled and flushed).
    pub fn remove_through(&mut self, applied: u64) -> Result<(), KvError> {
        while self.segments.len() > 1 && self.segments[0].last_seq.is_none_or(|l| l <= applied) {
            let old = &self.segments[0].path;
            std::fs::remove_file(old).map_err(|e| io("removing", old, e))?;
            self.segments.remove(0);
        }
        Ok(())
    }

    /// How much the current segment holds.
    pub fn segment_bytes(&self) -> u64 {
        self.current().bytes
    }

    fn current(&self) -> &Segment {
        // `start` creates one and nothing removes the last.
        &self.segments[self.segments.len() - 1]
    }
}

/// Creates the segment starting at `seq` (emptying a leftover file of that name) and makes its
/// directory entry durable. Opened for appending, so every write lands at the end even after
/// the file is emptied.
/// Checks the tree names an engine opens the journal in `dir` with against those it was written
/// for, kept in `dir/trees`, and records them. A record names its tree by position, so a list
/// with trees reordered or removed would replay writes into the wrong tree (or drop them as
/// unreadable): that is refused as corruption. A list that only adds trees at the end is
/// accepted and recorded. A journal from before this file existed gets one.
pub fn check_trees(dir: &Path, names: &[&str]) -> Result<(), KvError> {
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let path = dir.join("trees");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: Vec<&str> = text.lines().collect();
            let extends =
                stored.len() <= names.len() && stored.iter().zip(names).all(|(a, b)| a == b);
            if !extends {
                return Err(KvError::Corrupt(format!(
                    "the journal in {} was written for the trees {stored:?}, not {names:?}",
                    dir.display()
                )));
            }
            if stored.len() == names.len() {
                return Ok(());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading", &path, e)),
    }
    let tmp = dir.join("trees.tmp");
    let mut file = File::create(&tmp).map_err(|e| io("creating", &tmp, e))?;
    file.write_all(names.join("\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("writing", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io("renaming", &tmp, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("syncing", dir, e))
}

fn create_segment(dir: &Path, seq: u64) -> Result<(File, PathBuf), KvError> {
    let path = dir.join(format!("{seq:020}.wal"));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|f| f.set_len(0).map(|()| f))
        .map_err(|e| io("creating", &path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("syncing", dir, e))?;
    Ok((file, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trees of the engines these records are written for.
    const TREES: usize = 12;
    const OUTBOX: TreeId = TreeId::new(8);

    fn set(key: &[u8], value: Option<&[u8]>) -> WriteSet {
        let mut w = WriteSet::default();
        w.put(OUTBOX, key.to_vec(), value.map(<[u8]>::to_vec));
        w
    }

    fn seqs(dir: &Path) -> Vec<u64> {
        recover(dir, TREES)
            .expect("recover")
            .iter()
            .map(|r| r.seq)
            .collect()
    }

    fn records(j: &mut Journal, range: std::ops::RangeInclusive<u64>) {
        let mut buf = Vec::new();
        for s in range.clone() {
            encode(s, &set(&s.to_be_bytes(), Some(b"v")), &mut buf);
        }
        j.append(&buf, *range.start(), *range.end())
            .expect("append");
    }

    #[test]
    fn records_read_back_in_order_with_their_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::start(dir.path(), 1).expect("start");
        let mut buf = Vec::new();
        encode(1, &set(b"a", Some(b"1")), &mut buf);
        encode(2, &set(b"a", None), &mut buf);
        j.append(&buf, 1, 2).expect("append");
        assert_eq!(seqs(dir.path()), [1, 2]);
        let got = recover(dir.path(), TREES).expect("recover");
        assert_eq!(got[0].writes.get(OUTBOX, b"a"), Some(&Some(b"1".to_vec())));
        assert_eq!(got[1].writes.get(OUTBOX, b"a"), Some(&None));
    }

    #[test]
    fn a_torn_tail_is_ignored_and_every_complete_record_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::start(dir.path(), 1).expect("start");
        records(&mut j, 1..=3);
        let path = j.current().path.clone();
        let len = std::fs::metadata(&path).expect("meta").len();
        // Cut the last record short, as a crash mid-write would; then damage the second one.
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(len - 3).expect("truncate");
        assert_eq!(recover(dir.path(), TREES).expect("recover").len(), 2);
        let mut bytes = std::fs::read(&path).expect("read");
        let second_ends = 2 * (len as usize / 3);
        bytes[second_ends - 1] ^= 0xff;
        std::fs::write(&path, bytes).expect("write");
        assert_eq!(recover(dir.path(), TREES).expect("recover").len(), 1);
    }

    #[test]
    fn a_retried_write_in_a_new_segment_is_read_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::start(dir.path(), 1).expect("start");
        records(&mut j, 1..=3);
        // As after a failed sync: records 2..=3 are written again into the next segment.
        j.poisoned = true;
        records(&mut j, 2..=4);
        assert_eq!(j.segments.len(), 2);
        assert_eq!(seqs(dir.path()), [1, 2, 3, 4]);
    }

    /// A failed first write into a fresh segment, then a good retry: the segment is reused, not
    /// listed twice (deleting the "older" entry would unlink the live file).
    #[test]
    fn a_failed_first_write_reuses_its_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::start(dir.path(), 1).expect("start");
        j.file.write_all(b"torn").expect("half a record");
        j.poisoned = true;
        records(&mut j, 1..=2);
        assert_eq!(j.segments.len(), 1);
        j.remove_through(0).expect("remove");
        assert_eq!(seqs(dir.path()), [1, 2]);
    }

    #[test]
    fn missing_records_are_reported_as_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::start(dir.path(), 1).expect("start");
        records(&mut j, 1..=2);
        j.rotate(5).expect("rotate");
        records(&mut j, 5..=6);
        let err = recover(dir.path(), TREES).expect_err("a gap");
        assert!(
            err.to_string().contains("record 5 follows record 2"),
            "{err}"
        );
    }

    #[test]
    fn checkpointed_segments_are_removed_and_the_current_one_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::start(dir.path(), 1).expect("start");
        records(&mut j, 1..=2);
        j.rotate(3).expect("rotate");
        records(&mut j, 3..=4);
        j.rotate(5).expect("rotate");
        j.remove_through(3).expect("remove");
        assert_eq!(segment_files(dir.path()).expect("list").len(), 2);
        j.remove_through(4).expect("remove");
        assert_eq!(segment_files(dir.path()).expect("list").len(), 1);
        assert!(recover(dir.path(), TREES).expect("recover").is_empty());
    }

    /// The record decoder on hostile bytes: random segments, and valid segments truncated or
    /// with bits flipped, never panic, and every record they yield is one that was written (a
    /// record with a bad CRC is never returned). Fixed seed, bounded cases.
    mod hostile {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::Config;

        /// The workspace's one proptest configuration (fixed seed in CI, long on request).
        fn config() -> Config {
            civicbridge_api::testing::fuzz_config(512)
        }

        /// One transaction's writes: (tree index, key, value or removal).
        type Writes = Vec<(u8, Vec<u8>, Option<Vec<u8>>)>;

        fn writes() -> impl Strategy<Value = Writes> {
            proptest::collection::vec(
                (
                    0u8..12,
                    proptest::collection::vec(any::<u8>(), 0..12),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                ),
                0..6,
            )
        }

        fn segment(records: &[Writes]) -> (Vec<u8>, Vec<Vec<u8>>) {
            let mut out = Vec::new();
            let mut each = Vec::new();
            for (i, ws) in records.iter().enumerate() {
                let mut w = WriteSet::default();
                for (t, k, v) in ws {
                    w.put(TreeId::new(*t % TREES as u8), k.clone(), v.clone());
                }
                let mut one = Vec::new();
                encode(i as u64 + 1, &w, &mut one);
                each.push(one.clone());
                out.extend(one);
            }
            (out, each)
        }

        /// Re-encodes what was decoded, to compare with what was written.
        fn reencoded(r: &Record) -> Vec<u8> {
            let mut out = Vec::new();
            encode(r.seq, &r.writes, &mut out);
            out
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn fuzz_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse_segment(&bytes, TREES);
            }

            #[test]
            fn fuzz_truncated_segments_yield_a_prefix_of_what_was_written(
                records in proptest::collection::vec(writes(), 1..5),
                cut in any::<prop::sample::Index>(),
            ) {
                let (bytes, each) = segment(&records);
                let at = cut.index(bytes.len() + 1);
                let (got, torn) = parse_segment(&bytes[..at], TREES);
                prop_assert!(got.len() <= each.len());
                for (r, want) in got.iter().zip(&each) {
                    prop_assert_eq!(&reencoded(r), want);
                }
                // Cut at a record boundary, the segment simply ends; anywhere else it is torn.
                let mut boundary = 0;
                let mut on_boundary = at == 0;
                for one in &each {
                    boundary += one.len();
                    on_boundary |= boundary == at;
                }
                prop_assert_eq!(torn, !on_boundary);
            }

            #[test]
            fn fuzz_flipped_bits_never_yield_a_record_that_was_not_written(
                records in proptest::collection::vec(writes(), 1..5),
                flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
            ) {
                let (mut bytes, each) = segment(&records);
                for (i, bit) in &flips {
                    let at = i.index(bytes.len());
                    bytes[at] ^= 1 << bit;
                }
                let (got, _) = parse_segment(&bytes, TREES);
                // CRC-32 detects every burst of up to 32 bits, so with a few flips every
                // record returned is byte for byte one that was written, in order.
                for (r, want) in got.iter().zip(&each) {
                    prop_assert_eq!(&reencoded(r), want);
                }
            }
        }
    }
}
