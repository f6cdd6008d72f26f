//! Charts in panels, one above the other: the learning curves.

#[allow(unused_imports)]
use super::*;

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    /// A line with a dot at each point, for sparse series.
    LineAndDots,
    /// Dots only, for samples that a line would wrongly join.
    Dots,
}

/// One line of a [`Panel`].
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub style: Style,
}

/// One chart of a stacked figure.
pub struct Panel {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub series: Vec<Series>,
    /// A logarithmic y axis; values below [`LOG_FLOOR`] are drawn at it.
    pub log_y: bool,
}

/// The smallest value a logarithmic axis shows.
pub const LOG_FLOOR: f64 = 1e-5;

/// Draws `panels` stacked vertically into the PNG file `path`.
pub fn panels(path: &Path, panels: &[Panel]) -> Result<()> {
    register_font();
    let size = (900, 320 * panels.len().max(1) as u32);
    write_png(path, size, |buffer| draw_panels(buffer, size, panels))
}

/// Axes, labels and grid of a panel's chart; a macro because the linear and logarithmic charts
/// have different types.
macro_rules! mesh {
    ($chart:expr, $panel:expr) => {
        $chart
            .configure_mesh()
            .x_desc(&$panel.x_desc)
            .y_desc(&$panel.y_desc)
            .x_label_formatter(&|x| tick(*x))
            .label_style((FONT, 12))
            .light_line_style(WHITE)
    };
}

/// The smallest box `(x0, x1, y0, y1)` holding every finite point, if there is one.
pub(super) fn bounds(points: impl Iterator<Item = (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.filter(|(x, y)| x.is_finite() && y.is_finite()).fold(None, |b, (x, y)| {
        Some(match b {
            None => (x, x, y, y),
            Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
        })
    })
}

/// An axis label: whole numbers without decimals (iterations), others with at most three.
pub(super) fn tick(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        let text = format!("{x:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub(super) fn draw_panels(
    buffer: &mut [u8],
    size: (u32, u32),
    panels: &[Panel],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(buffer, size).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
        let entries: Vec<Entry> = panel
            .series
            .iter()
            .map(|s| Entry {
                label: s.label.clone(),
                color: s.color.to_rgba(),
                glyph: if s.style == Style::Dots { Glyph::Dot } else { Glyph::Line },
            })
            .collect();
        let area = beside_legend(area, &entries, 12, false)?;
        let clamp = |y: f64| if panel.log_y { y.max(LOG_FLOOR) } else { y };
        let all = panel.series.iter().flat_map(|s| s.points.iter()).map(|&(x, y)| (x, clamp(y)));
        let (x0, x1, y0, y1) = bounds(all).unwrap_or((0.0, 1.0, LOG_FLOOR, 1.0));
        // The x axis runs to a round number past the last point, so its end is labelled.
        let x0 = x0.min(0.0);
        let x1 = round_up(x1.max(x0 + 1.0));
        let (y0, y1) = match (y0 < y1, panel.log_y) {
            (true, _) => (y0, y1),
            (false, true) => (y0, y0 * 10.0),
            (false, false) => (y0 - 0.5, y0 + 0.5),
        };
        let mut builder = ChartBuilder::on(&area);
        builder.caption(&panel.title, (FONT, 18)).margin(10).x_label_area_size(35).y_label_area_size(65);
        if panel.log_y {
            let mut chart = builder.build_cartesian_2d(x0..x1, (y0 * 0.8..y1 * 1.25).log_scale())?;
            mesh!(chart, panel).y_label_formatter(&|y| log_tick(*y)).draw()?;
            for s in &panel.series {
                let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, clamp(y))).collect();
                draw_series(&mut chart, s, pts)?;
            }
        } else {
            let margin = (y1 - y0) * 0.05;
            let mut chart = builder.build_cartesian_2d(x0..x1, (y0 - margin)..(y1 + margin))?;
            mesh!(chart, panel).draw()?;
            for s in &panel.series {
                draw_series(&mut chart, s, s.points.clone())?;
            }
        }
    }
    root.present()?;
    Ok(())
}

pub(super) fn draw_series<'a, Y: plotters::coord::ranged1d::Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    s: &Series,
    pts: Vec<(f64, f64)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let color = s.color;
    let pts: Vec<(f64, f64)> = pts.into_iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    if s.style == Style::Dots {
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        return Ok(());
    }
    // One point alone makes no line: it is drawn as a dot.
    if pts.len() == 1 {
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
    if s.style == Style::LineAndDots {
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    Ok(())
}

/// `x` > 0 rounded up to its two leading digits (9 999 → 10 000, 119 → 120), so an axis
/// ending there ends on a label.
pub(super) fn round_up(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 1.0;
    }
    let unit = 10f64.powf(x.log10().floor()) / 10.0;
    (x / unit).ceil() * unit
}

/// A label of a logarithmic axis: plain decimals down to 0.001, powers of ten below.
pub(super) fn log_tick(y: f64) -> String {
    if y >= 1e-3 { tick(y) } else { format!("{y:.0e}") }
}
