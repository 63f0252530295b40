//! Size-capped gzip decompression. Reads every concatenated member (Firehose S3 objects) and stops
//! as soon as the output passes the cap, so a gzip bomb costs at most `limit` bytes of memory.

use super::PayloadError;

pub use crate::gzip::is_gzip;
use crate::gzip::GunzipError;

/// Decompress all gzip members in `data`, failing once more than `limit` bytes come out.
pub fn gunzip_capped(data: &[u8], limit: usize) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::new();
    gunzip_capped_into(data, limit, &mut out)?;
    Ok(out)
}

/// [`gunzip_capped`] into `out`, keeping its room.
pub fn gunzip_capped_into(
    data: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), PayloadError> {
    crate::gzip::gunzip_into(data, limit, out).map_err(|e| match e {
        GunzipError::TooLarge { limit } => PayloadError::TooLarge { limit },
        other => PayloadError::Gzip(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gzip::gz;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    #[test]
    fn reads_concatenated_members() {
        let mut data = gz(b"{\"a\":1}");
        data.extend(gz(b"{\"b\":2}"));
        assert_eq!(gunzip_capped(&data, 1024).unwrap(), b"{\"a\":1}{\"b\":2}");
    }

    #[test]
    fn bomb_fails_fast_at_the_cap() {
        // 64 MiB of zeros compresses to ~64 KiB; the cap is 1 MiB.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 200_000);
        match gunzip_capped(&bomb, 1 << 20) {
            Err(PayloadError::TooLarge { limit }) => assert_eq!(limit, 1 << 20),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn exactly_at_the_cap_is_fine() {
        let data = gz(&[b'x'; 100]);
        assert_eq!(gunzip_capped(&data, 100).unwrap().len(), 100);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let data = gz(&[b'y'; 5000]);
        let cut = &data[..data.len() / 2];
        let err = gunzip_capped(cut, 1 << 20).unwrap_err();
        assert!(matches!(err, PayloadError::Gzip(_)), "{err}");
    }
}
