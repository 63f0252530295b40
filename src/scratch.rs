//! Byte buffers kept per thread and reused from one payload to the next: a decompressed LogData,
//! a frame's NDJSON, a generated payload. Each is about a megabyte; taken fresh, every one came
//! from new pages (the allocator returns big blocks to the system soon after they are freed), and
//! the page faults were a tenth of `local`'s CPU.

use std::cell::RefCell;

/// Buffers kept per thread.
const KEPT: usize = 4;
/// Room kept per thread, all buffers together: a thread keeps its usual megabyte-sized buffers
/// and frees a rare huge one.
const KEPT_BYTES: usize = 8 << 20;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, with the room a previous user left in it when there is one (the largest).
pub fn take() -> Vec<u8> {
    SPARE
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Hands `buf` back for the next [`take`] on this thread. When the pool is full, the smallest
/// buffer is the one freed; the pool stays sorted by room, the largest last.
pub fn give(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > KEPT_BYTES {
        return;
    }
    buf.clear();
    let _ = SPARE.try_with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        let at = s.partition_point(|b| b.capacity() <= buf.capacity());
        s.insert(at, buf);
        let over = |s: &Vec<Vec<u8>>| {
            s.len() > KEPT || s.iter().map(Vec::capacity).sum::<usize>() > KEPT_BYTES
        };
        while over(&s) {
            s.remove(0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_empty_with_its_room() {
        let mut b = take();
        b.extend_from_slice(&[7; 5000]);
        let room = b.capacity();
        let at = b.as_ptr();
        give(b);
        let again = take();
        assert!(again.is_empty());
        assert_eq!((again.capacity(), again.as_ptr()), (room, at));
        // Only one was given: the next is new.
        assert_eq!(take().capacity(), 0);
    }

    #[test]
    fn big_and_surplus_buffers_are_freed() {
        give(Vec::with_capacity(KEPT_BYTES + 1));
        assert_eq!(take().capacity(), 0);
        for _ in 0..KEPT + 3 {
            give(Vec::with_capacity(100));
        }
        let kept = std::iter::from_fn(|| Some(take()))
            .take_while(|b| b.capacity() > 0)
            .count();
        assert_eq!(kept, KEPT);
    }

    #[test]
    fn the_largest_are_kept_within_the_budget() {
        // A megabyte buffer given first is not pushed out by small ones after it.
        give(Vec::with_capacity(1 << 20));
        for _ in 0..KEPT {
            give(Vec::with_capacity(64));
        }
        assert!(take().capacity() >= 1 << 20);
        while take().capacity() > 0 {}
        // Three buffers of 3 MiB pass the 8 MiB budget: the third is not kept.
        for _ in 0..3 {
            give(Vec::with_capacity(3 << 20));
        }
        let kept: Vec<usize> = std::iter::from_fn(|| Some(take().capacity()))
            .take_while(|&c| c > 0)
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.iter().sum::<usize>() <= KEPT_BYTES);
    }
}
