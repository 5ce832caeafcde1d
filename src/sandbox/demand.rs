//! Demand: how many warm containers each language should have on this
//! worker. Every job that could take a warm container counts as one arrival
//! of its language; arrivals feed two exponentially decayed counts, a
//! lasting one (half-life `sandbox.warm_half_life_ms`) and a recent one
//! (half-life [`RECENT_HALF_LIFE`], so a burst shows within seconds); a
//! count's rate is decay × count. A language in demand (its lasting count is
//! at least one half: a job within about the last half-life) wants the
//! arrivals expected while its pool refills (the larger rate × lead time), at
//! least one and at most `sandbox.warm_pool_size`; a language out of demand
//! wants none, so idle languages shrink to zero. The
//! wants together stay within this worker's share of the deployment-wide
//! budget `sandbox.warm_memory_mb` (each idle container is charged
//! `sandbox.warm_container_mb`, plus its language's preloaded launcher, see
//! [`Demand::charge_extra`]), handed out one container at a time to the
//! language with the highest rate per container already given (among those
//! whose next container still fits). Pure logic:
//! the WorkerPool records arrivals and acts on the targets.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A lasting count below this is out of demand.
const IN_DEMAND: f64 = 0.5;
/// Half-life of the recent count, which follows bursts.
pub const RECENT_HALF_LIFE: Duration = Duration::from_secs(10);

/// What sizes the pools.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    pub half_life: Duration,
    /// Most containers per language.
    pub max_per_language: usize,
    /// The deployment's budget for idle containers, in MB.
    pub budget_mb: u64,
    /// What one idle container is charged against the budget, in MB.
    pub container_mb: u64,
    /// This worker's slots, and the live deployment's (this worker's
    /// included): the worker's share of the budget is in that proportion.
    pub own_slots: usize,
    pub live_slots: usize,
}

impl Sizing {
    /// This worker's share of the budget, in MB.
    pub fn share_mb(&self) -> f64 {
        self.budget_mb as f64 * self.own_slots as f64
            / self.live_slots.max(self.own_slots).max(1) as f64
    }
}

/// Decay per second for a half-life.
fn decay(half_life: Duration) -> f64 {
    std::f64::consts::LN_2 / half_life.as_secs_f64().max(0.001)
}

/// A decayed count, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Decayed {
    count: f64,
    at: Instant,
}

impl Decayed {
    fn at(&self, now: Instant, decay: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.count * (-decay * elapsed).exp()
    }

    fn add(&mut self, count: f64, now: Instant, decay: f64) {
        self.count = self.at(now, decay) + count;
        self.at = now;
    }
}

/// One language's arrivals: the lasting and the recent count.
#[derive(Debug, Clone, Copy)]
struct Arrivals {
    lasting: Decayed,
    recent: Decayed,
}

impl Arrivals {
    fn lasting(&self, now: Instant, sizing: &Sizing) -> f64 {
        self.lasting.at(now, decay(sizing.half_life))
    }

    /// Arrivals per second: the larger of the two estimates.
    fn rate(&self, now: Instant, sizing: &Sizing) -> f64 {
        let lasting = self.lasting(now, sizing) * decay(sizing.half_life);
        let fast = decay(RECENT_HALF_LIFE);
        lasting.max(self.recent.at(now, fast) * fast)
    }
}

/// Recent arrivals per language.
#[derive(Debug, Default)]
pub struct Demand {
    languages: HashMap<String, Arrivals>,
    /// MB an idle container of a language holds beyond
    /// [`Sizing::container_mb`] (its preloaded launcher).
    extra_mb: HashMap<String, u64>,
}

impl Demand {
    /// Charges each idle container of `language` `mb` more than a plain one.
    pub fn charge_extra(&mut self, language: &str, mb: u64) {
        self.extra_mb.insert(language.to_string(), mb);
    }

    /// What one idle container of `language` is charged, in MB.
    fn charge_mb(&self, language: &str, sizing: &Sizing) -> f64 {
        let extra = self.extra_mb.get(language).copied().unwrap_or(0);
        sizing.container_mb.max(1).saturating_add(extra) as f64
    }

    /// One job of `language` arrived at `now`.
    pub fn arrived(&mut self, language: &str, now: Instant, sizing: &Sizing) {
        self.add(language, 1.0, 1.0, now, sizing);
    }

    /// Starts `language` as if `containers` were wanted now (the languages
    /// configured to start warm); the seed decays like lasting demand.
    pub fn seed(
        &mut self,
        language: &str,
        containers: usize,
        lead: Duration,
        now: Instant,
        sizing: &Sizing,
    ) {
        // rate = decay × count, and the want is rate × lead.
        let count = containers as f64 / (decay(sizing.half_life) * lead.as_secs_f64().max(0.001));
        self.add(language, count.max(IN_DEMAND), 0.0, now, sizing);
    }

    fn add(&mut self, language: &str, lasting: f64, recent: f64, now: Instant, sizing: &Sizing) {
        let zero = Decayed {
            count: 0.0,
            at: now,
        };
        let entry = self
            .languages
            .entry(language.to_string())
            .or_insert(Arrivals {
                lasting: zero,
                recent: zero,
            });
        entry.lasting.add(lasting, now, decay(sizing.half_life));
        entry.recent.add(recent, now, decay(RECENT_HALF_LIFE));
    }

    /// Arrivals per second of `language`, recently.
    pub fn rate(&self, language: &str, now: Instant, sizing: &Sizing) -> f64 {
        self.languages
            .get(language)
            .map_or(0.0, |a| a.rate(now, sizing))
    }

    /// How many containers each language should have (languages not
    /// listed: none), with `lead` the time one container takes to prepare.
    /// Languages whose demand has decayed away are forgotten.
    pub fn targets(
        &mut self,
        now: Instant,
        lead: Duration,
        sizing: &Sizing,
    ) -> HashMap<String, usize> {
        self.languages
            .retain(|_, a| a.lasting(now, sizing) >= IN_DEMAND / 16.0);
        let wants: Vec<(&String, f64, usize)> = self
            .languages
            .iter()
            .filter_map(|(language, arrivals)| {
                if arrivals.lasting(now, sizing) < IN_DEMAND || sizing.max_per_language == 0 {
                    return None;
                }
                let rate = arrivals.rate(now, sizing);
                // (less a hair, so a seed of exactly n asks for n)
                let want = ((rate * lead.as_secs_f64() - 1e-9).ceil() as usize)
                    .clamp(1, sizing.max_per_language);
                Some((language, rate, want))
            })
            .collect();
        let mut given: HashMap<String, usize> = HashMap::new();
        let mut left_mb = sizing.share_mb();
        loop {
            // The language with the most demand per container given so far,
            // among those whose next container fits what is left.
            let next = wants
                .iter()
                .filter(|(language, _, want)| {
                    given.get(*language).copied().unwrap_or(0) < *want
                        && self.charge_mb(language, sizing) <= left_mb
                })
                .max_by(|a, b| {
                    let share = |(language, rate, _): &&(&String, f64, usize)| {
                        rate / (given.get(*language).copied().unwrap_or(0) + 1) as f64
                    };
                    share(a).total_cmp(&share(b)).then_with(|| b.0.cmp(a.0))
                });
            match next {
                Some((language, _, _)) => {
                    left_mb -= self.charge_mb(language, sizing);
                    *given.entry((*language).clone()).or_default() += 1;
                }
                None => break,
            }
        }
        given
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizing() -> Sizing {
        Sizing {
            half_life: Duration::from_secs(60),
            max_per_language: 4,
            budget_mb: 1024,
            container_mb: 16,
            own_slots: 2,
            live_slots: 2,
        }
    }

    const LEAD: Duration = Duration::from_millis(500);

    /// Arrivals at a steady rate give an estimate close to it.
    #[test]
    fn the_rate_follows_steady_arrivals() {
        let sizing = sizing();
        let mut demand = Demand::default();
        let start = Instant::now();
        // Two per second for five half-lives.
        for i in 0..600 {
            demand.arrived("c", start + Duration::from_millis(500 * i), &sizing);
        }
        let rate = demand.rate("c", start + Duration::from_millis(500 * 599), &sizing);
        assert!((rate - 2.0).abs() < 0.15, "rate {rate}");
    }

    /// One job keeps its language warm with one container for about a
    /// half-life; then the language shrinks to zero and is forgotten.
    #[test]
    fn a_lone_job_keeps_one_container_for_about_a_half_life() {
        let sizing = sizing();
        let mut demand = Demand::default();
        let start = Instant::now();
        demand.arrived("go", start, &sizing);
        let at = |secs| start + Duration::from_secs(secs);
        assert_eq!(demand.targets(at(1), LEAD, &sizing).get("go"), Some(&1));
        assert_eq!(demand.targets(at(55), LEAD, &sizing).get("go"), Some(&1));
        assert_eq!(demand.targets(at(65), LEAD, &sizing).get("go"), None);
        demand.targets(at(600), LEAD, &sizing);
        assert!(demand.languages.is_empty(), "decayed demand is forgotten");
    }

    /// A burst asks for more containers, never more than the maximum, and
    /// the want falls back as the burst's arrivals decay.
    #[test]
    fn bursts_grow_the_pool_up_to_the_maximum_and_decay() {
        let sizing = sizing();
        let mut demand = Demand::default();
        let start = Instant::now();
        for i in 0..200 {
            demand.arrived("python", start + Duration::from_millis(100 * i), &sizing);
        }
        let end = start + Duration::from_secs(20);
        assert_eq!(demand.targets(end, LEAD, &sizing)["python"], 4);
        let later = end + Duration::from_secs(5 * 60);
        assert_eq!(demand.targets(later, LEAD, &sizing)["python"], 1);
    }

    /// Seeding starts a language at the asked size, decaying like demand.
    #[test]
    fn seeds_start_warm_and_decay() {
        let sizing = sizing();
        let mut demand = Demand::default();
        let now = Instant::now();
        demand.seed("python", 2, LEAD, now, &sizing);
        assert_eq!(demand.targets(now, LEAD, &sizing)["python"], 2);
        let much_later = now + Duration::from_secs(60 * 60);
        assert_eq!(
            demand.targets(much_later, LEAD, &sizing).get("python"),
            None
        );
    }

    /// Under a tight budget the busier language gets more, and the total
    /// stays within this worker's share.
    #[test]
    fn the_budget_goes_to_the_busiest_languages_first() {
        let tight = Sizing {
            budget_mb: 4 * 16 * 2,
            live_slots: 4, // another worker with 2 slots: half the budget is ours
            max_per_language: 3,
            ..sizing()
        };
        assert_eq!(tight.share_mb(), 4.0 * 16.0);
        let mut demand = Demand::default();
        let start = Instant::now();
        for i in 0..300 {
            let at = start + Duration::from_millis(100 * i);
            demand.arrived("python", at, &tight);
            if i % 4 == 0 {
                demand.arrived("c", at, &tight);
            }
            if i % 30 == 0 {
                demand.arrived("java", at, &tight);
            }
        }
        let targets = demand.targets(start + Duration::from_secs(30), LEAD, &tight);
        // Rates about 8.8, 2.2 and 0.3 per second; wants 3, 2 and 1 (six in
        // all, two over the budget): python's three (8.8, 4.4, 2.9 per
        // container) and c's first (2.2) beat c's second (1.1) and java's.
        assert_eq!(targets.get("python"), Some(&3), "{targets:?}");
        assert_eq!(targets.get("c"), Some(&1), "{targets:?}");
        assert_eq!(targets.get("java"), None, "{targets:?}");
    }

    /// A language whose containers hold a preloaded launcher is charged for
    /// it: the budget holds fewer of them, and a cheaper language still
    /// gets what is left.
    #[test]
    fn preloaded_containers_are_charged_their_launcher() {
        let budget = Sizing {
            budget_mb: 150,
            max_per_language: 3,
            ..sizing()
        };
        let mut demand = Demand::default();
        demand.charge_extra("java", 84);
        let start = Instant::now();
        for i in 0..300 {
            let at = start + Duration::from_millis(100 * i);
            demand.arrived("java", at, &budget);
            if i % 10 == 0 {
                demand.arrived("c", at, &budget);
            }
        }
        let targets = demand.targets(start + Duration::from_secs(30), LEAD, &budget);
        // java (10 a second) at 100 MB a container comes first; its second
        // would beat c (1 a second) on rate per container but does not fit
        // the 50 MB left, so c's (16 MB) goes in.
        assert_eq!(targets.get("java"), Some(&1), "{targets:?}");
        assert_eq!(targets.get("c"), Some(&1), "{targets:?}");
        let roomy = Sizing {
            budget_mb: 1000,
            ..budget
        };
        let targets = demand.targets(start + Duration::from_secs(30), LEAD, &roomy);
        assert_eq!(targets.get("java"), Some(&3), "{targets:?}");
    }

    /// A pool size of 0 turns the pool off whatever the demand.
    #[test]
    fn size_zero_wants_nothing() {
        let off = Sizing {
            max_per_language: 0,
            ..sizing()
        };
        let mut demand = Demand::default();
        let now = Instant::now();
        demand.arrived("python", now, &off);
        assert!(demand.targets(now, LEAD, &off).is_empty());
    }
}
