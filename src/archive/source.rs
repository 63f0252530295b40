//! Reading the archive back: list the objects under `s3://BUCKET/PREFIX` or a directory, and read
//! each one as a stream (gzip NDJSON with any number of members, or plain NDJSON) one record at a
//! time, so memory stays bounded whatever the object's size.
//!
//! A directory is untrusted: symbolic links are not followed (unless asked, and then only to
//! regular files, each named), only regular files are opened (never a named pipe, a device or a
//! socket: checked before opening, and opened non-blocking and checked again, so nothing can make
//! the reader wait forever), and every entry left out is named with its reason
//! ([`Listing::skipped`]).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::transaction::Transaction;

/// Longest line read (a Firehose record is at most 1,000 KiB; plain NDJSON from elsewhere gets
/// some room). Longer lines are reported, not buffered.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Firehose partitions by arrival time, never before a request happened, so a partition that
/// ended this long before `--since` cannot hold a matching record (clock skew allowance).
const PRUNE_SLACK_MS: i64 = 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0:?} is neither s3://BUCKET/PREFIX nor an existing directory")]
    BadLocation(String),
    #[error("cannot list {location}: {cause}")]
    List { location: String, cause: String },
    #[error("cannot open {key}: {cause}")]
    Open { key: String, cause: String },
}

/// Where the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, prefix: String },
    Dir(PathBuf),
}

impl Location {
    pub fn parse(s: &str) -> Result<Location, SourceError> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(SourceError::BadLocation(s.to_string()));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        let p = PathBuf::from(s);
        if p.is_dir() {
            Ok(Location::Dir(p))
        } else {
            Err(SourceError::BadLocation(s.to_string()))
        }
    }

    /// How an object is named to a person: `s3://bucket/key` or the file path.
    pub fn display_key(&self, key: &str) -> String {
        match self {
            Location::S3 { bucket, .. } => format!("s3://{bucket}/{key}"),
            Location::Dir(_) => key.to_string(),
        }
    }
}

/// One archived object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// S3 key, or the file path.
    pub key: String,
    pub size: u64,
}

/// An entry of the archive left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedObject {
    /// S3 key or file path.
    pub key: String,
    pub reason: String,
}

/// What listing found: the objects to read, sorted by key, and the entries left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<ObjectRef>,
    pub skipped: Vec<SkippedObject>,
}

pub struct ArchiveReader {
    location: Location,
    s3: Option<aws_sdk_s3::Client>,
    follow_symlinks: bool,
}

impl ArchiveReader {
    /// `s3` is required for an S3 location.
    pub fn new(location: Location, s3: Option<aws_sdk_s3::Client>) -> Self {
        ArchiveReader {
            location,
            s3,
            follow_symlinks: false,
        }
    }

    /// Follow symbolic links to regular files (wherever they point); off by default, when links
    /// are skipped and named. Links to directories are never followed.
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Every object, sorted by key, minus hour partitions that ended well before `since_ms`; and
    /// the entries of a directory left out (links, pipes, devices…), each with its reason.
    pub async fn list(&self, since_ms: Option<i64>) -> Result<Listing, SourceError> {
        let mut listing = match &self.location {
            Location::Dir(dir) => {
                let mut l = Listing::default();
                walk(dir, self.follow_symlinks, &mut l).map_err(|e| SourceError::List {
                    location: dir.display().to_string(),
                    cause: e.to_string(),
                })?;
                l
            }
            Location::S3 { bucket, prefix } => Listing {
                objects: self.list_s3(bucket, prefix).await?,
                skipped: Vec::new(),
            },
        };
        if let Some(since) = since_ms {
            listing
                .objects
                .retain(|o| match super::partition_start_ms(&o.key) {
                    Some(start) => start + 3_600_000 + PRUNE_SLACK_MS > since,
                    None => true,
                });
        }
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.skipped.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listing)
    }

    async fn list_s3(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectRef>, SourceError> {
        let err = |cause: String| SourceError::List {
            location: format!("s3://{bucket}/{prefix}"),
            cause,
        };
        let client = self.s3.as_ref().ok_or_else(|| err("no S3 client".into()))?;
        let mut pages = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| err(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push(ObjectRef {
                        key: key.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                    });
                }
            }
        }
        Ok(out)
    }

    /// A blocking reader over the object's bytes, for [`read_records`] on a blocking thread.
    /// Must be called inside the Tokio runtime.
    pub async fn open(&self, obj: &ObjectRef) -> Result<Box<dyn Read + Send>, SourceError> {
        let err = |cause: String| SourceError::Open {
            key: self.location.display_key(&obj.key),
            cause,
        };
        match &self.location {
            Location::Dir(_) => {
                let f = open_regular(Path::new(&obj.key), self.follow_symlinks).map_err(err)?;
                Ok(Box::new(f))
            }
            Location::S3 { bucket, .. } => {
                let client = self.s3.as_ref().ok_or_else(|| err("no S3 client".into()))?;
                let out = client
                    .get_object()
                    .bucket(bucket)
                    .key(&obj.key)
                    .send()
                    .await
                    .map_err(|e| err(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
                let body = out.body.into_async_read();
                Ok(Box::new(tokio_util::io::SyncIoBridge::new(body)))
            }
        }
    }
}

fn walk(dir: &Path, follow: bool, out: &mut Listing) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        // Temporary files of a writer still at work.
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let key = path.display().to_string();
        // `DirEntry::file_type` does not follow links.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, follow, out)?;
            continue;
        }
        let meta = if kind.is_symlink() {
            match (follow, std::fs::metadata(&path)) {
                (false, _) => {
                    out.skipped.push(SkippedObject {
                        key,
                        reason: "symbolic link, not followed (--follow-symlinks follows links to regular files)".into(),
                    });
                    continue;
                }
                (true, Ok(m)) if m.is_file() => {
                    tracing::warn!(path = %key, "following a symbolic link (--follow-symlinks)");
                    m
                }
                (true, Ok(m)) => {
                    out.skipped.push(SkippedObject {
                        key,
                        reason: format!("symbolic link to {}", kind_name(&m.file_type())),
                    });
                    continue;
                }
                (true, Err(e)) => {
                    out.skipped.push(SkippedObject {
                        key,
                        reason: format!("symbolic link that cannot be resolved: {e}"),
                    });
                    continue;
                }
            }
        } else if kind.is_file() {
            entry.metadata()?
        } else {
            out.skipped.push(SkippedObject {
                key,
                reason: format!("{}, not a regular file", kind_name(&kind)),
            });
            continue;
        };
        out.objects.push(ObjectRef {
            key,
            size: meta.len(),
        });
    }
    Ok(())
}

/// What a file type is, in words.
fn kind_name(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "an unknown kind of file"
    }
}

/// Open `path` only if it is a regular file: checked without following links (unless `follow`),
/// opened non-blocking (a pipe swapped in after the check cannot make `open` wait for a writer)
/// and without following a final link, then checked again on the open handle.
pub fn open_regular(path: &Path, follow: bool) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let before = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    }
    .map_err(|e| e.to_string())?;
    if !before.is_file() {
        return Err(format!(
            "{}, not a regular file",
            kind_name(&before.file_type())
        ));
    }
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| e.to_string())?;
    let after = f.metadata().map_err(|e| e.to_string())?;
    if !after.is_file() || (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err("replaced by something else than the regular file listed".into());
    }
    Ok(f)
}

/// What reading one object found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRead {
    pub records: u64,
    /// Lines that are not canonical records (each is skipped).
    pub bad_lines: u64,
    /// The first bad line: `line N: cause`.
    pub first_bad: Option<String>,
}

/// The object could not be read to its end (not gzip, truncated, I/O): what was read before the
/// failure was handed on already.
#[derive(Debug, thiserror::Error)]
#[error("after {records} records: {cause}")]
pub struct CorruptObject {
    pub records: u64,
    pub cause: String,
}

/// Read records from `input` (gzip, detected by its magic bytes, or plain NDJSON) and hand each to
/// `each`; `each` returns false to stop early.
pub fn read_records(
    input: impl Read,
    mut each: impl FnMut(Transaction) -> bool,
) -> Result<ObjectRead, CorruptObject> {
    read_records_sized(input, |t, _| each(t))
}

/// [`read_records`], handing each record with the length of its line in bytes (to bound memory
/// by bytes rather than by record count).
pub fn read_records_sized(
    input: impl Read,
    mut each: impl FnMut(Transaction, usize) -> bool,
) -> Result<ObjectRead, CorruptObject> {
    let mut raw = BufReader::with_capacity(64 * 1024, input);
    let head = raw.fill_buf().map_err(|e| CorruptObject {
        records: 0,
        cause: e.to_string(),
    })?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let mut lines: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            64 * 1024,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    let mut read = ObjectRead::default();
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let got = (&mut lines)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CorruptObject {
                records: read.records,
                cause: if gzip {
                    format!("gzip: {e}")
                } else {
                    e.to_string()
                },
            })?;
        if got == 0 {
            return Ok(read);
        }
        n += 1;
        if buf.len() > MAX_LINE_BYTES {
            return Err(CorruptObject {
                records: read.records,
                cause: format!("line {n} is longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Transaction>(&buf) {
            Ok(t) => {
                read.records += 1;
                if !each(t, buf.len()) {
                    return Ok(read);
                }
            }
            Err(e) => {
                read.bad_lines += 1;
                read.first_bad
                    .get_or_insert_with(|| format!("line {n}: not a canonical record: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Source;
    use std::io::Write;

    fn line(i: i64) -> String {
        let t = Transaction::new(format!("id-{i}"), i, Source::default());
        format!("{}\n", serde_json::to_string(&t).unwrap())
    }

    fn gz(s: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(s.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn several_gzip_members_and_plain_ndjson_read_alike() {
        let mut two = gz(&(line(1) + &line(2)));
        two.extend(gz(&line(3)));
        let mut ids = Vec::new();
        let r = read_records(two.as_slice(), |t| {
            ids.push(t.time_ms);
            true
        })
        .unwrap();
        assert_eq!((ids, r.records), (vec![1, 2, 3], 3));
        let plain = line(7) + "\n" + &line(8);
        let r = read_records(plain.as_bytes(), |_| true).unwrap();
        assert_eq!(r.records, 2);
    }

    #[test]
    fn a_bad_line_is_counted_and_a_truncated_gzip_is_corrupt() {
        let text = line(1) + "{\"nope\":1}\n" + &line(2);
        let r = read_records(text.as_bytes(), |_| true).unwrap();
        assert_eq!((r.records, r.bad_lines), (2, 1));
        assert!(r.first_bad.unwrap().starts_with("line 2:"));
        let whole = gz(&(0..200).map(line).collect::<String>());
        let cut = &whole[..whole.len() / 2];
        let e = read_records(cut, |_| true).unwrap_err();
        assert!(e.cause.contains("gzip"), "{e}");
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://b/apigw-stream/v1/").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "apigw-stream/v1/".into()
            }
        );
        assert_eq!(
            Location::parse("s3://b").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert!(Location::parse("s3:///x").is_err());
        assert!(Location::parse("/definitely/not/here").is_err());
    }
}
