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
    let axes = s.backdrop.axes(points.chain(cells));
    let within = |(x0, x1, y0, y1): (f64, f64, f64, f64)| {
        move |x: f32, y: f32| (x0..=x1).contains(&(x as f64)) && (y0..=y1).contains(&(y as f64))
    };

    let root = BitMapBackend::with_buffer(buffer, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    // The legend lists only what is drawn.
    let before = within(axes);
    let any = |pts: &[(f32, f32)]| pts.iter().any(|&(x, y)| before(x, y));
    let heat = s.view.is_some_and(|v| v.cells.len() == crate::view::COLUMNS * crate::view::ROWS);
    // One scale for the legend and the arrows.
    let pulls = s.view.map(|v| (v, ArrowScale::of(v, axes.1 - axes.0)));
    let pulled = pulls.is_some_and(|(v, scale)| !arrows(v, scale, 1.0, before).is_empty());
    let mut entries = s.backdrop.entries();
    if any(s.real) {
        entries.push(Entry { label: "real".into(), color: RED.mix(0.8), glyph: Glyph::Dot });
    }
    if any(s.generated) {
        entries.push(Entry { label: "generated".into(), color: BLUE.mix(0.8), glyph: Glyph::Dot });
    }
    if let Some((_, scale)) = pulls.filter(|_| pulled) {
        entries.extend(scale.entries());
    }
    let plot_area = beside_legend(&root, &entries, 14, heat)?;
    let (title, title_px) = fitted(&plot_area, s.title, 24, 30);
    let body = plot_area.titled(&title, (FONT, title_px))?;
    let build = |(x0, x1, y0, y1): (f64, f64, f64, f64)| {
        ChartBuilder::on(&body)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
    };
    // A target in the plane is drawn with equal units on both axes, so that its shapes keep
    // theirs.
    let axes = match s.backdrop.frame {
        Some(_) => equal_aspect(axes, build(axes)?.plotting_area().dim_in_pixel()),
        None => axes,
    };
    let (x0, x1, y0, y1) = axes;
    let inside = within(axes);
    let mut chart = build(axes)?;
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
    // Many points are drawn smaller and fainter, so that where they pile up shows, and the
    // curve over them.
    let (radius, opacity) = dot_style(s.generated.len());
    let curve_on_top = s.generated.len() > 500;
    if !curve_on_top {
        s.backdrop.draw_curve(&mut chart)?;
    }
    s.backdrop.draw_marks(&mut chart, 5)?;
    let dots = |pts: &[(f32, f32)], color: RGBColor, radius: i32, opacity: f64| {
        pts.iter()
            .filter(|p| inside(p.0, p.1))
            .map(|&(x, y)| Circle::new((x as f64, y as f64), radius, color.mix(opacity).filled()))
            .collect::<Vec<_>>()
    };
    chart.draw_series(dots(s.real, RED, 3, 0.8))?;
    chart.draw_series(dots(s.generated, BLUE, radius, opacity))?;
    if curve_on_top {
        s.backdrop.draw_curve(&mut chart)?;
    }
    if let Some((view, scale)) = pulls {
        draw_arrows(&mut chart, view, scale, xs, ys, inside)?;
    }
    root.present()?;
    Ok(())
}

/// The radius and opacity of `n` dots: up to 500, 3 px at 0.8; beyond, 2 px, fainter as they
/// multiply (0.18 at 10 000), so that where they pile up shows.
pub(super) fn dot_style(n: usize) -> (i32, f64) {
    if n <= 500 { (3, 0.8) } else { (2, (0.8 * (500.0 / n as f64).sqrt()).max(0.08)) }
}
