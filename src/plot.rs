//! Scatter plots of real and generated points over the target curve, as PNG files.
//! Works on plain `(x, y)` pairs; never sees a tensor.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font every label is drawn with, embedded so plots need no system fonts.
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded DejaVu Sans is a valid TrueType font, so this cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// What one scatter plot shows.
pub struct Scatter<'a> {
    pub title: &'a str,
    /// Red points; the tutorial's real samples.
    pub real: &'a [(f32, f32)],
    /// Blue points; the generator's samples.
    pub generated: &'a [(f32, f32)],
    /// The target function, drawn as a faint line.
    pub curve: &'a [(f64, f64)],
}

/// Plot size in pixels.
const SIZE: (u32, u32) = (800, 600);

/// Draws `scatter` into the PNG file `path`. The axes cover the target curve and every point.
pub fn scatter(path: &Path, scatter: &Scatter) -> Result<()> {
    register_font();
    draw(path, scatter).map_err(|e| anyhow!("cannot write plot {}: {e}", path.display()))
}

fn draw(path: &Path, s: &Scatter) -> Result<(), Box<dyn std::error::Error>> {
    let points = s.real.iter().chain(s.generated).map(|&(x, y)| (x as f64, y as f64));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in s.curve.iter().copied().chain(points) {
        if x.is_finite() && y.is_finite() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    let (mx, my) = ((x1 - x0).max(1e-3) * 0.05, (y1 - y0).max(1e-3) * 0.05);

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(s.title, (FONT, 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - mx)..(x1 + mx), (y0 - my)..(y1 + my))?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 18))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let faint = RGBColor(120, 120, 120).mix(0.5);
    chart
        .draw_series(LineSeries::new(s.curve.iter().copied(), faint.stroke_width(2)))?
        .label("target f(x) = x²")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], faint.stroke_width(2)));
    let dots = |pts: &[(f32, f32)], color: RGBColor| {
        pts.iter()
            .map(|&(x, y)| Circle::new((x as f64, y as f64), 3, color.mix(0.8).filled()))
            .collect::<Vec<_>>()
    };
    if !s.real.is_empty() {
        chart
            .draw_series(dots(s.real, RED))?
            .label("real")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.filled()));
    }
    if !s.generated.is_empty() {
        chart
            .draw_series(dots(s.generated, BLUE))?
            .label("generated")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, BLUE.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}
