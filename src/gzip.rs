//! gzip facts shared by the payload decoder and the frame unpacker.

/// True when `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// deflate's largest ratio (RFC 1951 length codes: 258 bytes from 2 bits, about 1032:1).
const MAX_RATIO: usize = 1032;

/// The output buffer's first size: the gzip trailer's ISIZE (RFC 1952: the last member's length
/// mod 2^32), so a CloudWatch payload decompresses without regrowing and copying its buffer. It
/// comes from the input, so it is clamped to the cap and to what deflate can produce; without
/// one, the typical CloudWatch ratio (5-15x).
pub fn output_capacity(data: &[u8], limit: usize) -> usize {
    // Only a gzip stream (10-byte header, 8-byte trailer at least) has the trailer.
    let stated = (is_gzip(data) && data.len() >= 18)
        .then(|| data.last_chunk::<4>())
        .flatten()
        .map(|t| u32::from_le_bytes(*t) as usize);
    let guess = stated.unwrap_or(data.len().saturating_mul(8));
    guess
        .min(data.len().saturating_mul(MAX_RATIO))
        .min(limit.saturating_add(1))
}

/// Why [`gunzip_into`] stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GunzipError {
    #[error("no gzip data (empty input)")]
    Empty,
    /// zlib's reason, and where in the input it stopped.
    #[error("{cause} (gzip member {member}, input byte {at})")]
    Corrupt {
        cause: String,
        member: usize,
        at: usize,
    },
    #[error("truncated stream: the input ends inside gzip member {member}, after {at} bytes")]
    Truncated { member: usize, at: usize },
    #[error("decompresses to more than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Every gzip member of `data` (Firehose concatenates them) decompressed into `out` (emptied
/// first, its room kept: a buffer reused across payloads), failing once more than `limit` bytes
/// come out, so a gzip bomb costs at most `limit` bytes of memory.
///
/// zlib inflates straight into the vector's spare room: `Read::read_to_end` first zeroes every
/// byte it reads into, a megabyte per CloudWatch payload.
pub fn gunzip_into(data: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), GunzipError> {
    use flate2::{Decompress, FlushDecompress, Status};
    if data.is_empty() {
        return Err(GunzipError::Empty);
    }
    // One byte past the limit tells "exactly at the limit" from "over it".
    let most = limit.saturating_add(1);
    out.clear();
    // zlib fills whatever room there is before the cap is checked: a reused buffer larger than
    // the cap is cut down to it first.
    if out.capacity() > most {
        out.shrink_to(most);
    }
    out.reserve_exact(output_capacity(data, limit));
    let mut rest = data;
    let mut member_no = 0;
    // Where in the input `rest` starts, for the errors.
    let at = |rest: &[u8]| data.len() - rest.len();
    while !rest.is_empty() {
        // A fresh state per member: zlib's gzip mode reads its header and checks its CRC and
        // length.
        let mut member = Decompress::new_gzip(15);
        member_no += 1;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= most {
                    return Err(GunzipError::TooLarge { limit });
                }
                let more = out.capacity().max(64 * 1024).min(most - out.len());
                out.reserve_exact(more);
            }
            let (read, wrote) = (member.total_in(), out.len());
            let status = member
                .decompress_vec(rest, out, FlushDecompress::None)
                .map_err(|e| GunzipError::Corrupt {
                    cause: e.to_string(),
                    member: member_no,
                    at: at(rest),
                })?;
            // zlib reads no more than it is given.
            let used = usize::try_from(member.total_in() - read).unwrap_or(usize::MAX);
            rest = rest.get(used..).unwrap_or_default();
            if out.len() > limit {
                return Err(GunzipError::TooLarge { limit });
            }
            let truncated = GunzipError::Truncated {
                member: member_no,
                at: at(rest),
            };
            match status {
                Status::StreamEnd => break,
                // No progress with room left to write: the input ended inside the member.
                _ if out.len() < out.capacity() && out.len() == wrote && used == 0 => {
                    return Err(truncated);
                }
                _ if rest.is_empty() && out.len() < out.capacity() => return Err(truncated),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `data` gzipped (tests of the gzip readers).
#[cfg(test)]
pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_capacity_is_the_trailer_size_clamped() {
        let data = gz(&[b'z'; 10_000]);
        assert_eq!(output_capacity(&data, 1 << 20), 10_000);
        // A hostile trailer claims 4 GiB: the cap and deflate's ratio bound it.
        let mut lying = data.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(output_capacity(&lying, 1000), 1001);
        assert_eq!(output_capacity(&lying, 1 << 30), n * MAX_RATIO);
        assert_eq!(output_capacity(&[0x1f], 100), 8);
        // Not gzip: no trailer to read, the usual guess.
        assert_eq!(output_capacity(&[0xff; 100], 1 << 20), 800);
    }

    fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
        let mut out = Vec::new();
        gunzip_into(data, limit, &mut out)?;
        Ok(out)
    }

    /// flate2's own reader of concatenated members: the reading `gunzip` must agree with.
    fn oracle(data: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out)?;
        Ok(out)
    }

    fn text(n: usize, seed: u64) -> Vec<u8> {
        // Compressible but not trivial: words from a small pseudo-random walk.
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"abc {}\":,0123456789\n";
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn members_are_read_as_flate2_reads_them() {
        for sizes in [
            &[0usize][..],
            &[1],
            &[100_000],
            &[5, 0, 70_000],
            &[300_000, 1],
        ] {
            let mut data = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                data.extend(gz(&text(n, i as u64 + 7)));
            }
            let expected = oracle(&data).unwrap();
            assert_eq!(expected.len(), sizes.iter().sum::<usize>());
            assert_eq!(gunzip(&data, 1 << 20).unwrap(), expected, "{sizes:?}");
            // ISIZE sizes the first buffer, and zlib checks it: a lying one is an error.
            let n = data.len();
            data[n - 4..].copy_from_slice(&3u32.to_le_bytes());
            assert!(gunzip(&data, 1 << 20).is_err(), "ISIZE is checked");
        }
    }

    #[test]
    fn every_cut_is_an_error_never_a_short_read() {
        let data = gz(&text(20_000, 3));
        for cut in 1..data.len() {
            let got = gunzip(&data[..cut], 1 << 20);
            assert!(got.is_err(), "cut at {cut} of {}", data.len());
            assert!(oracle(&data[..cut]).is_err());
        }
    }

    #[test]
    fn a_cut_in_a_later_member_names_it() {
        let first = gz(&text(5_000, 1));
        let second = gz(&text(5_000, 2));
        let mut data = first.clone();
        data.extend_from_slice(&second[..second.len() / 2]);
        let n = data.len();
        assert_eq!(
            gunzip(&data, 1 << 20),
            Err(GunzipError::Truncated { member: 2, at: n })
        );
        assert!(oracle(&data).is_err());
        assert_eq!(gunzip(&[], 100), Err(GunzipError::Empty));
        // flate2 says so too (an unexpected end of input).
        assert_eq!(
            oracle(&[]).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::UnexpectedEof)
        );
    }

    #[test]
    fn a_reused_buffer_is_emptied_and_held_to_the_cap() {
        let data = gz(&text(10_000, 9));
        let mut out = vec![b'#'; 3 << 20];
        gunzip_into(&data, 1 << 20, &mut out).unwrap();
        assert_eq!(out, oracle(&data).unwrap());
        // A buffer far larger than the cap: the cap still holds, and no byte past it is kept.
        let mut big = Vec::with_capacity(4 << 20);
        assert_eq!(
            gunzip_into(&data, 9_999, &mut big),
            Err(GunzipError::TooLarge { limit: 9_999 })
        );
        assert!(big.capacity() <= 1 << 20, "{}", big.capacity());
    }

    #[test]
    fn the_cap_is_exact() {
        let data = gz(&text(10_000, 5));
        assert_eq!(gunzip(&data, 10_000).unwrap().len(), 10_000);
        assert_eq!(
            gunzip(&data, 9_999),
            Err(GunzipError::TooLarge { limit: 9_999 })
        );
        // A bomb stops at the cap: 64 MiB of zeros, 1 MiB allowed.
        let bomb = gz(&vec![0u8; 64 << 20]);
        assert_eq!(
            gunzip(&bomb, 1 << 20),
            Err(GunzipError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let good = gz(b"{}");
        let mut tail = good.clone();
        tail.extend_from_slice(b"not gzip");
        assert!(matches!(
            gunzip(&tail, 100),
            Err(GunzipError::Corrupt { member: 2, .. })
        ));
        assert!(oracle(&tail).is_err());
        assert!(gunzip(b"\x1f\x8b not deflate at all", 100).is_err());
        let mut flipped = good;
        flipped[12] ^= 0xff;
        assert!(gunzip(&flipped, 100).is_err());
    }
}
