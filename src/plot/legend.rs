//! The legend beside every chart.

#[allow(unused_imports)]
use super::*;

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Glyph {
    Line,
    Dot,
    Cross,
}

/// One line of a legend.
pub(super) struct Entry {
    pub(super) label: String,
    pub(super) color: RGBAColor,
    pub(super) glyph: Glyph,
}

/// Width of the legend column to the right of every chart: legends never cover data.
pub(super) const LEGEND_WIDTH: u32 = 170;

/// Draws a legend of `entries` in a column at the right of `area` (text of `font_px`) and
/// returns the rest of `area`, for the chart.
pub(super) fn beside_legend<'a>(
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
