//! `gan1d explore …`: the tutorial's intermediate steps, each drawing one PNG into `--out`
//! and printing what the tutorial printed.

use anyhow::Result;
use plotters::style::RGBColor;
use tch::Device;

use super::Destination;
use crate::cli::{ExploreArgs, ExploreCommand};
use crate::config::{ModelConfig, TrainConfig};
use crate::engine::{self, Net};
use crate::host::HostNetwork;
use crate::plot::{self, Panel, Series, Style};
use crate::rng::{Keys, Tag};
use crate::target::{Scaling, Target, TargetConfig};
use crate::{data, train};

/// Batches the tutorial trains the discriminator alone for.
const DISCRIMINATOR_BATCHES: u64 = 1000;
/// Points of the tutorial's line plot of the target: -0.5, -0.4 … 0.5 on the default domain.
const FUNCTION_POINTS: usize = 11;
/// Points in the tutorial's real and untrained-generator scatter plots.
const SCATTER_POINTS: i64 = 100;

pub fn explore(command: &ExploreCommand) -> Result<()> {
    tch::set_num_threads(1);
    match command {
        ExploreCommand::Function(args) => function(args),
        ExploreCommand::Real(args) => real(args),
        ExploreCommand::Discriminator(args) => discriminator(args),
        ExploreCommand::Untrained(args) => untrained(args),
    }
}

/// Checks the flags and the folder; returns the PNG's path and the target. Every draw comes
/// from `--seed`'s stream.
fn start(args: &ExploreArgs, file: &str) -> Result<(Output, Target)> {
    let target = Target::new(&args.target.target_config()?)?;
    let path = args.out.join(file);
    // A folder that does not exist yet is made, and holds no file to check.
    if !args.out.is_dir() {
        super::writable_dir(&args.out, "--out")?;
    }
    let destination = Destination::check(&path, "--out", true)?;
    super::writable_dir(&args.out, "--out")?;
    Ok((Output { destination, path }, target))
}

/// An explore command's PNG: where it goes, and its path as shown.
struct Output {
    destination: Destination,
    path: std::path::PathBuf,
}

impl Output {
    fn draw(&self, draw: impl FnOnce(&std::path::Path) -> Result<()>) -> Result<()> {
        self.destination.draw("--out", &self.path, draw)?;
        crate::output::note(&format!("gan1d: wrote {}", self.path.display()));
        Ok(())
    }
}

/// The target at 11 evenly spaced inputs across the domain (the tutorial's -0.5, -0.4 … 0.5),
/// as a line plot. The tutorial's x² is drawn as the tutorial drew it, a line through those
/// points; any other target also gets its smooth curve, which 11 points can misrepresent.
fn function(args: &ExploreArgs) -> Result<()> {
    let (out, target) = start(args, "function.png")?;
    if target.plane().is_some() {
        anyhow::bail!(
            "explore function draws a curve y = f(x); {} is a distribution in the plane: `gan1d explore real` shows it",
            target.legend_label()
        );
    }
    let blue = RGBColor(30, 60, 200);
    let points = target.curve(FUNCTION_POINTS);
    let series = if *target.config() == TargetConfig::default() {
        vec![Series { label: target.legend_label(), points, color: blue, style: Style::LineAndDots }]
    } else {
        vec![
            Series {
                label: target.legend_label(),
                points: target.curve(plot::CURVE_POINTS),
                color: blue,
                style: Style::Line,
            },
            Series { label: format!("at {FUNCTION_POINTS} points"), points, color: blue, style: Style::Dots },
        ]
    };
    let panel = Panel {
        title: "the target function".into(),
        x_desc: "x".into(),
        y_desc: "y".into(),
        series,
        log_y: false,
    };
    out.draw(|path| plot::panels(path, &[panel]))?;
    Ok(())
}

/// 100 real samples, as a scatter plot.
fn real(args: &ExploreArgs) -> Result<()> {
    let (out, target) = start(args, "real.png")?;
    let keys = Keys::new(&[args.seed], Device::Cpu);
    let points = data::real_points(&keys, Tag::ExploreReal, 0, &target, Scaling::IDENTITY, SCATTER_POINTS);
    let real = data::to_pairs(&points.get(0));
    let title = format!("{SCATTER_POINTS} real samples");
    // A curve is seen in its points; a plane target's mode centres and box are drawn too.
    let backdrop = match target.plane() {
        Some(_) => plot::Backdrop::of(&target),
        None => plot::Backdrop::default(),
    };
    let scatter =
        plot::Scatter { title: &title, real: &real, generated: &[], backdrop: &backdrop, view: None };
    out.draw(|path| plot::scatter(path, &scatter))?;
    Ok(())
}

/// The discriminator trained alone on real points and uniform fakes, printing the tutorial's
/// `i acc_real acc_fake` per batch and plotting the two accuracies.
fn discriminator(args: &ExploreArgs) -> Result<()> {
    let (out, target) = start(args, "discriminator.png")?;
    let cfg = TrainConfig { seed: args.seed, target: target.config().clone(), ..TrainConfig::default() };
    let (mut real, mut fake) = (Vec::new(), Vec::new());
    // A closed stdout stops the printing, not the training: the plot is still drawn.
    let mut stdout = crate::output::Stdout::default();
    train::discriminator_alone(
        &ModelConfig::default(),
        &cfg,
        DISCRIMINATOR_BATCHES,
        Device::Cpu,
        |i, r, f| {
            stdout.line(&format!("{i} {r:?} {f:?}"))?;
            real.push((i as f64, r));
            fake.push((i as f64, f));
            Ok(())
        },
    )?;
    let series = vec![
        Series {
            label: "accuracy on real".into(),
            points: real,
            color: RGBColor(200, 30, 30),
            style: Style::Line,
        },
        Series {
            label: "accuracy on fake".into(),
            points: fake,
            color: RGBColor(30, 60, 200),
            style: Style::Line,
        },
    ];
    let panel = Panel {
        title: "the discriminator trained alone".into(),
        x_desc: "batch".into(),
        y_desc: "accuracy".into(),
        series,
        log_y: false,
    };
    out.draw(|path| plot::panels(path, &[panel]))?;
    Ok(())
}

/// 100 samples of an untrained generator, as a scatter plot over the target.
fn untrained(args: &ExploreArgs) -> Result<()> {
    let (out, target) = start(args, "untrained.png")?;
    let generated = untrained_points(&ModelConfig::default(), args.seed, SCATTER_POINTS);
    let title = format!("{SCATTER_POINTS} samples of an untrained generator");
    let backdrop = plot::Backdrop::of(&target);
    let scatter =
        plot::Scatter { title: &title, real: &[], generated: &generated, backdrop: &backdrop, view: None };
    out.draw(|path| plot::scatter(path, &scatter))?;
    Ok(())
}

/// `n` points of the generator of `cfg` as the run seeded `seed` starts it, before any update,
/// from latent points of the same seed's stream.
fn untrained_points(cfg: &ModelConfig, seed: u64, n: i64) -> Vec<(f32, f32)> {
    let keys = Keys::new(&[seed], Device::Cpu);
    let first = engine::initial_state(cfg, Net::Generator, &keys).params;
    let generator =
        HostNetwork::new(&cfg.generator_layers(), &first).expect("the initial weights fit their layers");
    let latent = data::latent_points(&keys, Tag::ExploreLatent, 0, n, cfg);
    data::to_pairs(&generator.forward(&latent).get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_untrained_generator_spreads_its_points() {
        let points = untrained_points(&ModelConfig::default(), 1, SCATTER_POINTS);
        assert_eq!(points.len(), SCATTER_POINTS as usize);
        let mut distinct: Vec<(u32, u32)> = points.iter().map(|&(x, y)| (x.to_bits(), y.to_bits())).collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), points.len(), "points coincide: {points:?}");
        // A freshly initialised generator is far from the target but not degenerate: its points
        // spread over an interval of about unit width.
        let xs: Vec<f32> = points.iter().map(|p| p.0).collect();
        let spread =
            xs.iter().cloned().fold(f32::MIN, f32::max) - xs.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread > 0.1, "the points span only {spread}");
    }
}
