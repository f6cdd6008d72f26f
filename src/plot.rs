//! Scatter plots of real and generated points over the target curve, as PNG files.
//! Works on plain `(x, y)` pairs; never sees a tensor.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};

use crate::fsio;
use crate::target::Target;
use crate::view::View;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font every label is drawn with, embedded so plots need no system fonts.
const FONT: &str = "sans-serif";

/// Registers the embedded font under [`FONT`]; every drawing function calls it first.
pub fn register_font() {
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
    /// The target behind the points.
    pub backdrop: &'a Backdrop,
    /// The discriminator's view behind the points, if measured: its heat map, and arrows on
    /// a sample of the generated points it was measured at.
    pub view: Option<&'a View>,
}

/// What a picture shows of the target behind the points: a curve's faint line, or a plane
/// target's mode centres (for a mixture) on fixed axes that hold the whole target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backdrop {
    /// The target function, drawn as a faint line.
    pub curve: Vec<(f64, f64)>,
    /// The curve's legend entry, e.g. `f(x) = x^2`.
    pub label: String,
    /// A mixture's mode centres, drawn as crosses.
    pub marks: Vec<(f64, f64)>,
    /// Axes fixed to this box `(x0, x1, y0, y1)`; points outside it are not drawn.
    pub frame: Option<(f64, f64, f64, f64)>,
}

impl Backdrop {
    /// The backdrop of `target`, its legend label the target's short one.
    pub fn of(target: &Target) -> Backdrop {
        let label = target.legend_label();
        match target.plane() {
            None => Backdrop { curve: target.curve(CURVE_POINTS), label, ..Backdrop::default() },
            Some(plane) => Backdrop {
                curve: Vec::new(),
                label,
                marks: plane.mixture().map(|(modes, _)| modes.to_vec()).unwrap_or_default(),
                frame: Some(crate::view::view_box(target)),
            },
        }
    }

    /// The axes of a picture of `points` over this backdrop: the frame, or a box that holds
    /// the curve and `points` with a margin of 5 %.
    fn axes(&self, points: impl Iterator<Item = (f64, f64)>) -> (f64, f64, f64, f64) {
        if let Some(frame) = self.frame {
            return frame;
        }
        let (x0, x1, y0, y1) =
            bounds(self.curve.iter().copied().chain(points)).unwrap_or((-1.0, 1.0, -1.0, 1.0));
        let (mx, my) = ((x1 - x0).max(1e-3) * 0.05, (y1 - y0).max(1e-3) * 0.05);
        (x0 - mx, x1 + mx, y0 - my, y1 + my)
    }

    /// Draws the curve on `chart`, under the points.
    fn draw_curve<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        let faint = RGBColor(120, 120, 120).mix(0.5);
        chart.draw_series(LineSeries::new(self.curve.iter().copied(), faint.stroke_width(2)))?;
        Ok(())
    }

    /// Draws the marks on `chart`, over the points, crosses `size` pixels wide.
    fn draw_marks<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        size: i32,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        let style = BLACK.mix(0.8).stroke_width(if size > 3 { 2 } else { 1 });
        chart.draw_series(self.marks.iter().map(|&p| Cross::new(p, size, style)))?;
        Ok(())
    }

    /// Its legend entries: the curve's, or the marks'.
    fn entries(&self) -> Vec<Entry> {
        let faint = RGBColor(120, 120, 120).mix(0.5);
        let mut entries = Vec::new();
        if !self.curve.is_empty() {
            entries.push(Entry { label: self.label.clone(), color: faint, glyph: Glyph::Line });
        }
        if !self.marks.is_empty() {
            entries.push(Entry { label: "mode centres".into(), color: BLACK.mix(0.8), glyph: Glyph::Cross });
        }
        entries
    }
}

/// The heat map's shades, from sure-fake (purple) through undecided (white) to sure-real
/// (green), as GAN Lab colours them: light, so that the points stay easy to see.
const HEAT: [[u8; 3]; 13] = [
    [176, 128, 220],
    [190, 150, 228],
    [204, 172, 236],
    [218, 194, 243],
    [232, 216, 248],
    [245, 238, 252],
    [255, 255, 255],
    [236, 248, 236],
    [214, 240, 214],
    [192, 231, 192],
    [170, 222, 170],
    [148, 213, 148],
    [126, 204, 126],
];

/// The shade of a cell the discriminator believes real with `realness` (NaN: white).
fn heat_colour(realness: f32) -> RGBColor {
    if !realness.is_finite() {
        return WHITE;
    }
    let index = (realness.clamp(0.0, 1.0) * (HEAT.len() - 1) as f32).round() as usize;
    let [r, g, b] = HEAT[index];
    RGBColor(r, g, b)
}

/// A chart with linear axes of floats: the scatter plots' and the animation's.
type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The colour of the pull arrows.
const ARROW: RGBColor = RGBColor(64, 64, 64);

/// Draws `view` on `chart`, whose axes span `x` and `y`: each heat-map cell clipped to the
/// axes, then, after the caller's points, arrows; this draws the cells.
fn draw_heat<DB: DrawingBackend>(
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
fn arrows(view: &View, reach: f64, aspect: f64) -> Vec<((f64, f64), (f64, f64))> {
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
fn draw_arrows<DB: DrawingBackend>(
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

/// Points a target curve is drawn with: smooth at these sizes for every built-in target.
pub const CURVE_POINTS: usize = 401;

/// Plot size in pixels.
const SIZE: (u32, u32) = (800, 600);

/// Draws `scatter` into the PNG file `path`. The axes cover the target curve and every point.
pub fn scatter(path: &Path, scatter: &Scatter) -> Result<()> {
    register_font();
    write_png(path, SIZE, |buffer| draw(buffer, scatter))
}

/// Draws a `size` picture with `draw` into memory, then writes it to `path` as a PNG file
/// through [`fsio::write_atomically`]. PNG is the one format gan1d writes, whatever `path`'s
/// extension says: commands check extensions before they start.
pub fn write_png(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&mut [u8]) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<()> {
    register_font();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    draw(&mut rgb).map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))?;
    fsio::write_atomically(path, |out| {
        let mut encoder = png::Encoder::new(out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
        Ok(())
    })
}

fn draw(buffer: &mut [u8], s: &Scatter) -> Result<(), Box<dyn std::error::Error>> {
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
fn bounds(points: impl Iterator<Item = (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.filter(|(x, y)| x.is_finite() && y.is_finite()).fold(None, |b, (x, y)| {
        Some(match b {
            None => (x, x, y, y),
            Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
        })
    })
}

/// An axis label: whole numbers without decimals (iterations), others with at most three.
fn tick(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        let text = format!("{x:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw_panels(
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
        let area = beside_legend(area, &entries, 12)?;
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

fn draw_series<'a, Y: plotters::coord::ranged1d::Ranged<ValueType = f64>>(
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

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glyph {
    Line,
    Dot,
    Cross,
}

/// One line of a legend.
struct Entry {
    label: String,
    color: RGBAColor,
    glyph: Glyph,
}

/// Width of the legend column to the right of every chart: legends never cover data.
const LEGEND_WIDTH: u32 = 170;

/// Draws a legend of `entries` in a column at the right of `area` (text of `font_px`) and
/// returns the rest of `area`, for the chart.
fn beside_legend<'a>(
    area: &DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>,
    entries: &[Entry],
    font_px: u32,
) -> Result<DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>, Box<dyn std::error::Error>> {
    // Wide enough for the longest label (a target's formula can be long), within a third of
    // the picture.
    let (width, _) = area.dim_in_pixel();
    let longest = entries
        .iter()
        .filter_map(|e| area.estimate_text_size(&e.label, &(FONT, font_px).into_text_style(area)).ok())
        .map(|(w, _)| w + 38)
        .max()
        .unwrap_or(0);
    let width = LEGEND_WIDTH.max(longest).min(width / 3);
    let (chart, column) = area.split_horizontally(area.dim_in_pixel().0 - width);
    let step = font_px as i32 + 8;
    let top = 3 * step;
    for (i, entry) in entries.iter().enumerate() {
        let y = top + i as i32 * step;
        let style = entry.color.stroke_width(2);
        match entry.glyph {
            Glyph::Line => column.draw(&PathElement::new(vec![(4, y), (24, y)], style))?,
            Glyph::Dot => column.draw(&Circle::new((14, y), 4, entry.color.filled()))?,
            Glyph::Cross => column.draw(&Cross::new((14, y), 5, style))?,
        }
        column.draw(&Text::new(entry.label.clone(), (30, y - font_px as i32 / 2), (FONT, font_px)))?;
    }
    Ok(chart)
}

/// `x` > 0 rounded up to its two leading digits (9 999 → 10 000, 119 → 120), so an axis
/// ending there ends on a label.
fn round_up(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 1.0;
    }
    let unit = 10f64.powf(x.log10().floor()) / 10.0;
    (x / unit).ceil() * unit
}

/// A label of a logarithmic axis: plain decimals down to 0.001, powers of ten below.
fn log_tick(y: f64) -> String {
    if y >= 1e-3 { tick(y) } else { format!("{y:.0e}") }
}

/// One frame of an animation: the generated points after some iterations.
pub struct Frame {
    /// Iterations done when the points were generated; 0 for the untrained generator.
    pub iterations_done: u64,
    pub generated: Vec<(f32, f32)>,
    /// The discriminator's view then; empty where it was not measured.
    pub view: View,
}

impl Frame {
    pub fn new(iterations_done: u64, generated: Vec<(f32, f32)>) -> Frame {
        Frame { iterations_done, generated, view: View::default() }
    }

    /// The frame's title.
    pub fn caption(&self) -> String {
        match self.iterations_done {
            0 => "untrained generator".to_string(),
            n => format!("after {n} iterations"),
        }
    }
}

/// Animation size in pixels: small enough that the example run's animation ships with the
/// repository.
const ANIMATION_SIZE: (u32, u32) = (600, 360);

/// Milliseconds each animation frame is shown.
const FRAME_DELAY_MS: u32 = 150;

/// Draws `frames` as an animated GIF at `path`: generated points in blue over `real` points in
/// red and the target, on axes fixed for the whole animation (the backdrop's frame, or chosen
/// to hold the real points and nearly all generated ones; the rest fall outside).
pub fn animation(path: &Path, frames: &[Frame], real: &[(f32, f32)], backdrop: &Backdrop) -> Result<()> {
    register_font();
    fsio::write_atomically(path, |out| {
        draw_animation(out, frames, real, backdrop).map_err(|e| anyhow!("cannot draw the animation: {e}"))
    })
}

fn draw_animation(
    out: &mut dyn std::io::Write,
    frames: &[Frame],
    real: &[(f32, f32)],
    backdrop: &Backdrop,
) -> Result<(), Box<dyn std::error::Error>> {
    // Fixed axes that hold the real points and nearly all of every frame's points (each frame's
    // 2nd to 98th percentile on each axis), the untrained generator's spread included.
    let spread = |values: Vec<f64>| {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
        if v.is_empty() { None } else { Some((q(0.02), q(0.98))) }
    };
    // Start from the curve and the real points, with a margin, so the target always fits.
    let real_points = real.iter().map(|&(x, y)| (x as f64, y as f64));
    let (mut x0, mut x1, mut y0, mut y1) = backdrop.axes(real_points);
    for frame in frames.iter().filter(|_| backdrop.frame.is_none()) {
        if let Some((lo, hi)) = spread(frame.generated.iter().map(|p| p.0 as f64).collect()) {
            (x0, x1) = (x0.min(lo), x1.max(hi));
        }
        if let Some((lo, hi)) = spread(frame.generated.iter().map(|p| p.1 as f64).collect()) {
            (y0, y1) = (y0.min(lo), y1.max(hi));
        }
    }
    let inside = |&(x, y): &(f32, f32)| (x0..=x1).contains(&(x as f64)) && (y0..=y1).contains(&(y as f64));

    let (w, h) = ANIMATION_SIZE;
    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut encoder = gif::Encoder::new(out, w as u16, h as u16, &palette)?;
    encoder.set_repeat(gif::Repeat::Infinite)?;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    let mut previous: Option<Vec<u8>> = None;
    for frame in frames {
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            root.fill(&WHITE)?;
            let faint = RGBColor(120, 120, 120).mix(0.5);
            let mut entries = match backdrop.marks.is_empty() {
                true => vec![Entry { label: "target".into(), color: faint, glyph: Glyph::Line }],
                false => backdrop.entries(),
            };
            entries.extend([
                Entry { label: "real".into(), color: RED.to_rgba(), glyph: Glyph::Dot },
                Entry { label: "generated".into(), color: BLUE.to_rgba(), glyph: Glyph::Dot },
            ]);
            let area = beside_legend(&root, &entries, 12)?;
            let mut chart = ChartBuilder::on(&area)
                .caption(frame.caption(), (FONT, 16))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(45)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            chart
                .configure_mesh()
                .x_desc("x")
                .y_desc("y")
                .label_style((FONT, 12))
                .light_line_style(WHITE)
                .draw()?;
            draw_heat(&mut chart, &frame.view, (x0, x1), (y0, y1))?;
            backdrop.draw_curve(&mut chart)?;
            let dots = |pts: &[(f32, f32)], color: RGBColor| {
                pts.iter()
                    .filter(|p| inside(p))
                    .map(|&(x, y)| Circle::new((x as f64, y as f64), 3, color.filled()))
                    .collect::<Vec<_>>()
            };
            chart.draw_series(dots(real, RED))?;
            chart.draw_series(dots(&frame.generated, BLUE))?;
            backdrop.draw_marks(&mut chart, 5)?;
            let shown = frame.view.points.iter().filter(|p| inside(&(p.x, p.y))).copied().collect();
            draw_arrows(&mut chart, &View { points: shown, ..frame.view.clone() }, (x0, x1), (y0, y1))?;
            root.present()?;
        }
        let indices: Vec<u8> = rgb.chunks_exact(3).map(nearest_in_palette).collect();
        // After the first frame, only changed pixels are stored; the rest are transparent and
        // show the frame before (axes and labels never change, so this shrinks the file).
        let buffer = match &previous {
            None => indices.clone(),
            Some(before) => indices
                .iter()
                .zip(before)
                .map(|(&now, &then)| if now == then { UNCHANGED } else { now })
                .collect(),
        };
        let gif_frame = gif::Frame {
            width: w as u16,
            height: h as u16,
            delay: (FRAME_DELAY_MS / 10) as u16, // GIF counts hundredths of a second
            dispose: gif::DisposalMethod::Keep,
            transparent: previous.as_ref().map(|_| UNCHANGED),
            buffer: std::borrow::Cow::Owned(buffer),
            ..gif::Frame::default()
        };
        encoder.write_frame(&gif_frame)?;
        previous = Some(indices);
    }
    Ok(())
}

/// The animation's colours: white, greys for text and the curve, and shades of the two point
/// colours. Every pixel is mapped to the nearest, which keeps frames small and fast to encode
/// (a plot has few colours; a general quantiser would spend its time finding them).
const PALETTE: [[u8; 3]; 32] = [
    [255, 255, 255],
    [0, 0, 0],
    [32, 32, 32],
    [64, 64, 64],
    [96, 96, 96],
    [128, 128, 128],
    [160, 160, 160],
    [192, 192, 192],
    [224, 224, 224],
    [255, 0, 0],
    [255, 128, 128],
    [255, 200, 200],
    [0, 0, 255],
    [128, 128, 255],
    [200, 200, 255],
    // The heat map's shades but white (`HEAT`).
    [176, 128, 220],
    [190, 150, 228],
    [204, 172, 236],
    [218, 194, 243],
    [232, 216, 248],
    [245, 238, 252],
    [236, 248, 236],
    [214, 240, 214],
    [192, 231, 192],
    [170, 222, 170],
    [148, 213, 148],
    [126, 204, 126],
    // Unused.
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    // Never drawn: marks a pixel that did not change since the previous frame.
    [255, 0, 255],
];

/// The palette index of [`PALETTE`]'s "unchanged" marker.
const UNCHANGED: u8 = 31;

fn nearest_in_palette(pixel: &[u8]) -> u8 {
    if pixel == [255, 255, 255] {
        return 0;
    }
    let distance = |c: &[u8; 3]| -> i32 { (0..3).map(|i| (c[i] as i32 - pixel[i] as i32).pow(2)).sum() };
    (0..UNCHANGED as usize).min_by_key(|&i| distance(&PALETTE[i])).unwrap_or(0) as u8
}

/// One panel of [`members`]: a member's generated points under its title.
pub struct MemberPanel {
    pub title: String,
    pub generated: Vec<(f32, f32)>,
}

/// Pixels per panel of [`members`].
const MEMBER_PANEL: (u32, u32) = (240, 200);

/// Small multiples, one panel per member, `columns` to a row, under `title`: each member's
/// generated points over the target curve, on axes shared by all panels (the curve's, widened
/// to every point within twice its extent), so the panels compare at a glance.
pub fn members(path: &Path, title: &str, panels: &[MemberPanel], backdrop: &Backdrop) -> Result<()> {
    let columns = (panels.len() as f64).sqrt().ceil().max(1.0) as usize;
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (MEMBER_PANEL.0 * columns as u32, MEMBER_PANEL.1 * rows as u32 + 40);
    write_png(path, size, |buffer| draw_members(buffer, size, title, panels, columns, backdrop))
}

fn draw_members(
    buffer: &mut [u8],
    size: (u32, u32),
    title: &str,
    panels: &[MemberPanel],
    columns: usize,
    backdrop: &Backdrop,
) -> Result<(), Box<dyn std::error::Error>> {
    let curve = &backdrop.curve;
    let root = BitMapBackend::with_buffer(buffer, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(40);
    header.draw(&Text::new(title.to_string(), (10, 10), (FONT, 20)))?;
    let (cx0, cx1, cy0, cy1) = bounds(curve.iter().copied()).unwrap_or((-1.0, 1.0, -1.0, 1.0));
    let (w, h) = ((cx1 - cx0).max(1e-3), (cy1 - cy0).max(1e-3));
    let inside = |&(x, y): &(f32, f32)| {
        let (x, y) = (x as f64, y as f64);
        x >= cx0 - w && x <= cx1 + w && y >= cy0 - h && y <= cy1 + h
    };
    let points = panels.iter().flat_map(|p| p.generated.iter().filter(|p| inside(p)));
    let all = curve.iter().copied().chain(points.map(|&(x, y)| (x as f64, y as f64)));
    let (x0, x1, y0, y1) = bounds(all).unwrap_or((cx0, cx1, cy0, cy1));
    let (mx, my) = ((x1 - x0).max(1e-3) * 0.05, (y1 - y0).max(1e-3) * 0.05);
    let (x0, x1, y0, y1) = backdrop.frame.unwrap_or((x0 - mx, x1 + mx, y0 - my, y1 + my));
    let shown = |&(x, y): &(f32, f32)| (x0..=x1).contains(&(x as f64)) && (y0..=y1).contains(&(y as f64));
    let rows = panels.len().div_ceil(columns).max(1);
    let faint = RGBColor(120, 120, 120).mix(0.6);
    for (area, panel) in body.split_evenly((rows, columns)).iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 13))
            .margin(6)
            .x_label_area_size(18)
            .y_label_area_size(34)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(3)
            .y_labels(3)
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&|y| tick(*y))
            .label_style((FONT, 10))
            .light_line_style(WHITE)
            .draw()?;
        chart.draw_series(LineSeries::new(curve.iter().copied(), faint.stroke_width(1)))?;
        chart.draw_series(
            panel
                .generated
                .iter()
                .filter(|p| shown(p))
                .map(|&(x, y)| Circle::new((x as f64, y as f64), 2, BLUE.mix(0.7).filled())),
        )?;
        backdrop.draw_marks(&mut chart, 3)?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers_and_log_ticks_stay_short() {
        assert_eq!(round_up(9999.0), 10000.0);
        assert_eq!(round_up(119.0), 120.0);
        assert_eq!(round_up(1999.0), 2000.0);
        assert_eq!(log_tick(0.01), "0.01");
        assert_eq!(log_tick(1e-5), "1e-5");
        assert_eq!(log_tick(1e-11), "1e-11");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(2000.0), "2000");
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(-0.125), "-0.125");
    }

    #[test]
    fn plots_are_written_even_for_degenerate_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let empty = Series { label: "empty".into(), points: vec![], color: RED, style: Style::Line };
        let one = Series { label: "one".into(), points: vec![(0.0, 0.0)], color: BLUE, style: Style::Dots };
        let panels_in = [
            Panel {
                title: "t".into(),
                x_desc: "x".into(),
                y_desc: "y".into(),
                series: vec![empty],
                log_y: false,
            },
            Panel {
                title: "t".into(),
                x_desc: "x".into(),
                y_desc: "y".into(),
                series: vec![one],
                log_y: true,
            },
        ];
        panels(&path, &panels_in).unwrap();
        scatter(
            &path,
            &Scatter {
                title: "t",
                real: &[],
                generated: &[(f32::NAN, 1.0)],
                backdrop: &Backdrop::default(),
                view: None,
            },
        )
        .unwrap();
        let frames = [Frame::new(0, vec![(0.0, 0.0), (9.0, 9.0)])];
        animation(&dir.path().join("a.gif"), &frames, &[(0.1, 0.01)], &Backdrop::default()).unwrap();
        assert_eq!(&std::fs::read(dir.path().join("a.gif")).unwrap()[..6], b"GIF89a");
    }
}
