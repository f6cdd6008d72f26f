//! The pictures, as PNG and GIF files: scatter plots of real and generated points over the
//! target (`scatter.rs`) with the discriminator's view (`view.rs`), learning curves in panels
//! (`panels.rs`), the animation (`animation.rs`), an ensemble's members (`members.rs`), the
//! legend beside every chart (`legend.rs`) and every colour (`palette.rs`). Works on plain
//! `(x, y)` pairs; never sees a tensor.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};

use crate::fsio;
use crate::target::Target;
use crate::view::View;
use plotters::prelude::*;
use plotters::style::FontStyle;

mod animation;
mod legend;
mod members;
mod palette;
mod panels;
mod scatter;
mod view;

pub use animation::{Frame, animation};
use legend::*;
pub use members::{MemberPanel, members};
use palette::*;
pub use panels::{Panel, Series, Style, panels};
use panels::{bounds, tick};
pub use scatter::{Scatter, scatter};
use view::*;

/// A chart with linear axes of floats: the scatter plots' and the animation's.
pub(super) type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

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
    /// The target's box, the discriminator's view's (`crate::view::view_box`): the
    /// animation's axes.
    pub target_box: Option<(f64, f64, f64, f64)>,
}

impl Backdrop {
    /// The backdrop of `target`, its legend label the target's short one.
    pub fn of(target: &Target) -> Backdrop {
        let label = target.legend_label();
        let target_box = Some(crate::view::view_box(target));
        match target.plane() {
            None => Backdrop { curve: target.curve(CURVE_POINTS), label, target_box, ..Backdrop::default() },
            Some(plane) => Backdrop {
                curve: Vec::new(),
                label,
                marks: plane.mixture().map(|(modes, _)| modes.to_vec()).unwrap_or_default(),
                frame: target_box,
                target_box,
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

    /// Draws the marks on `chart`, under the points, thin grey crosses `size` pixels wide, so
    /// that points on a mode stay visible.
    fn draw_marks<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        size: i32,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        let style = MARK.stroke_width(1);
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
            entries.push(Entry { label: "mode centres".into(), color: MARK, glyph: Glyph::Cross });
        }
        entries
    }
}

/// The colour of a mixture's mode centres.
const MARK: RGBAColor = RGBAColor(0, 0, 0, 0.55);

/// `axes` widened on one axis, about its middle, so that a unit spans as many pixels on both
/// in a plotting area of `pixels`.
pub(super) fn equal_aspect(axes: (f64, f64, f64, f64), (pw, ph): (u32, u32)) -> (f64, f64, f64, f64) {
    let (x0, x1, y0, y1) = axes;
    let (sx, sy) = (pw as f64 / (x1 - x0), ph as f64 / (y1 - y0));
    if !(sx.is_finite() && sy.is_finite() && sx > 0.0 && sy > 0.0) {
        return axes;
    }
    if sx > sy {
        let (middle, half) = ((x0 + x1) / 2.0, pw as f64 / sy / 2.0);
        (middle - half, middle + half, y0, y1)
    } else {
        let (middle, half) = ((y0 + y1) / 2.0, ph as f64 / sx / 2.0);
        (x0, x1, middle - half, middle + half)
    }
}

/// `text` and a font size from `largest` px down to 9 px at which it fits `area`'s width less
/// `margin` px on each side; a text too long even at 9 px is cut short with an ellipsis.
pub(super) fn fitted<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    largest: u32,
    margin: u32,
) -> (String, u32) {
    let room = area.dim_in_pixel().0.saturating_sub(2 * margin);
    let width =
        |t: &str, px: u32| area.estimate_text_size(t, &(FONT, px).into_text_style(area)).map_or(0, |s| s.0);
    for px in (9..=largest).rev() {
        if width(text, px) <= room {
            return (text.to_string(), px);
        }
    }
    let mut chars: Vec<char> = text.chars().collect();
    while chars.len() > 1 {
        chars.pop();
        let cut = format!("{}…", chars.iter().collect::<String>().trim_end());
        if width(&cut, 9) <= room {
            return (cut, 9);
        }
    }
    (text.to_string(), 9)
}

/// Points a target curve is drawn with: smooth at these sizes for every built-in target.
pub const CURVE_POINTS: usize = 401;

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
        // A heat map interpolated to the pixel is a smooth gradient: predicting each row from
        // its neighbours (adaptive filtering) makes the files about half as large, at the fast
        // setting (the default would take a third off again, at 0.15 s more for the tutorial).
        encoder.set_compression(png::Compression::Fast);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::panels::{log_tick, round_up};
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

    use crate::view::{COLUMNS, Probe, ROWS};

    /// A scatter drawn into memory, as RGB triples row by row.
    fn drawn(s: &Scatter) -> Vec<[u8; 3]> {
        register_font();
        let mut buffer = vec![0u8; (scatter::SIZE.0 * scatter::SIZE.1 * 3) as usize];
        scatter::draw(&mut buffer, s).unwrap();
        buffer.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect()
    }

    fn at(pixels: &[[u8; 3]], x: u32, y: u32) -> [u8; 3] {
        pixels[(y * scatter::SIZE.0 + x) as usize]
    }

    /// A view of the box [-1, 1]², realness rising from 0 at the left to 1 at the right, and
    /// one probe at the origin pulled along +x by `pull` per point.
    fn view(pull: f32) -> View {
        let cell = (2.0 / COLUMNS as f64, 2.0 / ROWS as f64);
        let cells = (0..ROWS)
            .flat_map(|r| {
                (0..COLUMNS).map(move |c| Probe {
                    x: (-1.0 + (c as f64 + 0.5) * cell.0) as f32,
                    y: (-1.0 + (r as f64 + 0.5) * cell.1) as f32,
                    realness: c as f32 / (COLUMNS - 1) as f32,
                    dx: 0.0,
                    dy: 0.0,
                })
            })
            .collect();
        View { cells, points: vec![Probe { x: 0.0, y: 0.0, realness: 0.5, dx: pull, dy: 0.0 }], cell }
    }

    fn square() -> Backdrop {
        Backdrop {
            frame: Some((-1.0, 1.0, -1.0, 1.0)),
            target_box: Some((-1.0, 1.0, -1.0, 1.0)),
            ..Backdrop::default()
        }
    }

    const CHART: std::ops::Range<u32> = 0..800 - legend::LEGEND_WIDTH;

    #[test]
    fn the_heat_map_is_interpolated_to_every_pixel_and_the_legend_shows_its_colour_bar() {
        let (v, backdrop) = (view(0.0), square());
        let s = Scatter { title: "t", real: &[], generated: &[], backdrop: &backdrop, view: Some(&v) };
        let pixels = drawn(&s);
        let mut shades = std::collections::BTreeSet::new();
        for y in 100..500 {
            for x in CHART {
                let p = at(&pixels, x, y);
                // A heat shade: neither grey nor a point's colour, greener or more purple.
                if p != [255, 255, 255] && !(p[0] == p[1] && p[1] == p[2]) {
                    shades.insert(p);
                }
            }
        }
        // Blocks of 20 cells would show at most 13 shades, one per step of the scale.
        assert!(shades.len() > 40, "{} shades: the map is not interpolated", shades.len());
        let colour = |[r, g, b]: [u8; 3]| {
            pixels.iter().enumerate().any(|(i, p)| *p == [r, g, b] && i as u32 % 800 >= CHART.end)
        };
        assert!(colour(HEAT[0]) && colour(HEAT[HEAT.len() - 1]), "the colour bar lacks an end of the scale");
        // Without a view: no colour bar, no heat.
        let s = Scatter { view: None, ..s };
        let plain = drawn(&s);
        assert!(!plain.iter().any(|p| *p == HEAT[HEAT.len() - 1] || *p == HEAT[0]));
    }

    /// The leftmost and rightmost columns of the dark grey arrow near the chart's middle, and
    /// whether it has a head (dark pixels above and below the shaft's row near its tip).
    /// Slanted strokes are blended, so any dark grey counts.
    fn arrow(pixels: &[[u8; 3]]) -> (u32, u32, bool) {
        let dark = |p: [u8; 3]| p[0] == p[1] && p[1] == p[2] && p[0] < 160;
        let xs: Vec<(u32, u32)> = (200..400)
            .flat_map(|y| (150..500).map(move |x| (x, y)))
            .filter(|&(x, y)| dark(at(pixels, x, y)))
            .collect();
        let (left, right) = (xs.iter().map(|p| p.0).min().unwrap(), xs.iter().map(|p| p.0).max().unwrap());
        let shaft = xs.iter().find(|p| p.0 == left).unwrap().1;
        let near_tip: Vec<u32> = xs.iter().filter(|p| p.0 + 8 >= right).map(|p| p.1).collect();
        let head = near_tip.iter().any(|&y| y + 2 <= shaft) && near_tip.iter().any(|&y| y >= shaft + 2);
        (left, right, head)
    }

    #[test]
    fn the_heat_map_takes_each_cells_realness_at_its_centre_and_blends_between() {
        let v = view(0.0);
        let (w, first) = (v.cell.0 as f32, v.cells[0]);
        let centre = |c: usize| (first.x + c as f32 * w) as f64;
        let at_centre = view::realness_at(&v, centre(3), first.y as f64).unwrap();
        assert!((at_centre - 3.0 / 19.0).abs() < 1e-6, "{at_centre}");
        let midway = view::realness_at(&v, (centre(3) + centre(4)) / 2.0, 0.0).unwrap();
        assert!((midway - 3.5 / 19.0).abs() < 1e-6, "{midway}");
        // Constant beyond the outermost centres, nothing outside the box.
        assert_eq!(view::realness_at(&v, -0.99, 0.0), Some(0.0));
        assert_eq!(view::realness_at(&v, -1.01, 0.0), None);
    }

    #[test]
    fn arrows_have_heads_and_one_length_scale_for_a_run() {
        let backdrop = square();
        let scale = ArrowScale::of(&view(0.0), 2.0);
        // A pull of the scale's reference, and half of it: arrows of `reach` and half of it.
        let (full, half) = (view(scale.pull as f32), view(scale.pull as f32 / 2.0));
        let length = |v: &View| {
            let s = Scatter { title: "t", real: &[], generated: &[], backdrop: &backdrop, view: Some(v) };
            let (left, right, head) = arrow(&drawn(&s));
            assert!(head, "the arrow has no head");
            right - left
        };
        let (a, b) = (length(&full), length(&half));
        assert!((a as f64 / b as f64 - 2.0).abs() < 0.15, "lengths {a} and {b} px: not to one scale");
        // reach is 6 % of the box's width, which spans the chart's width on equal axes.
        assert!((a as f64 - 0.06 * 500.0).abs() < 8.0, "{a} px");
    }

    #[test]
    fn a_target_in_the_plane_is_drawn_with_equal_units_on_both_axes() {
        let circle: Vec<(f32, f32)> = (0..400)
            .map(|i| i as f32 / 400.0 * std::f32::consts::TAU)
            .map(|t| (0.8 * t.cos(), 0.8 * t.sin()))
            .collect();
        let backdrop = square();
        let s = Scatter { title: "t", real: &[], generated: &circle, backdrop: &backdrop, view: None };
        let pixels = drawn(&s);
        let blue: Vec<(u32, u32)> = (0..600)
            .flat_map(|y| CHART.map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = at(&pixels, x, y);
                p[2] > 200 && p[0] < 150
            })
            .collect();
        let span =
            |f: fn(&(u32, u32)) -> u32| blue.iter().map(f).max().unwrap() - blue.iter().map(f).min().unwrap();
        let (w, h) = (span(|p| p.0), span(|p| p.1));
        assert!(w.abs_diff(h) <= 2, "a circle drawn {w} × {h} px");
        // No real points: no red, and no legend entry for them.
        assert!(!pixels.iter().any(|p| p[0] > 200 && p[1] < 100 && p[2] < 100));
    }

    #[test]
    fn many_points_are_drawn_faint_and_long_titles_shrink_to_fit() {
        assert_eq!(scatter::dot_style(200), (3, 0.8));
        let (radius, opacity) = scatter::dot_style(10_000);
        assert!(radius == 2 && opacity < 0.2, "{opacity}");
        register_font();
        let mut buffer = vec![0u8; 240 * 200 * 3];
        let area = BitMapBackend::with_buffer(&mut buffer, (240, 200)).into_drawing_area();
        let long = "seed 12345: 25/25 modes covered, HQ 0.931 and more words";
        let (text, px) = fitted(&area, long, 13, 4);
        let width = area.estimate_text_size(&text, &(FONT, px).into_text_style(&area)).unwrap().0;
        assert!(width <= 232, "{text:?} at {px} px is {width} px wide");
        assert_eq!(fitted(&area, "short", 13, 4), ("short".to_string(), 13));
    }

    #[test]
    fn an_animation_frame_counts_the_points_outside_its_axes() {
        let frame = Frame::new(2000, vec![(0.0, 0.0); 200]);
        assert_eq!(frame.caption(0), "after 2000 iterations");
        assert_eq!(frame.caption(12), "after 2000 iterations (12 of 200 points outside)");
    }
}
