//! The warm pool: per language, containers created, attached and started
//! ahead of time with the default limits, each with rce-runner waiting for
//! its one job on stdin (a compiled language compiles and runs in it, as in
//! a cold container). A job with default limits takes one (its container
//! start is off the critical path); any other job takes the cold path. How
//! many each language gets follows its demand ([`super::demand`]): the
//! owner (WorkerPool) records arrivals, re-plans, refills asynchronously and
//! removes the idle surplus; the pool never holds more than a language's
//! target, counting containers still being prepared. A language with a
//! preloaded launcher (`preload` in images/languages.toml) gets it started
//! in each warm container (`RCE_PRELOAD`, see `rce_protocol::PreloadSpec`),
//! so its jobs also skip the runtime's start. Warm containers carry the worker's labels and a `warm-…` job
//! label that stays in the worker's live set, so the reaper leaves them alone
//! while this worker lives and removes them once it is dead. Each container
//! still serves exactly one job. When the Docker engine stops answering, the
//! idle containers are discarded (their attach streams died with the
//! connection: a job sent to one would fail and burn a delivery attempt) and
//! preparations under way are dropped when they come back.

use super::container::{container_body, ContainerLabels, LABEL_WARM};
use super::demand::{Demand, Sizing};
use super::run::preload_spec;
use super::run::Prepared;
use super::settings::SandboxSettings;
use crate::job::{Job, JobId};
use crate::languages::Language;
use bollard::models::ContainerCreateBody;
use rce_protocol::PRELOAD_ENV;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// What a preparation is assumed to take before one was measured.
const FIRST_PREPARATION: Duration = Duration::from_millis(250);

/// Idle warm containers and the ones being prepared, per language.
#[derive(Default)]
pub struct WarmPool {
    /// Recent arrivals per language, and the targets last planned from them.
    demand: Demand,
    targets: HashMap<String, usize>,
    /// Moving average of how long a preparation takes (None: none yet).
    preparation: Option<Duration>,
    idle: HashMap<String, VecDeque<(String, Prepared)>>,
    /// Preparations under way, per language (they count toward the size).
    preparing: HashMap<String, usize>,
    /// Job labels of every warm container this pool created and that is not
    /// yet removed (idle, preparing, or serving a job).
    tokens: HashSet<String>,
    /// Bumped by [`WarmPool::discard_all`]: a preparation of an earlier
    /// epoch is stale when it finishes.
    epoch: u64,
}

/// A request to prepare one more container for `language`.
pub struct Refill {
    pub language: String,
    pub token: String,
    pub body: ContainerCreateBody,
    /// Handed back to [`WarmPool::prepared`].
    pub epoch: u64,
}

impl WarmPool {
    /// An empty pool that charges each idle container of a language with a
    /// preloaded launcher (when preloading is on) its `preload_mb` extra.
    pub fn charging_preloads(languages: &[Language], settings: &SandboxSettings) -> WarmPool {
        let mut pool = WarmPool::default();
        if settings.preload {
            for language in languages.iter().filter(|l| l.preload.is_some()) {
                pool.demand.charge_extra(&language.id, language.preload_mb);
            }
        }
        pool
    }

    /// Whether `job` may run in a warm container: warm containers are built
    /// for the default limits only.
    pub fn fits(job: &Job, settings: &SandboxSettings) -> bool {
        job.limits == settings.default_limits
    }

    /// An idle container for `language`, if one is ready.
    pub fn take(&mut self, language: &str) -> Option<(String, Prepared)> {
        self.idle.get_mut(language)?.pop_front()
    }

    /// Starts `languages` warm, as if each had just asked for the pool's
    /// full size (the configured `warm_languages`); the seed decays like any
    /// demand.
    pub fn seed(&mut self, languages: &[String], now: Instant, sizing: &Sizing) {
        for language in languages {
            let lead = self.lead();
            self.demand
                .seed(language, sizing.max_per_language, lead, now, sizing);
        }
    }

    /// A job of `language` that fits a warm container arrived.
    pub fn arrived(&mut self, language: &str, now: Instant, sizing: &Sizing) {
        self.demand.arrived(language, now, sizing);
    }

    /// A preparation took `took`: the lead time follows it.
    pub fn prepare_took(&mut self, took: Duration) {
        self.preparation = Some(match self.preparation {
            None => took,
            Some(average) => (average * 7 + took) / 8,
        });
    }

    /// How far ahead containers are prepared: twice what one takes.
    fn lead(&self) -> Duration {
        self.preparation.unwrap_or(FIRST_PREPARATION) * 2
    }

    /// Plans each language's target from its demand, and hands back the
    /// idle containers beyond it (the newest first) for removal.
    pub fn plan(&mut self, now: Instant, sizing: &Sizing) -> Vec<Prepared> {
        self.targets = self.demand.targets(now, self.lead(), sizing);
        let mut surplus = Vec::new();
        for (language, idle) in &mut self.idle {
            let keep = self.targets.get(language).copied().unwrap_or(0);
            while idle.len() > keep {
                if let Some((token, prepared)) = idle.pop_back() {
                    self.tokens.remove(&token);
                    surplus.push(prepared);
                }
            }
        }
        self.idle.retain(|_, idle| !idle.is_empty());
        surplus
    }

    /// Languages with a target above zero.
    pub fn wanted(&self) -> impl Iterator<Item = &String> {
        self.targets
            .iter()
            .filter(|(_, target)| **target > 0)
            .map(|(language, _)| language)
    }

    /// Idle containers of `language`.
    pub fn idle_count(&self, language: &str) -> usize {
        self.idle.get(language).map_or(0, VecDeque::len)
    }

    /// The refills needed to bring `language` back to its target, marked as
    /// under way.
    pub fn refills(
        &mut self,
        language: &Language,
        settings: &SandboxSettings,
        labels: &ContainerLabels,
    ) -> Vec<Refill> {
        let size = self.targets.get(&language.id).copied().unwrap_or(0);
        let have = self.idle.get(&language.id).map_or(0, VecDeque::len)
            + self.preparing.get(&language.id).copied().unwrap_or(0);
        let missing = size.saturating_sub(have);
        (0..missing)
            .map(|_| {
                *self.preparing.entry(language.id.clone()).or_default() += 1;
                let job = warm_job(language, settings);
                let token = job.id.to_string();
                self.tokens.insert(token.clone());
                let mut body = container_body(&job, language, settings, labels);
                body.labels
                    .get_or_insert_with(Default::default)
                    .insert(LABEL_WARM.into(), "1".into());
                if let Some(preload) = preload_spec(&job, language, settings) {
                    let json = serde_json::to_string(&preload).expect("a preload spec serializes");
                    body.env
                        .get_or_insert_with(Default::default)
                        .push(format!("{PRELOAD_ENV}={json}"));
                }
                Refill {
                    language: language.id.clone(),
                    token,
                    body,
                    epoch: self.epoch,
                }
            })
            .collect()
    }

    /// A preparation of `epoch` finished: keep the container (or, on
    /// failure or when the pool was discarded since, forget it; a dropped
    /// container is removed, or reaped once the engine answers again).
    pub fn prepared(
        &mut self,
        language: &str,
        token: String,
        epoch: u64,
        prepared: Option<Prepared>,
    ) {
        if epoch != self.epoch {
            self.tokens.remove(&token);
            return;
        }
        if let Some(count) = self.preparing.get_mut(language) {
            *count = count.saturating_sub(1);
        }
        match prepared {
            Some(prepared) => self
                .idle
                .entry(language.to_string())
                .or_default()
                .push_back((token, prepared)),
            None => {
                self.tokens.remove(&token);
            }
        }
    }

    /// Gives up every idle container and every preparation under way (the
    /// engine stopped answering, or shutdown), and forgets their labels so
    /// the reaper removes whatever the dropped guards could not. Containers
    /// serving a job are not touched.
    pub fn discard_all(&mut self) -> Vec<Prepared> {
        self.epoch += 1;
        self.preparing.clear();
        let idle = std::mem::take(&mut self.idle);
        idle.into_values()
            .flatten()
            .map(|(token, prepared)| {
                self.tokens.remove(&token);
                prepared
            })
            .collect()
    }

    /// The container labelled `token` is gone (its job finished).
    pub fn retire(&mut self, token: &str) {
        self.tokens.remove(token);
    }

    /// Job labels of every container of this pool that still exists.
    pub fn tokens(&self) -> impl Iterator<Item = &String> {
        self.tokens.iter()
    }
}

/// The stand-in job a warm container is created for: default limits, no
/// files; its id becomes the container's job label (`warm-` is not needed:
/// the id is fresh and never a real job's).
pub(super) fn warm_job(language: &Language, settings: &SandboxSettings) -> Job {
    Job {
        id: JobId::new(),
        user_id: String::new(),
        language: language.id.clone(),
        files: vec![],
        stdin: String::new(),
        args: vec![],
        limits: settings.default_limits,
        tests: vec![],
        interactive: false,
        compile_args: vec![],
        created_at: OffsetDateTime::now_utc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python() -> Language {
        Language::python_for_tests()
    }

    /// Settings with a pool of two for python, and labels.
    fn python_pool_of_two() -> (SandboxSettings, ContainerLabels) {
        let settings = SandboxSettings {
            warm_pool_size: 2,
            warm_languages: vec!["python".into()],
            ..Default::default()
        };
        let labels = ContainerLabels {
            worker: "w".into(),
            prefix: "p".into(),
        };
        (settings, labels)
    }

    /// A pool whose warm languages were seeded and planned.
    fn seeded(settings: &SandboxSettings) -> WarmPool {
        let sizing = settings.warm_sizing(2, 2);
        let mut pool = WarmPool::default();
        let now = Instant::now();
        pool.seed(&settings.warm_languages, now, &sizing);
        assert!(pool.plan(now, &sizing).is_empty());
        pool
    }

    /// Refills never push the pool past its size, counting preparations
    /// under way, and only languages in demand get any.
    #[test]
    fn refills_respect_the_size() {
        let (settings, labels) = python_pool_of_two();
        let mut pool = seeded(&settings);
        let first = pool.refills(&python(), &settings, &labels);
        assert_eq!(first.len(), 2);
        assert!(
            pool.refills(&python(), &settings, &labels).is_empty(),
            "preparations count toward the size"
        );
        pool.prepared("python", first[0].token.clone(), first[0].epoch, None);
        assert_eq!(
            pool.refills(&python(), &settings, &labels).len(),
            1,
            "a failed preparation is replaced"
        );
        assert_eq!(pool.tokens().count(), 2);
        let mut other = python();
        other.id = "ruby".into();
        assert!(pool.refills(&other, &settings, &labels).is_empty());
    }

    /// After a discard the pool refills to its full size, and a preparation
    /// started before it neither counts nor keeps its label when it ends.
    #[test]
    fn discarded_preparations_are_forgotten() {
        let (settings, labels) = python_pool_of_two();
        let mut pool = seeded(&settings);
        let before = pool.refills(&python(), &settings, &labels);
        assert!(pool.discard_all().is_empty());
        let after = pool.refills(&python(), &settings, &labels);
        assert_eq!(after.len(), 2, "the discarded preparations no longer count");
        for refill in &before {
            pool.prepared("python", refill.token.clone(), refill.epoch, None);
        }
        assert!(pool.refills(&python(), &settings, &labels).is_empty());
        let tokens: HashSet<&String> = pool.tokens().collect();
        assert!(before.iter().all(|r| !tokens.contains(&r.token)));
        assert!(after.iter().all(|r| tokens.contains(&r.token)));
    }

    /// The preload spec in a refill's environment, if any.
    fn preload_of(refill: &Refill) -> Option<rce_protocol::PreloadSpec> {
        let env = refill.body.env.as_ref()?;
        let json = env
            .iter()
            .find_map(|e| e.strip_prefix(&format!("{PRELOAD_ENV}=")))?;
        Some(serde_json::from_str(json).expect("a preload spec"))
    }

    /// A warm container of a language with a launcher starts it, standing
    /// for the default-limit run; other languages' do not, nor any when
    /// preloading is off.
    #[test]
    fn refills_of_preloaded_languages_carry_their_launcher() {
        let (mut settings, labels) = python_pool_of_two();
        let mut node = python();
        node.id = "javascript".into();
        node.run = vec!["node".into(), "main.js".into()];
        node.preload = Some(vec!["node".into(), "launcher.js".into()]);
        settings.warm_languages = vec!["javascript".into(), "python".into()];
        let mut pool = seeded(&settings);
        let refills = pool.refills(&node, &settings, &labels);
        let preload = preload_of(&refills[0]).expect("javascript preloads");
        assert_eq!(preload.launcher, ["node", "launcher.js"]);
        assert_eq!(preload.run, ["node", "main.js"]);
        assert_eq!(
            preload.limits,
            settings.run_stage_limits(&settings.default_limits)
        );
        let refills = pool.refills(&python(), &settings, &labels);
        assert!(preload_of(&refills[0]).is_none(), "python has no launcher");

        settings.preload = false;
        let mut pool = seeded(&settings);
        let refills = pool.refills(&node, &settings, &labels);
        assert!(preload_of(&refills[0]).is_none(), "preloading is off");
    }

    /// Only jobs with the default limits fit a warm container.
    #[test]
    fn only_default_limits_fit() {
        let settings = SandboxSettings::default();
        let mut job = warm_job(&python(), &settings);
        assert!(WarmPool::fits(&job, &settings));
        job.limits.memory_mb += 1;
        assert!(!WarmPool::fits(&job, &settings));
    }
}
