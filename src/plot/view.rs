//! The discriminator's view drawn on a chart: its heat map behind the points and the
//! generator's pull as arrows.

#[allow(unused_imports)]
use super::*;

/// Draws `view` on `chart`, whose axes span `x` and `y`: each heat-map cell clipped to the
/// axes, then, after the caller's points, arrows; this draws the cells.
pub(super) fn draw_heat<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    view: &View,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let (w, h) = view.cell;
    let cells = view.cells.iter().filter_map(|c| {
        let (cx, cy) = (c.x as f64, c.y as f64);
        let (a, b) = ((cx - w / 2.0).max(x0), (cx + w / 2.0).min(x1));
        let (lo, hi) = ((cy - h / 2.0).max(y0), (cy + h / 2.0).min(y1));
        (a < b && lo < hi).then(|| Rectangle::new([(a, lo), (b, hi)], heat_colour(c.realness).filled()))
    });
    chart.draw_series(cells)?;
    Ok(())
}

/// Arrows of `view` on a sample of its points, the longest `reach` long on the x axis's scale
/// (`aspect` converts it to the y axis's): the direction and relative strength of the pull,
/// as `(from, to)`.
///
/// The scale is set by the frame's 80th-percentile pull, so that one outlier does not shrink
/// every other arrow to a dot; longer pulls are drawn at most twice `reach`.
pub(super) fn arrows(view: &View, reach: f64, aspect: f64) -> Vec<((f64, f64), (f64, f64))> {
    let length = |p: &crate::view::Probe| ((p.dx as f64).powi(2) + (p.dy as f64 / aspect).powi(2)).sqrt();
    let mut lengths: Vec<f64> =
        view.points.iter().map(length).filter(|l| l.is_finite() && *l > 0.0).collect();
    if lengths.is_empty() {
        return Vec::new();
    }
    lengths.sort_by(f64::total_cmp);
    let typical = lengths[(lengths.len() - 1) * 4 / 5];
    crate::view::arrow_sample(view.points.len())
        .map(|i| view.points[i])
        .filter(|p| length(p).is_finite())
        .map(|p| {
            let (x, y) = (p.x as f64, p.y as f64);
            let scale = reach / typical * (2.0 * typical / length(&p)).min(1.0);
            ((x, y), (x + p.dx as f64 * scale, y + p.dy as f64 * scale))
        })
        .collect()
}

/// Draws [`arrows`] on `chart`: a line from each point and a dot at its tip.
pub(super) fn draw_arrows<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    view: &View,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let segments = arrows(view, (x1 - x0) * 0.06, (y1 - y0) / (x1 - x0));
    chart.draw_series(
        segments.iter().map(|&(from, to)| PathElement::new(vec![from, to], ARROW.stroke_width(1))),
    )?;
    chart.draw_series(segments.iter().map(|&(_, tip)| Circle::new(tip, 2, ARROW.filled())))?;
    Ok(())
}
