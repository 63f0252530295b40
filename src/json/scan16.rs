//! JSON's special bytes found 16 at a time (one SSE2 compare per kind on x86_64, where SSE2 is
//! part of the baseline; a plain loop elsewhere). The flat access-line scan uses it to jump from
//! one quote to the next, the LogData reader to the next escape, and the record writer to the next
//! byte to escape.

/// Where the quotes, backslashes and control bytes (below 0x20) of one block are: bit `i` for
/// byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    pub quotes: u16,
    pub backslashes: u16,
    pub controls: u16,
}

/// The 16 bytes of `b` from `from`, spaces past its end.
pub fn load(b: &[u8], from: usize) -> [u8; 16] {
    if let Some(Ok(chunk)) = b.get(from..from + 16).map(<[u8; 16]>::try_from) {
        return chunk;
    }
    let n = b.len();
    if let (Some(Ok(last)), Some(skip)) = (
        b.get(n.wrapping_sub(16)..).map(<[u8; 16]>::try_from),
        from.checked_sub(n.wrapping_sub(16)).filter(|&s| s < 16),
    ) {
        // The last 16 bytes, moved down by the ones before `from`, spaces shifted in behind:
        // no call to `memcpy` for the tail of every line and string.
        let skip = 8 * skip as u32;
        let spaces = u128::from_ne_bytes([b' '; 16]);
        let v = u128::from_le_bytes(last) >> skip | spaces.checked_shl(128 - skip).unwrap_or(0);
        return v.to_le_bytes();
    }
    let mut chunk = [b' '; 16];
    let rest = b.get(from..).unwrap_or_default();
    chunk[..rest.len()].copy_from_slice(rest);
    chunk
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub fn masks(chunk: &[u8; 16]) -> Masks {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is enabled (the cfg above; every x86_64 target but the bare-metal ones has it),
    // and the unaligned load reads exactly the 16 bytes of `chunk`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quotes = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslashes = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `c >= 0x20` is `max(c, 0x20) == c`.
        let visible = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)), v);
        Masks {
            quotes: _mm_movemask_epi8(quotes) as u16,
            backslashes: _mm_movemask_epi8(backslashes) as u16,
            controls: !(_mm_movemask_epi8(visible) as u16),
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
pub fn masks(chunk: &[u8; 16]) -> Masks {
    let mut m = Masks {
        quotes: 0,
        backslashes: 0,
        controls: 0,
    };
    for (i, &c) in chunk.iter().enumerate() {
        m.quotes |= u16::from(c == b'"') << i;
        m.backslashes |= u16::from(c == b'\\') << i;
        m.controls |= u16::from(c < 0x20) << i;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_a_plain_loop() {
        let text: Vec<u8> = (0u8..=255).chain(b"\"\\ \"x\\".iter().copied()).collect();
        for from in 0..text.len() {
            let chunk = load(&text, from);
            let m = masks(&chunk);
            for (i, &c) in chunk.iter().enumerate() {
                assert_eq!(m.quotes >> i & 1 == 1, c == b'"', "{from} {i}");
                assert_eq!(m.backslashes >> i & 1 == 1, c == b'\\', "{from} {i}");
                assert_eq!(m.controls >> i & 1 == 1, c < 0x20, "{from} {i}");
                let expected = text.get(from + i).copied().unwrap_or(b' ');
                assert_eq!(c, expected);
            }
        }
    }
}
