//! Threads kept for a whole run: the native engine's members and the parts of a wide layer
//! run on them, instead of on threads started at every iteration.
//!
//! [`Pool::run`] hands the parts of one job to the waiting threads and to the calling thread,
//! and returns when every part is done, so a job may borrow from the caller's stack. Which
//! thread runs a part never changes what the part computes. A job started while another is
//! running (a member's layer split again inside a split over members) runs on the calling
//! thread alone.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// A job: part `p` of it is `job(p)`. Borrowed for the length of one [`Pool::run`].
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// The pool's threads, and the queue they take parts from.
#[derive(Debug)]
pub(crate) struct Pool {
    /// Absent for a pool without threads, which runs every job on its caller.
    shared: Option<Arc<Shared>>,
    workers: Vec<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    order: Mutex<Order>,
    /// Jobs posted so far (changed under the lock), watched by waiting threads.
    posted_jobs: AtomicU64,
    /// A job was posted, or the pool is closing.
    posted: Condvar,
    /// Parts of the current job not finished (set under the lock).
    unfinished: AtomicUsize,
    /// A job's last part finished.
    finished: Condvar,
    closing: AtomicBool,
}

/// How long a thread watches for the next job, or for the last part of its own, before it
/// sleeps: a layer's parts take tens of microseconds, and waking a sleeping thread takes about
/// as long, so threads watch a little first (`spin_loop` rounds, roughly 50 to 200 µs).
const WATCH: usize = 4000;

#[derive(Debug, Default)]
struct Order {
    /// The job being run, its lifetime erased: [`Pool::run`] does not return while a part of
    /// it may still run.
    job: Option<JobPointer>,
    parts: usize,
    /// The next part to hand out.
    next: usize,
    /// A part panicked: [`Pool::run`] panics in turn once every part is over.
    panicked: bool,
}

#[derive(Debug, Clone, Copy)]
struct JobPointer(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the pointer is to a `Sync` closure, read by the pool's threads only while
// `Pool::run` keeps it alive.
unsafe impl Send for JobPointer {}

impl Pool {
    /// A pool without threads: every job runs on its caller.
    pub(crate) const fn none() -> Pool {
        Pool { shared: None, workers: Vec::new() }
    }

    /// A pool of `threads` in all, the caller counted: `threads - 1` are started.
    pub(crate) fn new(threads: usize) -> Pool {
        if threads <= 1 {
            return Pool::none();
        }
        let shared = Arc::new(Shared::default());
        let workers = (1..threads)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || shared.serve())
            })
            .collect();
        Pool { shared: Some(shared), workers }
    }

    /// Threads a job is spread over, the caller counted.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `job(0)`, …, `job(parts - 1)`, spread over the pool's threads and this one, and
    /// returns when all are done. A panic in a part is raised here once every part is over.
    pub(crate) fn run(&self, parts: usize, job: &(dyn Fn(usize) + Sync)) {
        let Some(shared) = self.shared.as_ref().filter(|_| parts > 1) else {
            (0..parts).for_each(job);
            return;
        };
        let mut order = shared.lock();
        if order.job.is_some() {
            // Busy with the job this one is part of: run it here.
            drop(order);
            (0..parts).for_each(job);
            return;
        }
        // SAFETY: the lifetime is erased only until this function returns, and it returns
        // only once `unfinished` is 0, that is once no thread can still call the job.
        let job: Job<'static> = unsafe { std::mem::transmute::<Job<'_>, Job<'static>>(job) };
        *order = Order { job: Some(JobPointer(job)), parts, next: 0, panicked: false };
        shared.unfinished.store(parts, Ordering::Release);
        shared.posted_jobs.fetch_add(1, Ordering::Release);
        shared.posted.notify_all();
        drop(shared.work(order));
        watch(|| shared.unfinished.load(Ordering::Acquire) == 0);
        let mut order = shared.lock();
        while shared.unfinished.load(Ordering::Acquire) > 0 {
            order = shared.finished.wait(order).unwrap_or_else(|e| e.into_inner());
        }
        let panicked = order.panicked;
        order.job = None;
        drop(order);
        if panicked {
            panic!("a part of a job on the thread pool panicked");
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Order> {
        self.order.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes and runs parts of the posted job until none is left to hand out.
    fn work<'a>(&'a self, mut order: MutexGuard<'a, Order>) -> MutexGuard<'a, Order> {
        while let Some(job) = order.job.filter(|_| order.next < order.parts) {
            let part = order.next;
            order.next += 1;
            drop(order);
            // SAFETY: the job is alive while a part of it is unfinished (see `Pool::run`).
            let job = unsafe { &*job.0 };
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(part))).is_ok();
            order = self.lock();
            order.panicked |= !ok;
            if self.unfinished.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.finished.notify_all();
            }
        }
        order
    }

    /// A pool thread: waits for jobs and works on them until the pool closes.
    fn serve(&self) {
        let mut seen = 0;
        loop {
            let waiting =
                || self.posted_jobs.load(Ordering::Acquire) == seen && !self.closing.load(Ordering::Acquire);
            watch(|| !waiting());
            let mut order = self.lock();
            while waiting() {
                order = self.posted.wait(order).unwrap_or_else(|e| e.into_inner());
            }
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            seen = self.posted_jobs.load(Ordering::Acquire);
            drop(self.work(order));
        }
    }
}

/// Watches for `done` for up to [`WATCH`] rounds; says whether it came.
fn watch(done: impl Fn() -> bool) -> bool {
    for _ in 0..WATCH {
        if done() {
            return true;
        }
        std::hint::spin_loop();
    }
    done()
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            let _order = shared.lock();
            shared.closing.store(true, Ordering::Release);
            shared.posted.notify_all();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_part_runs_once_whatever_the_threads() {
        for threads in [1, 2, 5] {
            let pool = Pool::new(threads);
            assert_eq!(pool.threads(), threads);
            for parts in [0, 1, 2, 7, 64] {
                let counts: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                pool.run(parts, &|p| {
                    counts[p].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                    "{threads} threads, {parts} parts"
                );
            }
        }
    }

    #[test]
    fn a_job_started_inside_a_job_runs_on_its_caller() {
        let pool = Pool::new(3);
        let total = AtomicUsize::new(0);
        pool.run(3, &|_| {
            pool.run(4, &|q| {
                total.fetch_add(q + 1, Ordering::Relaxed);
            });
        });
        assert_eq!(total.load(Ordering::Relaxed), 3 * 10);
    }

    #[test]
    fn a_panicking_part_panics_the_caller_and_leaves_the_pool_working() {
        let pool = Pool::new(2);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(4, &|p| assert_ne!(p, 2, "part 2 fails"));
        }));
        assert!(outcome.is_err());
        let done = AtomicUsize::new(0);
        pool.run(4, &|_| {
            done.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(done.load(Ordering::Relaxed), 4);
    }
}
