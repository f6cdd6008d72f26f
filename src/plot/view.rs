//! The discriminator's view drawn on a chart: its heat map behind the points, interpolated to
//! every pixel, and the generator's pull as arrows, on one length scale for a whole run.

#[allow(unused_imports)]
use super::*;

use crate::view::{COLUMNS, ROWS};

/// Draws `view`'s heat map on `chart`, whose axes span `x` and `y`: every pixel inside the
/// view's box gets the realness interpolated (bilinearly) between the four cell centres around
/// it, so the map has no blocks whatever its cells' shape; outside the box, the chart stays
/// white. The pixels are computed into one bitmap, blitted at once. A view without its full
/// grid of cells draws nothing.
pub(super) fn draw_heat<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    view: &View,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    if view.cells.len() != COLUMNS * ROWS {
        return Ok(());
    }
    let area = chart.plotting_area().strip_coord_spec();
    let (pw, ph) = area.dim_in_pixel();
    if pw == 0 || ph == 0 {
        return Ok(());
    }
    let columns: Vec<Option<Between>> = (0..pw)
        .map(|i| {
            between(x0 + (i as f64 + 0.5) / pw as f64 * (x1 - x0), view.cells[0].x, view.cell.0, COLUMNS)
        })
        .collect();
    let mut rgb = vec![255u8; pw as usize * ph as usize * 3];
    for (j, row) in rgb.chunks_exact_mut(pw as usize * 3).enumerate() {
        let y = y1 - (j as f64 + 0.5) / ph as f64 * (y1 - y0);
        let Some(v) = between(y, view.cells[0].y, view.cell.1, ROWS) else { continue };
        for (pixel, u) in row.chunks_exact_mut(3).zip(&columns) {
            if let Some(realness) = u.and_then(|u| interpolate(view, u, v)) {
                let RGBColor(r, g, b) = heat_colour(realness);
                pixel.copy_from_slice(&[r, g, b]);
            }
        }
    }
    let image = BitMapElement::with_owned_buffer((0, 0), (pw, ph), rgb)
        .ok_or("the heat map's bitmap has a wrong size")?;
    area.draw(&image)?;
    Ok(())
}

/// Where a coordinate falls along one axis of the grid: between cell centres `index` and
/// `index + 1`, `fraction` of the way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Between {
    index: usize,
    fraction: f32,
}

/// Where `t` falls on an axis of `n` cells of width `width` whose first centre is `first`:
/// constant beyond the outermost centres up to the box's edge, `None` outside the box.
fn between(t: f64, first: f32, width: f64, n: usize) -> Option<Between> {
    let u = (t - first as f64) / width;
    if !(-0.5..=n as f64 - 0.5).contains(&u) {
        return None;
    }
    let u = u.clamp(0.0, (n - 1) as f64);
    let index = (u.floor() as usize).min(n - 2);
    Some(Between { index, fraction: (u - index as f64) as f32 })
}

/// The realness between the four cell centres around `(u, v)`; `None` where one is not
/// finite.
fn interpolate(view: &View, u: Between, v: Between) -> Option<f32> {
    let at = |r: usize, c: usize| view.cells[r * COLUMNS + c].realness;
    let (i, k, fu, fv) = (u.index, v.index, u.fraction, v.fraction);
    let bottom = at(k, i) * (1.0 - fu) + at(k, i + 1) * fu;
    let top = at(k + 1, i) * (1.0 - fu) + at(k + 1, i + 1) * fu;
    let realness = bottom * (1.0 - fv) + top * fv;
    realness.is_finite().then_some(realness)
}

/// The realness at `(x, y)` interpolated between the cell centres of `view` (a full grid), as
/// [`draw_heat`] colours the pixel there.
#[cfg(test)]
pub(super) fn realness_at(view: &View, x: f64, y: f64) -> Option<f32> {
    let first = view.cells.first()?;
    let u = between(x, first.x, view.cell.0, COLUMNS)?;
    let v = between(y, first.y, view.cell.1, ROWS)?;
    interpolate(view, u, v)
}

/// The length scale of a run's arrows, the same in every picture of the run: an arrow
/// `reach` long (on the x axis's scale) stands for a pull of `pull` on one point, that is
/// −∂(the generator's loss on that point)/∂point; longer pulls are drawn at most twice `reach`.
/// Both come from the width of the view's box, which is fixed for a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ArrowScale {
    pub(super) reach: f64,
    pub(super) pull: f64,
}

impl ArrowScale {
    /// The scale of `view`'s run: `reach` 6 % of the box's width `W`, for a pull of `4 / W`
    /// (a discriminator whose logit changes by about 4 across the box, undecided). A view of a
    /// log from before 0.7 has no box: then `width`, the chart's, stands in.
    pub(super) fn of(view: &View, width: f64) -> ArrowScale {
        let box_width = if view.cell.0 > 0.0 { view.cell.0 * COLUMNS as f64 } else { width };
        ArrowScale { reach: 0.06 * box_width, pull: 4.0 / box_width }
    }

    /// The legend's entries of the arrows: what they are, and the scale they are drawn to.
    pub(super) fn entries(&self) -> [Entry; 2] {
        let label = format!("arrow {} = pull {}", two_digits(self.reach), two_digits(self.pull));
        [
            Entry { label: "G's pull".into(), color: ARROW.to_rgba(), glyph: Glyph::Arrow },
            Entry { label, color: ARROW.to_rgba(), glyph: Glyph::Note },
        ]
    }
}

/// `v` to two significant digits, short.
fn two_digits(v: f64) -> String {
    let text = format!("{v:.1e}");
    text.parse::<f64>().map(tick).unwrap_or(text)
}

/// Arrows of `view` on a sample of its points that `shown` keeps, as `(from, to)` on the
/// chart's axes; `aspect` is the y axis's units per x axis unit on screen. Each probe's pull
/// is per point of the `view.points.len()` it was measured with (see [`crate::view::Lens`]),
/// so it is multiplied back by that count.
pub(super) fn arrows(
    view: &View,
    scale: ArrowScale,
    aspect: f64,
    shown: impl Fn(f32, f32) -> bool,
) -> Vec<((f64, f64), (f64, f64))> {
    let n = view.points.len() as f64;
    crate::view::arrow_sample(view.points.len())
        .map(|i| view.points[i])
        .filter(|p| shown(p.x, p.y))
        .filter_map(|p| {
            let (dx, dy) = (p.dx as f64 * n, p.dy as f64 * n);
            let pull = (dx.powi(2) + (dy / aspect).powi(2)).sqrt();
            if !pull.is_finite() || pull == 0.0 {
                return None;
            }
            let length = scale.reach * (pull / scale.pull).min(2.0);
            let (x, y) = (p.x as f64, p.y as f64);
            Some(((x, y), (x + dx / pull * length, y + dy / pull * length)))
        })
        .collect()
}

/// Draws [`arrows`] on `chart` (axes `x`, `y`) to `scale`, the one the legend states, each a
/// line with a head, and returns how many it drew.
pub(super) fn draw_arrows<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    view: &View,
    scale: ArrowScale,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    shown: impl Fn(f32, f32) -> bool,
) -> Result<usize, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let (pw, ph) = chart.plotting_area().dim_in_pixel();
    // Pixels per unit on each axis.
    let (sx, sy) = (pw as f64 / (x1 - x0), ph as f64 / (y1 - y0));
    let segments = arrows(view, scale, sx / sy, shown);
    let style = ARROW.stroke_width(1);
    for &(from, to) in &segments {
        chart.draw_series(std::iter::once(PathElement::new(vec![from, to], style)))?;
        // The head, in pixels: two strokes 25° either side of the shaft, at most 7 px long.
        let (ux, uy) = ((to.0 - from.0) * sx, (to.1 - from.1) * sy);
        let length = ux.hypot(uy);
        if length < 3.0 {
            continue;
        }
        let head = (0.4 * length).min(7.0);
        let (cos, sin) = (25f64.to_radians().cos(), 25f64.to_radians().sin());
        let barb = |side: f64| {
            let (bx, by) = (-(ux * cos - side * uy * sin) / length, -(side * ux * sin + uy * cos) / length);
            (to.0 + bx * head / sx, to.1 + by * head / sy)
        };
        chart.draw_series(std::iter::once(PathElement::new(vec![barb(1.0), to, barb(-1.0)], style)))?;
    }
    Ok(segments.len())
}
