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
}
