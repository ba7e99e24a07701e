//! Memory prefetch hints, so a model can ask for the state the *next* event will touch while it
//! handles the current one.
//!
//! Large simulations spend much of their time waiting for per-entity state (a user, a request)
//! that is not in cache: entities are touched in event order, which is close to random order in
//! memory. The run loop knows the next event before it handles the current one
//! ([`crate::Model::prefetch`]), and a hint issued then overlaps the next miss with the current
//! event's work. A hint never changes what a program computes, only how long it waits.

/// Hints that `item` will be read soon. No effect on targets without a prefetch instruction.
#[inline(always)]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = item as *const T as *const i8;
        // SAFETY: a prefetch is a hint that never faults and never changes memory; both
        // pointers are inside the referenced value (its first and its last byte).
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(start);
            // Values straddling a cache line need their last line too.
            if std::mem::size_of::<T>() > 1 {
                _mm_prefetch::<_MM_HINT_T0>(start.add(std::mem::size_of::<T>() - 1));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Hints that `slice[index]` will be read soon; nothing if `index` is out of range.
#[inline(always)]
pub fn prefetch_at<T>(slice: &[T], index: usize) {
    if let Some(item) = slice.get(index) {
        prefetch(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_change_nothing_and_tolerate_any_index() {
        let values = vec![[7u64; 12]; 3];
        prefetch_at(&values, 1);
        prefetch_at(&values, 99);
        prefetch(&values[2]);
        prefetch(&0u8);
        assert_eq!(values, vec![[7u64; 12]; 3]);
    }
}
