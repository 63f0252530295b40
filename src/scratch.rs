//! Byte buffers kept per thread and reused from one payload to the next: a decompressed LogData,
//! a frame's NDJSON, a generated payload. Each is about a megabyte; taken fresh, every one came
//! from new pages (the allocator returns big blocks to the system soon after they are freed), and
//! the page faults were a tenth of `local`'s CPU.

use std::cell::RefCell;

/// Buffers kept per thread.
const KEPT: usize = 4;
/// A buffer grown past this (a rare huge payload) is freed, not kept.
const KEPT_BYTES: usize = 8 << 20;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, with the room a previous user left in it when there is one.
pub fn take() -> Vec<u8> {
    SPARE
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Hands `buf` back for the next [`take`] on this thread.
pub fn give(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > KEPT_BYTES {
        return;
    }
    buf.clear();
    let _ = SPARE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if s.len() < KEPT {
                s.push(buf);
            }
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
}
