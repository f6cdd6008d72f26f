//! Ensembles: K runs trained at once. A member must take the step its seed takes alone (to
//! float32 rounding, from a shared state), a diverging member must not stop the others, and
//! the folder an ensemble writes must work with every command.

mod common;

use common::step::{disagreement, state};
use gan1d::config::{EngineKind, ModelConfig, TrainConfig};
use gan1d::engine::Net;
use gan1d::ensemble::{Ensemble, EnsembleObserver, batched::BatchedLosses};
use gan1d::evaluate::EvalReport;
use gan1d::train::{FitEnd, Trainer};
use tch::Device;

fn single(seed: u64, cfg: &TrainConfig) -> Trainer {
    tch::set_num_threads(1);
    Trainer::new(
        &ModelConfig::default(),
        &TrainConfig { seed, ..cfg.clone() },
        EngineKind::Fused,
        Device::Cpu,
    )
    .unwrap()
}

#[test]
fn a_member_takes_the_step_its_seed_takes_alone() {
    let cfg = TrainConfig::default();
    let seeds = [3u64, 8, 21, 1 << 40];
    let (mut worst, mut bitwise, mut compared) = (0.0f64, 0, 0);
    for at in [0u64, 40, 300] {
        let mut alone: Vec<Trainer> = seeds.iter().map(|&s| single(s, &cfg)).collect();
        for run in &mut alone {
            for _ in 0..at {
                let _ = run.step();
            }
        }
        let before: Vec<_> =
            alone.iter().map(|t| [state(t, Net::Generator), state(t, Net::Discriminator)]).collect();
        let copies = alone
            .iter()
            .map(|run| {
                let mut copy = single(run.cfg().seed, &cfg);
                copy.load_state_of(run).unwrap();
                copy
            })
            .collect();
        let mut ensemble = Ensemble::from_members(copies).unwrap();
        let _ = ensemble.step();
        for (k, run) in alone.iter_mut().enumerate() {
            let _ = run.step();
            ensemble.sync(k).unwrap();
            let member = ensemble.member(k);
            assert_eq!(member.iteration(), run.iteration());
            for (i, net) in Net::BOTH.into_iter().enumerate() {
                let (ours, theirs) = (state(member, net), state(run, net));
                let (ratio, what) = disagreement(&before[k][i], &ours, &theirs);
                assert!(
                    ratio <= 1.0,
                    "seed {} at {at}, {net:?}: {ratio:.3} of the allowance: {what}",
                    seeds[k]
                );
                worst = worst.max(ratio);
                compared += 1;
                let same = ours.vars.iter().zip(&theirs.vars).all(|((_, a), (_, b))| a.equal(b))
                    && ours.m.equal(&theirs.m)
                    && ours.v.equal(&theirs.v);
                bitwise += same as usize;
                assert_eq!(ours.steps, theirs.steps);
            }
        }
    }
    println!(
        "member against single run: worst {worst:.4} of the allowance; {bitwise} of {compared} states bit-identical"
    );
}

/// Counts what the ensemble reports.
#[derive(Default)]
struct Record {
    diverged: Vec<(usize, u64)>,
    evaluations: Vec<Vec<Option<f64>>>,
}

impl EnsembleObserver for Record {
    fn stepped(&mut self, _: &mut Ensemble, _: &BatchedLosses) -> anyhow::Result<()> {
        Ok(())
    }
    fn progress(&mut self, _: &Ensemble, _: u64) -> anyhow::Result<()> {
        Ok(())
    }
    fn diverged(&mut self, _: &Ensemble, member: usize, iteration: u64, _: &str) -> anyhow::Result<()> {
        self.diverged.push((member, iteration));
        Ok(())
    }
    fn evaluated(&mut self, _: &mut Ensemble, reports: &[Option<EvalReport>]) -> anyhow::Result<()> {
        self.evaluations.push(reports.iter().map(|r| r.as_ref().map(|r| r.metrics.residual_mean)).collect());
        Ok(())
    }
}

#[test]
fn a_diverging_member_is_frozen_and_the_others_go_on() {
    let cfg = TrainConfig { epochs: 300, eval_every: 100, ..TrainConfig::default() };
    let members: Vec<Trainer> = [1u64, 2, 3].iter().map(|&s| single(s, &cfg)).collect();
    // Member 1's generator gets an infinite weight: its losses stop being finite at once.
    let poisoned = members[1].engine().var_store(Net::Generator).variables()["out.bias"].shallow_clone();
    let _ = tch::no_grad(|| poisoned.shallow_clone().fill_(f64::INFINITY));
    let mut ensemble = Ensemble::from_members(members).unwrap();
    let mut record = Record::default();
    assert_eq!(ensemble.fit(&mut record).unwrap(), FitEnd::Completed);
    assert_eq!(record.diverged, [(1, 99)]);
    assert_eq!(ensemble.diverged(1), Some(99));
    assert_eq!(record.evaluations.len(), 3);
    for evaluation in &record.evaluations {
        assert!(evaluation[1].is_none(), "a frozen member was evaluated");
        assert!(evaluation[0].unwrap().is_finite() && evaluation[2].unwrap().is_finite());
    }
    // The others trained exactly as they do beside a healthy member: its numbers stay in its
    // own rows.
    let mut healthy =
        Ensemble::from_members([1u64, 2, 3].iter().map(|&s| single(s, &cfg)).collect()).unwrap();
    let mut healthy_record = Record::default();
    healthy.fit(&mut healthy_record).unwrap();
    for (poisoned, healthy) in record.evaluations.iter().zip(&healthy_record.evaluations) {
        assert_eq!((poisoned[0], poisoned[2]), (healthy[0], healthy[2]));
    }
    let last = healthy_record.evaluations.last().unwrap();
    assert!(last.iter().all(|r| r.unwrap() < 0.5), "{last:?}");
}
