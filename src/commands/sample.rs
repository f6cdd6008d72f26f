//! `gan1d sample`: points from a trained generator as CSV, optionally plotted.

use std::io::{self, BufWriter};

use anyhow::{Context, Result};
use tch::Device;

use super::Destination;
use crate::cli::SampleArgs;
use crate::{checkpoint, plot, sample as sampling};

/// Most points drawn in a `sample --plot`: beyond this a scatter shows nothing new.
const PLOT_LIMIT: usize = 10_000;

pub fn sample(args: &SampleArgs) -> Result<()> {
    // One thread: the same seed must give byte-identical output on any machine load.
    tch::set_num_threads(1);
    let (dir, note) = super::resolve_checkpoint(&args.checkpoint, args.member)?;
    let out = match &args.out {
        Some(path) => Destination::check(path, "--out", false)?,
        None => Destination::Stdout,
    };
    let plot = match &args.plot {
        Some(path) => Some((Destination::check(path, "--plot", true)?, path)),
        None => None,
    };
    if let Some((plot, shown)) = &plot {
        super::destination::distinct(&out, plot, ("--out", "--plot"), shown)?;
    }
    let (manifest, params) = checkpoint::load_generator(&dir, Device::Cpu)?;
    let generator = crate::host::HostNetwork::new(&manifest.model.generator_layers(), &params)?;
    if let Some(note) = note {
        crate::output::note(&note);
    }
    let keep = if args.plot.is_some() { PLOT_LIMIT } else { 0 };
    let sampler = sampling::Sampler {
        generator: &generator,
        model: &manifest.model,
        scaling: manifest.scaling,
        seed: args.seed,
    };
    let kept = match (&out, &args.out) {
        (Destination::Stdout, _) => {
            let stdout = io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            match sampling::write_csv(&sampler, args.n, keep, args.latent, &mut writer) {
                Ok(kept) => kept,
                // A reader that stops early (`| head`) is not an error.
                Err(e) if crate::output::is_broken_pipe(&e) => return Ok(()),
                Err(e) => return Err(e.context("cannot write the samples to stdout")),
            }
        }
        (out, path) => out.write("--out", path.as_deref().unwrap_or("-".as_ref()), |w| {
            sampling::write_csv(&sampler, args.n, keep, args.latent, w)
        })?,
    };
    if let Some((plot, shown)) = &plot {
        let title = if kept.len() as u64 == args.n {
            format!("{} samples, seed {}", args.n, args.seed)
        } else {
            format!("the first {} of {} samples, seed {}", kept.len(), args.n, args.seed)
        };
        let target = manifest.target()?;
        let backdrop = plot::Backdrop { label: target.label(), ..plot::Backdrop::of(&target) };
        let scatter =
            plot::Scatter { title: &title, real: &[], generated: &kept, backdrop: &backdrop, view: None };
        plot.draw("--plot", shown, |path| plot::scatter(path, &scatter))
            .with_context(|| format!("--plot {}", shown.display()))?;
    }
    Ok(())
}
