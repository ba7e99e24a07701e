//! Running tasks in parallel and handing their results over in task order, with memory bounded
//! by a window of tasks rather than by the number of tasks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Runs `work` on every task with `jobs` threads and hands the results to `handle` in task
/// order, as soon as each is next in line. A worker does not start a task more than a window
/// ahead of the last one handled, so memory is bounded by the window, not by the plan; unlike
/// fixed chunks there is no barrier, so uneven task lengths do not idle the workers.
pub fn run_in_order<R: Send>(
    count: usize,
    jobs: usize,
    interrupted: &AtomicBool,
    work: impl Fn(usize) -> R + Sync,
    handle: &mut impl FnMut(R),
) {
    struct Shared<R> {
        results: BTreeMap<usize, R>,
        handled: usize,
        active: usize,
    }
    let window = jobs * 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let shared = Mutex::new(Shared { results: BTreeMap::new(), handled: 0, active: jobs });
    let changed = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        break;
                    }
                    {
                        let mut state = shared.lock().expect("no worker panics holding the lock");
                        while i >= state.handled + window && !interrupted.load(Ordering::SeqCst) {
                            state = changed.wait(state).expect("lock");
                        }
                    }
                    if interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let result = work(i);
                    shared.lock().expect("lock").results.insert(i, result);
                    changed.notify_all();
                }
                shared.lock().expect("lock").active -= 1;
                changed.notify_all();
            });
        }
        loop {
            let result = {
                let mut state = shared.lock().expect("lock");
                loop {
                    let wanted = state.handled;
                    if let Some(result) = state.results.remove(&wanted) {
                        state.handled += 1;
                        break Some(result);
                    }
                    if state.active == 0 {
                        break None;
                    }
                    state = changed.wait(state).expect("lock");
                }
            };
            changed.notify_all();
            match result {
                Some(result) => handle(result),
                None => break,
            }
        }
    });
}
