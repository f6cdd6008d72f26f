//! The discriminator's view of the plane, as GAN Lab draws it: how real it believes each place
//! is (a heat map behind the points), and the pull on a generated point there, the direction
//! the generator's update moves it (arrows). Measured from one member's discriminator by the
//! host loops, so a run's frames have the same bits on every CPU; the plots draw it from the
//! plain values here.

use crate::host::HostNetwork;
use crate::loss::{Loss, Term};
use crate::rows::{FrameKind, FrameRow};
use crate::target::{Scaling, Target};

/// Cells of the heat map across and up: coarse enough for a small log, fine enough to show
/// the discriminator's ridges along a curve.
pub const COLUMNS: usize = 20;
pub const ROWS: usize = 15;

/// The discriminator at one place of the plane, on the data's axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub x: f32,
    pub y: f32,
    /// How real it believes a point here is, on `[0, 1]` ([`Loss::realness`]).
    pub realness: f32,
    /// −∂(the generator's loss)/∂point: where the generator's update pushes a generated point
    /// here, on the data's axes, unnormalised.
    pub dx: f32,
    pub dy: f32,
}

impl Probe {
    /// The probe as a row of `frames.csv`, after `iterations_done` iterations.
    pub fn row(&self, iterations_done: u64, kind: FrameKind) -> FrameRow {
        let Probe { x, y, realness, dx, dy } = *self;
        FrameRow { iterations_done, x, y, kind, realness, dx, dy }
    }

    /// The probe a row of `frames.csv` holds.
    pub fn of_row(row: &FrameRow) -> Probe {
        Probe { x: row.x, y: row.y, realness: row.realness, dx: row.dx, dy: row.dy }
    }
}

/// The box the heat map covers: the target's domain and range with a quarter of each on every
/// side, fixed for a run, so that every evaluation and frame shows the same region.
pub fn view_box(target: &Target) -> (f64, f64, f64, f64) {
    let domain = target.domain();
    let (low, high) = target.range();
    let w = domain.high() - domain.low();
    // A flat target still gets a box of some height.
    let h = (high - low).max(w.max(1e-3) * 1e-3);
    (domain.low() - w / 4.0, domain.high() + w / 4.0, low - h / 4.0, high + h / 4.0)
}

/// The size of one heat-map cell of `target`'s box.
pub fn cell_size(target: &Target) -> (f64, f64) {
    let (x0, x1, y0, y1) = view_box(target);
    ((x1 - x0) / COLUMNS as f64, (y1 - y0) / ROWS as f64)
}

/// The centres of the heat map's cells, row by row from the bottom.
pub fn cell_centres(target: &Target) -> Vec<(f32, f32)> {
    let (x0, _, y0, _) = view_box(target);
    let (w, h) = cell_size(target);
    (0..ROWS)
        .flat_map(|r| {
            (0..COLUMNS)
                .map(move |c| ((x0 + (c as f64 + 0.5) * w) as f32, (y0 + (r as f64 + 0.5) * h) as f32))
        })
        .collect()
}

/// What the view of one discriminator needs: the network (one member's, on the host), the
/// loss it is trained with, its packing, and the run's scaling.
pub struct Lens<'a> {
    pub discriminator: &'a HostNetwork,
    pub loss: Loss,
    pub pack: usize,
    pub scaling: Scaling,
}

impl Lens<'_> {
    /// The discriminator at each of `places`. A paired loss's logits are measured from the
    /// midpoint between its mean logit on `real` and on `fake` points, where it is undecided.
    /// A packing discriminator judges a pack of `pack` copies of the place; the pull is then
    /// the sum over the copies, the move of every point of such a pack at once. Computed by the
    /// host loops ([`crate::host`]), so the same bits on every CPU.
    pub fn probe(&self, places: &[(f32, f32)], real: &[(f32, f32)], fake: &[(f32, f32)]) -> Vec<Probe> {
        if places.is_empty() {
            return Vec::new();
        }
        let pack = self.pack;
        // Each point `copies` times over, on the networks' axes: `copies` points of a pack.
        let on_model = |points: &[(f32, f32)], copies: usize| -> Vec<f32> {
            points
                .iter()
                .flat_map(|&p| {
                    let (x, y) = self.scaling.point_to_model(p);
                    std::iter::repeat_n([x, y], copies).flatten()
                })
                .collect()
        };
        let centre = if self.loss.is_paired() && !real.is_empty() && !fake.is_empty() {
            // A pack of consecutive points, as training judges them; the mean in float64, in
            // order.
            let mean = |p: &[(f32, f32)]| {
                let logits = self.discriminator.apply(&on_model(p, 1));
                logits.iter().map(|&z| f64::from(z)).sum::<f64>() / logits.len().max(1) as f64
            };
            ((mean(real) + mean(fake)) / 2.0) as f32
        } else {
            0.0
        };
        let n = places.len() as f32;
        let (logits, pull) = self.discriminator.input_gradient(&on_model(places, pack), |outputs| {
            outputs.iter().map(|&z| self.loss.point_gradient(Term::Generator, z - centre, n)).collect()
        });
        let (sx, sy) = (self.scaling.x.half_width as f32, self.scaling.y.half_width as f32);
        places
            .iter()
            .zip(logits)
            .zip(pull.chunks_exact(2 * pack))
            .map(|((&(x, y), z), g)| {
                // The pull on the pack's points together, summed over the copies in order.
                let (gx, gy) = g.chunks_exact(2).fold((0f32, 0f32), |(sx, sy), c| (sx + c[0], sy + c[1]));
                Probe {
                    x,
                    y,
                    realness: thousandths(self.loss.realness(z - centre)),
                    dx: three_digits(-gx * sx),
                    dy: three_digits(-gy * sy),
                }
            })
            .collect()
    }

    /// The view of this discriminator: its heat map over `target`'s box, and its pull on
    /// `fake`, with `real` as in [`Lens::probe`]. A cell keeps no pull.
    pub fn view(&self, target: &Target, fake: &[(f32, f32)], real: &[(f32, f32)]) -> View {
        let mut cells = self.probe(&cell_centres(target), real, fake);
        for cell in &mut cells {
            (cell.dx, cell.dy) = (0.0, 0.0);
        }
        View { cells, points: self.probe(fake, real, fake), cell: cell_size(target) }
    }
}

/// `text` of a value read back: the value to the digits a picture needs, as the number that
/// short text stands for, so that the log holds short numbers and the frames read back from it
/// after a resume are the frames drawn.
fn read_back(text: String, value: f32) -> f32 {
    text.parse().unwrap_or(value)
}

/// To a thousandth: a shade of the heat map.
fn thousandths(value: f32) -> f32 {
    read_back(format!("{value:.3}"), value)
}

/// To three significant digits: an arrow's direction and length.
fn three_digits(value: f32) -> f32 {
    read_back(format!("{value:.2e}"), value)
}

/// The view drawn with one picture: the heat map's cells and the generated points' pulls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// The heat map, [`cell_centres`]'s order; empty where none was measured (logs of gan1d
    /// before 0.7).
    pub cells: Vec<Probe>,
    /// The discriminator at generated points, for the arrows.
    pub points: Vec<Probe>,
    /// A cell's width and height on the data's axes.
    pub cell: (f64, f64),
}

/// Generated points that carry an arrow in a picture: a spread-out sample, enough to read the
/// field, few enough not to hide the points.
pub const ARROWS: usize = 40;

/// `ARROWS` of `n` points, evenly spaced through them.
pub fn arrow_sample(n: usize) -> impl Iterator<Item = usize> {
    let step = n.div_ceil(ARROWS).max(1);
    (0..n).step_by(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A discriminator whose logit is the point's `y`: more real upwards.
    fn upwards() -> HostNetwork {
        let cfg = crate::config::ModelConfig::default();
        let n = crate::config::parameter_count(&cfg.discriminator_layers()) as usize;
        let mut p = vec![0f32; n];
        p[1] = 1.0; // hidden.weight[0] = (0, 1)
        p[50] = 10.0; // hidden.bias[0]: the unit never switches off
        p[75] = 1.0; // out.weight[0][0]
        p[100] = -10.0; // out.bias
        HostNetwork::from_row(&cfg.discriminator_layers(), p).unwrap()
    }

    #[test]
    fn the_view_rises_where_the_discriminator_believes_and_pulls_towards_it() {
        let target = Target::default();
        let discriminator = upwards();
        for &loss in Loss::ALL {
            let lens = Lens { discriminator: &discriminator, loss, pack: 1, scaling: Scaling::IDENTITY };
            let view = lens.view(&target, &[(0.0, -0.2), (0.1, 0.3)], &[(0.0, 0.0)]);
            assert_eq!((view.cells.len(), view.points.len()), (COLUMNS * ROWS, 2));
            let (first, last) = (view.cells[0], view.cells[COLUMNS * ROWS - 1]);
            assert!(first.y < last.y && first.realness <= last.realness, "{loss}: {first:?} {last:?}");
            for p in &view.points {
                assert!(p.dy > 0.0 && p.dx.abs() < 1e-6, "{loss}: the pull is not upwards: {p:?}");
            }
            assert!(view.cells.iter().all(|c| (c.dx, c.dy) == (0.0, 0.0)));
        }
        let (x0, x1, y0, y1) = view_box(&target);
        assert!(x0 < -0.5 && x1 > 0.5 && y0 < 0.0 && y1 > 0.25);
    }

    /// A paired loss's logits mean something only against each other: the view measures them
    /// from the midpoint of the mean real and the mean fake logit, where the discriminator is
    /// undecided (realness ½).
    #[test]
    fn a_paired_loss_is_viewed_from_where_the_discriminator_is_undecided() {
        let discriminator = upwards();
        // Logit = y: the real point's is 0, the fakes' mean 0.05, so the midpoint is at 0.025.
        let (real, fake) = ([(0.0, 0.0)], [(0.0, -0.2), (0.1, 0.3)]);
        let lens = Lens {
            discriminator: &discriminator,
            loss: Loss::Relativistic,
            pack: 1,
            scaling: Scaling::IDENTITY,
        };
        let at = |y: f32| lens.probe(&[(0.0, y)], &real, &fake)[0].realness;
        assert_eq!(at(0.025), 0.5);
        assert!(at(0.0) < 0.5 && at(0.05) > 0.5);
        // An unpaired loss reads its logits as they are.
        let bce = Lens { loss: Loss::Bce, ..lens };
        assert_eq!(bce.probe(&[(0.0, 0.0)], &real, &fake)[0].realness, 0.5);
    }
}
