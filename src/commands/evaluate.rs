//! `gan1d evaluate`: the quality metrics of a trained generator beside the real-data floor.

use anyhow::Result;
use serde::Serialize;
use tch::Device;

use crate::cli::EvaluateArgs;
use crate::metrics::{self, ENERGY_MAX_POINTS, Metrics};
use crate::rng::Tag;
use crate::{checkpoint, sample};

/// What `evaluate --json` prints.
#[derive(Serialize)]
struct Report<'a> {
    checkpoint: String,
    /// Training iterations the checkpoint had completed.
    iteration: u64,
    /// The function and domain measured against, as the run recorded them (a plane target:
    /// its name, and no domain).
    target: &'a str,
    domain: Option<[f64; 2]>,
    seed: u64,
    n: u64,
    generated: &'a Metrics,
    /// The same metrics for fresh real points against other real points.
    real_floor: &'a Metrics,
}

pub fn evaluate(args: &EvaluateArgs) -> Result<()> {
    // One thread, as `sample`: the same seed and -n give the same points.
    tch::set_num_threads(1);
    let (dir, note) = super::resolve_checkpoint(&args.checkpoint, args.member)?;
    let (manifest, params) = checkpoint::load_generator(&dir, Device::Cpu)?;
    let generator = crate::host::HostNetwork::new(&manifest.model.generator_layers(), &params)?;
    if let Some(note) = note {
        crate::output::note(&note);
    }
    let target = manifest.target()?;
    let sampler = sample::Sampler {
        generator: &generator,
        model: &manifest.model,
        scaling: manifest.scaling,
        seed: args.seed,
    };
    let points = sample::generate(&sampler, args.n);

    // Three sets of real points, each its own counter of the seed's stream.
    let real =
        |counter, n| crate::data::reference_pairs(args.seed, Tag::EvaluateReference, counter, &target, n);
    let reference_size = ENERGY_MAX_POINTS.min(args.n as usize);
    let reference = real(0, reference_size);
    let floor_points = real(1, args.n as usize);
    let floor_reference = real(2, reference_size);
    let generated = metrics::measure(&points, &reference, &target);
    let floor = metrics::measure(&floor_points, &floor_reference, &target);

    let mut stdout = crate::output::Stdout::default();
    if args.json {
        let report = Report {
            checkpoint: dir.display().to_string(),
            iteration: manifest.iteration,
            target: target.formula(),
            domain: target.plane().is_none().then(|| target.domain().into()),
            seed: args.seed,
            n: args.n,
            generated: &generated,
            real_floor: &floor,
        };
        stdout.line(&serde_json::to_string(&report)?)?;
    } else {
        let on = match target.plane() {
            Some(_) => String::new(),
            None => format!(" on [{}, {})", target.domain().low(), target.domain().high()),
        };
        let heading = format!(
            "checkpoint {} after {} iterations; target {}{on}; {} points, seed {}\n",
            dir.display(),
            manifest.iteration,
            target.label(),
            args.n,
            args.seed
        );
        // A closed stdout ends the command quietly: nothing is left to do.
        let _ = stdout.text(&format!("{heading}\n{}", metrics::table(&generated, &floor)))?;
    }
    Ok(())
}
