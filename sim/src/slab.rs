//! A slab: per-job state in one vector, addressed by small integer keys, reused when freed.
//!
//! Jobs in flight are inserted when they start and removed when they finish, so memory follows
//! the number of jobs *in the system*, not the number that ever passed through.

/// A key into a [`Slab`].
pub type SlabKey = u32;

/// A vector of slots with a free list.
#[derive(Debug, Default)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<SlabKey>,
    len: usize,
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0 }
    }

    /// Stores `value` and returns its key.
    #[inline]
    pub fn insert(&mut self, value: T) -> SlabKey {
        self.len += 1;
        match self.free.pop() {
            Some(key) => {
                self.slots[key as usize] = Some(value);
                key
            }
            None => {
                self.slots.push(Some(value));
                SlabKey::try_from(self.slots.len() - 1).expect("fewer than 2^32 live entries")
            }
        }
    }

    /// Removes and returns the value at `key` (panics if it is not live: a model bug).
    #[inline]
    pub fn remove(&mut self, key: SlabKey) -> T {
        let value = self.slots[key as usize].take().expect("slab key is live");
        self.free.push(key);
        self.len -= 1;
        value
    }

    #[inline]
    pub fn get(&self, key: SlabKey) -> &T {
        self.slots[key as usize].as_ref().expect("slab key is live")
    }

    #[inline]
    pub fn get_mut(&mut self, key: SlabKey) -> &mut T {
        self.slots[key as usize].as_mut().expect("slab key is live")
    }

    /// The value at `key` if it is live (for events that may outlive what they refer to).
    #[inline]
    pub fn get_opt_mut(&mut self, key: SlabKey) -> Option<&mut T> {
        self.slots.get_mut(key as usize)?.as_mut()
    }

    /// Hints that the entry at `key` will be read soon ([`crate::prefetch`]).
    #[inline]
    pub fn prefetch(&self, key: SlabKey) {
        crate::prefetch::prefetch_at(&self.slots, key as usize);
    }

    /// Calls `f` with every live key, in key order.
    pub fn for_each_key(&self, mut f: impl FnMut(SlabKey)) {
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.is_some() {
                f(i as SlabKey);
            }
        }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reused_after_removal() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.remove(a), "a");
        let c = slab.insert("c");
        assert_eq!(c, a);
        assert_eq!((*slab.get(b), *slab.get(c), slab.len()), ("b", "c", 2));
    }
}
