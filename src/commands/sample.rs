//! `gan1d sample`: points from a trained generator as CSV, optionally plotted.

use std::io::{self, BufWriter};

use anyhow::{Context, Result};
use tch::Device;

use crate::cli::SampleArgs;
use crate::{checkpoint, plot, sample as sampling};

/// Most points drawn in a `sample --plot`: beyond this a scatter shows nothing new.
const PLOT_LIMIT: usize = 10_000;

pub fn sample(args: &SampleArgs) -> Result<()> {
    // One thread: the same seed must give byte-identical output on any machine load.
    tch::set_num_threads(1);
    let (dir, note) = super::resolve_checkpoint(&args.checkpoint, args.member)?;
    for reading in [&args.checkpoint, &dir] {
        if let Some(path) = &args.out {
            super::check_output(path, "--out", false, reading)?;
        }
        if let Some(path) = &args.plot {
            super::check_output(path, "--plot", true, reading)?;
        }
    }
    if let Some(path) = &args.plot
        && args.out.as_ref().is_some_and(|out| out == path)
    {
        anyhow::bail!("--plot {}: --out names the same file; give each its own", path.display());
    }
    let (manifest, params) = checkpoint::load_generator(&dir, Device::Cpu)?;
    let generator = crate::model::Generator::new(&manifest.model, params);
    if let Some(note) = note {
        crate::output::note(&note);
    }
    let keep = if args.plot.is_some() { PLOT_LIMIT } else { 0 };
    let sampler = sampling::Sampler {
        generator: &generator,
        latent_dim: manifest.model.latent_dim,
        scaling: manifest.scaling,
        seed: args.seed,
    };
    let kept = match &args.out {
        None => {
            let stdout = io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            match sampling::write_csv(&sampler, args.n, keep, &mut writer) {
                Ok(kept) => kept,
                // A reader that stops early (`| head`) is not an error.
                Err(e) if crate::output::is_broken_pipe(&e) => return Ok(()),
                Err(e) => return Err(e.context("cannot write the samples to stdout")),
            }
        }
        Some(path) => {
            super::write_file_atomically(path, "--out", |w| sampling::write_csv(&sampler, args.n, keep, w))?
        }
    };
    if let Some(plot_path) = &args.plot {
        let title = if kept.len() as u64 == args.n {
            format!("{} samples, seed {}", args.n, args.seed)
        } else {
            format!("the first {} of {} samples, seed {}", kept.len(), args.n, args.seed)
        };
        let target = manifest.target()?;
        let curve = target.curve(plot::CURVE_POINTS);
        let label = target.label();
        plot::scatter(
            plot_path,
            &plot::Scatter { title: &title, real: &[], generated: &kept, curve: &curve, curve_label: &label },
        )
        .with_context(|| format!("--plot {}", plot_path.display()))?;
    }
    Ok(())
}
