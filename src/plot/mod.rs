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
}
