//! Dynamic batching over a pool of sessions, one thread per session (`Session::run` takes
//! `&mut self`).
//!
//! Requests wait in one bounded queue. A free session thread takes the batch-forming turn:
//! it takes the oldest request, then everything already queued that fits, and, if the batch
//! is still short of `max_batch_size` (or a preferred size), waits until the oldest request
//! has waited `max_queue_delay`, but only while another session is computing: requests
//! answered soon bring their clients' next ones, whereas with every other session idle
//! nothing is known to be coming, and a lone request (concurrency 1) would only pay the
//! delay. Then it hands the turn on and runs the batch, so the next batch forms while this
//! one computes. When a batch fails, its requests are re-run one by
//! one, so one bad request never fails its neighbours.
//!
//! Sessions split the cores between them (2 sessions × 1 thread on 2 cores), which is the
//! most throughput under load, but leaves a lone request on one core while the others idle:
//! a conv net of 2 ms an image took 1.9 ms at concurrency 1 where a server with one
//! 2-thread session took 1.2. So a version may also have a solo session with every core
//! (`solo_threads`): a batch that starts while no other session computes and nothing is
//! left in the queue runs there, unless another thread holds it. Under load some session is
//! always computing or about to, and the solo session stays idle; when load arrives while
//! it runs, the cores are briefly oversubscribed (its pool spins only for `solo_spin_us`,
//! so the waiting costs little).
//!
//! Dropping the [`Batcher`] closes the queue; the threads finish what is queued (the
//! in-flight requests of a version being swapped out) and exit.
//!
//! A version that only shadows runs in the background ([`Batcher::set_background`]): its
//! session threads take Linux's `SCHED_IDLE` policy, so the scheduler gives them only the CPU
//! that the served versions leave, and a stable request preempts a shadow batch at once. A
//! thread cannot raise its own priority again without `CAP_SYS_NICE`, so when the version
//! comes back to the foreground (promoted to canary), each session moves to a fresh thread
//! started by the spawner, a thread of normal priority made for this.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use ort::session::Session;
use tokio::sync::oneshot;

use super::{Done, Job};
use crate::{
    error::GatewayError,
    metrics::VersionMetrics,
    tensor::{Tensor, TensorError},
};

/// Why one execution failed.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Tensor(#[from] TensorError),
    #[error(transparent)]
    Runtime(#[from] ort::Error),
    #[error("the model returned no output '{0}'")]
    MissingOutput(String),
    #[error("ONNX Runtime panicked while running the batch")]
    Panicked,
}

/// How batches form.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Whether requests are merged (otherwise every request runs alone).
    pub merge: bool,
    pub max_rows: usize,
    pub max_delay: Duration,
    pub preferred: Vec<usize>,
}

/// The queue and its session threads.
pub struct Batcher {
    tx: Sender<Job>,
    metrics: VersionMetrics,
    control: Arc<Control>,
}

/// Whether the session threads run in the background, and a count of changes, so each
/// thread notices one.
#[derive(Default)]
struct Control {
    background: AtomicBool,
    generation: AtomicU64,
    /// Session threads, and how many have not acted on the latest change: the one holding
    /// the batch-forming turn hands it on while others wait for it to see the change.
    threads: usize,
    laggards: AtomicUsize,
}

/// How often an idle session thread looks for a change of priority.
const CONTROL_POLL: Duration = Duration::from_millis(200);

impl Batcher {
    /// Starts one thread per session.
    pub fn start(
        label: &str,
        sessions: Vec<Session>,
        solo: Option<Session>,
        output_names: Vec<String>,
        policy: Policy,
        queue_size: usize,
        metrics: VersionMetrics,
    ) -> Batcher {
        let (tx, rx) = crossbeam_channel::bounded(queue_size);
        let turn = Arc::new(Mutex::new(None::<Job>));
        let computing = Arc::new(AtomicUsize::new(0));
        let solo = solo.map(|s| Arc::new(Mutex::new(s)));
        let control = Arc::new(Control {
            threads: sessions.len(),
            ..Control::default()
        });
        // Made now, from a thread of normal priority, so the threads it starts later are too.
        spawner();
        for (i, session) in sessions.into_iter().enumerate() {
            let worker = Worker {
                session,
                name: format!("{label}#{i}"),
                rx: rx.clone(),
                turn: turn.clone(),
                computing: computing.clone(),
                solo: solo.clone(),
                policy: policy.clone(),
                outputs: output_names.clone(),
                metrics: metrics.clone(),
                control: control.clone(),
                seen: 0,
                idle: false,
            };
            worker.start();
        }
        Batcher {
            tx,
            metrics,
            control,
        }
    }

    /// Runs the session threads in the background (a version that only shadows) or not.
    /// Each thread changes after the batch it is running, or within [`CONTROL_POLL`].
    pub fn set_background(&self, on: bool) {
        if self.control.background.swap(on, Ordering::AcqRel) != on {
            self.control
                .laggards
                .store(self.control.threads, Ordering::Release);
            self.control.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Queues a job, or refuses it at once when the queue is full.
    pub fn submit(&self, job: Job) -> Result<(), GatewayError> {
        self.metrics.pending.inc();
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.metrics.pending.dec();
                Err(GatewayError::Overloaded {
                    message: format!(
                        "the queue is full ({} requests waiting); retry later",
                        self.tx.capacity().unwrap_or(0)
                    ),
                    retry_after_s: 1,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                self.metrics.pending.dec();
                Err(GatewayError::Unavailable {
                    message: "this version is shutting down; retry".into(),
                    retry_after_s: 1,
                })
            }
        }
    }
}

struct Worker {
    session: Session,
    /// The thread's name (`model@version#i`), kept for the thread that takes over.
    name: String,
    rx: Receiver<Job>,
    /// Whoever holds this forms the next batch; it also keeps a request that did not fit.
    turn: Arc<Mutex<Option<Job>>>,
    /// Sessions running a batch right now (the one forming a batch is not among them, nor
    /// one sending its answers).
    computing: Arc<AtomicUsize>,
    /// The session with every core, for a batch that starts while no other computes and
    /// nothing is queued.
    solo: Option<Arc<Mutex<Session>>>,
    policy: Policy,
    outputs: Vec<String>,
    metrics: VersionMetrics,
    control: Arc<Control>,
    /// The control generation this thread last acted on.
    seen: u64,
    /// Whether this thread runs under `SCHED_IDLE`.
    idle: bool,
}

impl Worker {
    fn start(self) {
        std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || self.run())
            .expect("spawning a session thread");
    }

    fn run(mut self) {
        loop {
            if !self.adopt_priority() {
                // Back to the foreground: a fresh thread of normal priority takes over.
                let _ = spawner().send(self);
                return;
            }
            let batch = {
                let mut carry = match self.turn.lock() {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                match self.form(&mut carry) {
                    Some(b) => b,
                    None => return,
                }
            };
            if batch.is_empty() {
                // The turn was handed on for a change of priority; let the thread waiting
                // for it take it before this one asks again.
                if self.control.laggards.load(Ordering::Acquire) > 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                continue;
            }
            self.execute(batch);
        }
    }

    fn take(&self, job: Job) -> Job {
        self.metrics.pending.dec();
        job
    }

    /// Acts on a change of priority; false when this thread cannot give the session the
    /// priority it needs and must hand it on.
    fn adopt_priority(&mut self) -> bool {
        let generation = self.control.generation.load(Ordering::Acquire);
        if generation == self.seen {
            return true;
        }
        self.seen = generation;
        let _ = self
            .control
            .laggards
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        let background = self.control.background.load(Ordering::Acquire);
        if background == self.idle {
            return true;
        }
        if !background {
            // Raising a thread's priority needs CAP_SYS_NICE, which a gateway should not
            // have: a new thread takes the session instead, in every case alike.
            return false;
        }
        match set_idle_policy() {
            Ok(()) => self.idle = true,
            // Where it is not supported, the shadow only loses its head start.
            Err(e) => {
                tracing::debug!(thread = %self.name, error = %e, "could not lower the shadow's priority")
            }
        }
        true
    }

    /// The next batch (empty when the priority changed while no request came), or `None`
    /// once the queue is closed and empty.
    fn form(&self, carry: &mut Option<Job>) -> Option<Vec<Job>> {
        let first = match carry.take() {
            Some(j) => j,
            None => loop {
                match self.rx.recv_timeout(CONTROL_POLL) {
                    Ok(j) => break self.take(j),
                    Err(RecvTimeoutError::Disconnected) => return None,
                    Err(RecvTimeoutError::Timeout) => {
                        if self.control.generation.load(Ordering::Acquire) != self.seen {
                            return Some(Vec::new());
                        }
                        if self.control.laggards.load(Ordering::Acquire) > 0 {
                            // Another thread waits for the turn to see the change.
                            return Some(Vec::new());
                        }
                    }
                }
            },
        };
        if !self.policy.merge {
            return Some(vec![first]);
        }
        let deadline = first.enqueued + self.policy.max_delay;
        let mut rows = first.rows;
        let mut batch = vec![first];
        while rows < self.policy.max_rows {
            let next = match self.rx.try_recv() {
                Ok(j) => self.take(j),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    if self.policy.preferred.contains(&rows)
                        || Instant::now() >= deadline
                        || self.computing.load(Ordering::Acquire) == 0
                    {
                        break;
                    }
                    match self.rx.recv_deadline(deadline) {
                        Ok(j) => self.take(j),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            if rows + next.rows > self.policy.max_rows || !same_row_shape(&batch[0], &next) {
                *carry = Some(next);
                break;
            }
            rows += next.rows;
            batch.push(next);
        }
        Some(batch)
    }

    fn execute(&mut self, batch: Vec<Job>) {
        let others = self.computing.fetch_add(1, Ordering::AcqRel);
        // Alone: no other session computes and nothing is left in the queue. With requests
        // queued, another session is about to compute (one that just answered), and the solo
        // session's threads would then share the cores with it. (A request kept over in the
        // turn, or one another former has just taken, escapes this check: rare, and it only
        // shares the cores for one batch.) A shadow (on idle CPU) never
        // takes the solo session: its pool threads would compete with the served versions
        // at normal priority.
        let alone = others == 0 && self.rx.is_empty() && !self.idle;
        let answers = self.compute(batch, alone);
        // This session stops counting as computing before anyone hears back. An answer brings
        // its client's next request at once, and a batch former that still saw this session
        // busy would hold that lone request for the whole `max_queue_delay`: when waking the
        // answer's handler preempted this thread between the answer and the count, a third of
        // the conv net's requests at concurrency 1 waited out a 500 µs delay.
        self.computing.fetch_sub(1, Ordering::AcqRel);
        send(answers);
        // Where a thread preempted by its answers' wake-ups would be (the lone-request test):
        // it must stay after both the count and the answers.
        if crate::failpoint::armed("session-slow-after-answer") {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Computes the batch; the answers to send once this session stops computing (those
    /// that cannot wait for that go at once).
    fn compute(&mut self, batch: Vec<Job>, alone: bool) -> Vec<Answer> {
        let now = Instant::now();
        let mut answers = Vec::with_capacity(batch.len());
        let mut live = Vec::with_capacity(batch.len());
        for job in batch {
            if job.reply.is_closed() {
                // Its handler is gone (timed out or the client left) and counted it.
                continue;
            } else if now >= job.deadline {
                // At once: its handler is about to give up too.
                let waited = now - job.enqueued;
                let _ = job.reply.send(Err(GatewayError::Unavailable {
                    message: format!(
                        "timed out after {} ms waiting in the queue",
                        waited.as_millis()
                    ),
                    retry_after_s: 1,
                }));
            } else {
                self.metrics
                    .queue_duration
                    .observe((now - job.enqueued).as_secs_f64());
                live.push(job);
            }
        }
        if live.is_empty() {
            return answers;
        }
        match self.run_batch(&live, alone) {
            Ok((outputs, compute)) => split(live, outputs, compute, now, &mut answers),
            Err(e) if live.len() > 1 => {
                tracing::debug!(error = %e, rows = live.len(), "batch failed; re-running its requests one by one");
                let last = live.len() - 1;
                for (i, job) in live.into_iter().enumerate() {
                    let mut one = Vec::with_capacity(1);
                    match self.run_batch(std::slice::from_ref(&job), false) {
                        Ok((outputs, compute)) => split(vec![job], outputs, compute, now, &mut one),
                        Err(e) => one.push((job.reply, Err(GatewayError::Backend(e.to_string())))),
                    }
                    // Each answer goes out as soon as it is known (this session still
                    // computes the rest), the last once the count drops, like any other.
                    if i == last {
                        answers.append(&mut one);
                    } else {
                        send(one);
                    }
                }
            }
            Err(e) => {
                let e = e.to_string();
                for job in live {
                    answers.push((job.reply, Err(GatewayError::Backend(e.clone()))));
                }
            }
        }
        answers
    }

    /// Runs the jobs as one execution, on the solo session when `alone` and it is free;
    /// outputs in `self.outputs` order.
    fn run_batch(
        &mut self,
        jobs: &[Job],
        alone: bool,
    ) -> Result<(Vec<Tensor>, Duration), RunError> {
        let rows: usize = jobs.iter().map(|j| j.rows).sum();
        let merged;
        let inputs: &[Tensor] = if jobs.len() == 1 {
            &jobs[0].inputs
        } else {
            merged = concat(jobs, rows);
            &merged
        };
        let values = inputs
            .iter()
            .map(|t| t.to_value().map(|v| (t.name.clone(), v)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut solo = match &self.solo {
            Some(m) if alone => m.try_lock().ok(),
            _ => None,
        };
        let on_solo = solo.is_some();
        let started = Instant::now();
        let session: &mut Session = match solo.as_deref_mut() {
            Some(s) => s,
            None => &mut self.session,
        };
        let names = &self.outputs;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut out = session.run(values)?;
            names
                .iter()
                .map(|n| {
                    let v = out
                        .remove(n.as_str())
                        .ok_or_else(|| RunError::MissingOutput(n.clone()))?;
                    Ok(Tensor::from_value(n, v)?)
                })
                .collect::<Result<Vec<_>, RunError>>()
        }))
        .unwrap_or(Err(RunError::Panicked));
        let compute = started.elapsed();
        drop(solo);
        let outputs = result?;
        if on_solo {
            self.metrics.solo_executions.inc();
        }
        self.metrics.compute_duration.observe(compute.as_secs_f64());
        self.metrics.batch_size.observe(rows as f64);
        self.metrics.execution_count.inc();
        self.metrics.inference_count.inc_by(rows as u64);
        Ok((outputs, compute))
    }
}

/// Sends the answers; a handler that has gone (timed out, its client left) already counted
/// its request.
fn send(answers: Vec<Answer>) {
    for (reply, answer) in answers {
        let _ = reply.send(answer);
    }
}

/// An answer, and where it goes.
type Answer = (
    oneshot::Sender<Result<Done, GatewayError>>,
    Result<Done, GatewayError>,
);

/// Each job's rows of the batch's outputs, as answers.
fn split(
    jobs: Vec<Job>,
    outputs: Vec<Tensor>,
    compute: Duration,
    started: Instant,
    answers: &mut Vec<Answer>,
) {
    let total: usize = jobs.iter().map(|j| j.rows).sum();
    if jobs.len() == 1 {
        let job = jobs.into_iter().next().expect("one job");
        let done = Done {
            outputs,
            queue: started - job.enqueued,
            compute,
            batch_rows: total,
        };
        answers.push((job.reply, Ok(done)));
        return;
    }
    if let Some(bad) = outputs
        .iter()
        .find(|t| t.shape.first() != Some(&(total as i64)))
    {
        let msg = format!(
            "output '{}' has shape {:?}, which cannot be split into the batch's {total} rows",
            bad.name, bad.shape
        );
        for job in jobs {
            answers.push((job.reply, Err(GatewayError::Backend(msg.clone()))));
        }
        return;
    }
    let mut offset = 0usize;
    for job in jobs {
        let mine = outputs
            .iter()
            .map(|t| {
                let per_row = t.data.len() / total;
                let mut shape = t.shape.clone();
                shape[0] = job.rows as i64;
                Tensor {
                    name: t.name.clone(),
                    datatype: t.datatype,
                    shape,
                    data: t.data[offset * per_row..(offset + job.rows) * per_row].to_vec(),
                }
            })
            .collect();
        offset += job.rows;
        let done = Done {
            outputs: mine,
            queue: started - job.enqueued,
            compute,
            batch_rows: total,
        };
        answers.push((job.reply, Ok(done)));
    }
}

/// Two requests can share a batch when every input agrees beyond the batch dimension.
fn same_row_shape(a: &Job, b: &Job) -> bool {
    a.inputs
        .iter()
        .zip(&b.inputs)
        .all(|(x, y)| x.shape[1..] == y.shape[1..])
}

/// Stacks the jobs' inputs along the batch dimension.
fn concat(jobs: &[Job], rows: usize) -> Vec<Tensor> {
    (0..jobs[0].inputs.len())
        .map(|i| {
            let first = &jobs[0].inputs[i];
            let mut shape = first.shape.clone();
            shape[0] = rows as i64;
            let mut data = Vec::with_capacity(jobs.iter().map(|j| j.inputs[i].data.len()).sum());
            for j in jobs {
                data.extend_from_slice(&j.inputs[i].data);
            }
            Tensor {
                name: first.name.clone(),
                datatype: first.datatype,
                shape,
                data,
            }
        })
        .collect()
}

/// The thread that starts session threads handed back by threads that cannot raise their
/// own priority. Created on first use, from [`Batcher::start`] (a thread of normal priority),
/// so the threads it starts are of normal priority too.
fn spawner() -> &'static Sender<Worker> {
    static SPAWNER: OnceLock<Sender<Worker>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::unbounded::<Worker>();
        std::thread::Builder::new()
            .name("session-spawner".into())
            .spawn(move || {
                for mut worker in rx {
                    worker.idle = false;
                    worker.start();
                }
            })
            .expect("spawning the session spawner");
        tx
    })
}

/// Puts the calling thread under `SCHED_IDLE`: it runs only when a CPU has nothing else to
/// run, and yields it the moment something else wakes up.
#[cfg(target_os = "linux")]
pub(crate) fn set_idle_policy() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for SCHED_IDLE.
    match unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn set_idle_policy() -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}
