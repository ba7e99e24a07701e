//! The processor-sharing station against queueing theory: PS is insensitive to the service
//! distribution, so with *deterministic* work the mean sojourn is that of the exponential
//! case — E[S]/(1 − ρ) on one server (FIFO M/D/1 would give about half the queueing), and the
//! M/M/c sojourn (Erlang C) on c servers.

use rand_distr::{Distribution, Exp1};
use sim::{Context, Limits, Model, RngStream, SharedStation, SimDuration, SimTime, rng};
use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Clone, Copy, Debug)]
enum Event {
    Arrival,
    Wake { generation: u64 },
}

struct PsQueue {
    station: SharedStation<u64>,
    rng: RngStream,
    mean_gap_ns: f64,
    work: SimDuration,
    arrivals: u64,
    jobs: u64,
    warmup_jobs: u64,
    sojourn_sum_s: f64,
    counted: u64,
}

impl Model for PsQueue {
    type Event = Event;
    fn handle(&mut self, now: SimTime, event: Event, ctx: &mut Context<Event>) {
        let wake = match event {
            Event::Arrival => {
                self.arrivals += 1;
                if self.arrivals < self.jobs {
                    let gap: f64 = Exp1.sample(&mut self.rng);
                    ctx.after(
                        SimDuration::from_nanos((gap * self.mean_gap_ns) as u64),
                        Event::Arrival,
                    );
                }
                Some(self.station.arrive(now, self.arrivals, self.work).expect("unbounded"))
            }
            Event::Wake { generation } => {
                let Some((done, next)) = self.station.wake(now, generation) else { return };
                for (id, arrived) in done {
                    if id > self.warmup_jobs {
                        self.sojourn_sum_s += (now - arrived).as_secs_f64();
                        self.counted += 1;
                    }
                }
                next
            }
        };
        if let Some(w) = wake {
            ctx.at(w.at, Event::Wake { generation: w.generation });
        }
    }
}

/// Mean sojourn (s) of `reps` replications of an M/D/c-PS queue.
fn replicate(servers: u32, lambda_per_s: f64, work: SimDuration, reps: u64) -> Vec<f64> {
    (0..reps)
        .map(|r| {
            let mut model = PsQueue {
                station: SharedStation::new(servers, None),
                rng: rng::stream(rng::replication_seed(11, r), "arrivals"),
                mean_gap_ns: 1e9 / lambda_per_s,
                work,
                arrivals: 0,
                jobs: 200_000,
                warmup_jobs: 20_000,
                sojourn_sum_s: 0.0,
                counted: 0,
            };
            let mut ctx = Context::new();
            ctx.at(SimTime::ZERO, Event::Arrival);
            sim::run(&mut model, &mut ctx, Limits::default());
            assert!(model.station.is_empty(), "every job leaves");
            model.sojourn_sum_s / model.counted as f64
        })
        .collect()
}

fn assert_within_99(what: &str, samples: &[f64], theory: f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0).unwrap().inverse_cdf(0.995);
    let half = t * sd / n.sqrt();
    assert!((mean - theory).abs() <= half, "{what}: theory {theory} outside {mean} ± {half}");
    assert!(half / theory < 0.04, "{what}: interval too wide to be a check: ±{half}");
}

#[test]
fn one_server_sharing_deterministic_work_matches_md1_ps() {
    // ρ = 0.8, D = 1 ms: E[T] = D / (1 − ρ) = 5 ms (FIFO M/D/1: 1 ms + 0.8/(2·0.2) ms = 3 ms).
    let samples = replicate(1, 800.0, SimDuration::from_millis(1), 12);
    assert_within_99("M/D/1-PS mean sojourn", &samples, 0.005);
}

#[test]
fn two_servers_sharing_deterministic_work_match_the_mmc_sojourn() {
    // λ = 1,500/s, D = 1 ms, c = 2 (ρ = 0.75): E[T] = C(2, a)/(cμ − λ) + 1/μ by insensitivity.
    let (c, lambda, mu) = (2u32, 1500.0, 1000.0);
    let a: f64 = lambda / mu;
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let erlang_c = b / (1.0 - a / c as f64 * (1.0 - b));
    let theory = erlang_c / (c as f64 * mu - lambda) + 1.0 / mu;
    let samples = replicate(c, lambda, SimDuration::from_millis(1), 12);
    assert_within_99("M/D/2-PS mean sojourn", &samples, theory);
}

#[test]
fn a_later_arrival_makes_the_earlier_wake_up_stale() {
    let mut s = SharedStation::new(1, None);
    let ms = |m| SimTime::ZERO + SimDuration::from_millis(m);
    let first = s.arrive(ms(0), 'a', SimDuration::from_millis(10)).unwrap();
    assert_eq!(first.at, ms(10));
    // At 5 ms, 'a' has 5 ms of work left; sharing with 'b' halves its speed: done at 15 ms.
    let second = s.arrive(ms(5), 'b', SimDuration::from_millis(10)).unwrap();
    assert_eq!(second.at, ms(15));
    assert!(s.wake(ms(10), first.generation).is_none(), "stale");
    let (done, next) = s.wake(ms(15), second.generation).unwrap();
    assert_eq!(done, vec![('a', ms(0))]);
    // 'b' did 5 ms of work in [5, 15]; alone it finishes its other 5 ms at 20 ms.
    assert_eq!(next.unwrap().at, ms(20));
}
