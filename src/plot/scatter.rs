//! An evaluation's scatter plot: real and generated points over the target, with the
//! discriminator's view behind them.

#[allow(unused_imports)]
use super::*;

/// What one scatter plot shows.
pub struct Scatter<'a> {
    pub title: &'a str,
    /// Red points; the tutorial's real samples.
    pub real: &'a [(f32, f32)],
    /// Blue points; the generator's samples.
    pub generated: &'a [(f32, f32)],
    /// The target behind the points.
    pub backdrop: &'a Backdrop,
    /// The discriminator's view behind the points, if measured: its heat map, and arrows on
    /// a sample of the generated points it was measured at.
    pub view: Option<&'a View>,
}

/// Plot size in pixels.
pub(super) const SIZE: (u32, u32) = (800, 600);

/// Draws `scatter` into the PNG file `path`. The axes cover the target curve and every point.
pub fn scatter(path: &Path, scatter: &Scatter) -> Result<()> {
    register_font();
    write_png(path, SIZE, |buffer| draw(buffer, scatter))
}

pub(super) fn draw(buffer: &mut [u8], s: &Scatter) -> Result<(), Box<dyn std::error::Error>> {
    let points = s.real.iter().chain(s.generated).map(|&(x, y)| (x as f64, y as f64));
    // With a heat map, its cells' centres too, so that it fills the chart.
    let cells = s.view.into_iter().flat_map(|v| v.cells.iter().map(|c| (c.x as f64, c.y as f64)));
    let (x0, x1, y0, y1) = s.backdrop.axes(points.chain(cells));
    let inside = |&(x, y): &(f32, f32)| (x0..=x1).contains(&(x as f64)) && (y0..=y1).contains(&(y as f64));

    let root = BitMapBackend::with_buffer(buffer, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut entries = s.backdrop.entries();
    if !s.real.is_empty() {
        entries.push(Entry { label: "real".into(), color: RED.mix(0.8), glyph: Glyph::Dot });
    }
    if !s.generated.is_empty() {
        entries.push(Entry { label: "generated".into(), color: BLUE.mix(0.8), glyph: Glyph::Dot });
    }
    if s.view.is_some_and(|v| !v.cells.is_empty()) {
        let [r, g, b] = HEAT[HEAT.len() - 1];
        entries.push(Entry {
            label: "D: real".into(),
            color: RGBColor(r, g, b).to_rgba(),
            glyph: Glyph::Dot,
        });
        let [r, g, b] = HEAT[0];
        entries.push(Entry {
            label: "D: fake".into(),
            color: RGBColor(r, g, b).to_rgba(),
            glyph: Glyph::Dot,
        });
        entries.push(Entry { label: "G's pull".into(), color: ARROW.to_rgba(), glyph: Glyph::Line });
    }
    let plot_area = beside_legend(&root, &entries, 14)?;
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(s.title, (FONT, 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 18))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let (xs, ys) = ((x0, x1), (y0, y1));
    if let Some(view) = s.view {
        draw_heat(&mut chart, view, xs, ys)?;
    }
    s.backdrop.draw_curve(&mut chart)?;
    let dots = |pts: &[(f32, f32)], color: RGBColor| {
        pts.iter()
            .filter(|p| inside(p))
            .map(|&(x, y)| Circle::new((x as f64, y as f64), 3, color.mix(0.8).filled()))
            .collect::<Vec<_>>()
    };
    chart.draw_series(dots(s.real, RED))?;
    chart.draw_series(dots(s.generated, BLUE))?;
    s.backdrop.draw_marks(&mut chart, 5)?;
    if let Some(view) = s.view {
        let shown = view.points.iter().filter(|p| inside(&(p.x, p.y))).copied().collect();
        draw_arrows(&mut chart, &View { points: shown, ..view.clone() }, xs, ys)?;
    }
    root.present()?;
    Ok(())
}
