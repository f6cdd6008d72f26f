//! The legend beside every chart.

#[allow(unused_imports)]
use super::*;

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Glyph {
    Line,
    Dot,
    Cross,
    Arrow,
    /// Text alone, under the entry before it.
    Note,
}

/// One line of a legend.
pub(super) struct Entry {
    pub(super) label: String,
    pub(super) color: RGBAColor,
    pub(super) glyph: Glyph,
}

/// Width of the legend column to the right of every chart: legends never cover data.
pub(super) const LEGEND_WIDTH: u32 = 170;

/// Draws a legend of `entries` in a column at the right of `area` (text of `font_px`), with
/// the heat map's colour bar under them if `heat`, and returns the rest of `area`, for the
/// chart.
pub(super) fn beside_legend<'a>(
    area: &DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>,
    entries: &[Entry],
    font_px: u32,
    heat: bool,
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
            Glyph::Arrow => {
                column.draw(&PathElement::new(vec![(4, y), (24, y)], style))?;
                column.draw(&PathElement::new(vec![(18, y - 4), (24, y), (18, y + 4)], style))?;
            }
            Glyph::Note => {}
        }
        let (x, size) = match entry.glyph {
            Glyph::Note => (30, font_px - 2),
            _ => (30, font_px),
        };
        column.draw(&Text::new(entry.label.clone(), (x, y - size as i32 / 2), (FONT, size)))?;
    }
    if heat {
        colour_bar(&column, top + entries.len() as i32 * step + step / 2, font_px)?;
    }
    Ok(chart)
}

/// The heat map's colour bar in the legend's `column`, its title's top at `top`: realness from
/// 1 (real, green, at the top) to 0 (fake, purple), with ticks at 1, ½ and 0.
fn colour_bar(
    column: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    top: i32,
    font_px: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let text = |s: &str, at: (i32, i32)| column.draw(&Text::new(s.to_string(), at, (FONT, font_px)));
    text("D: how real", (4, top))?;
    let (bar_top, height, width) = (top + font_px as i32 + 8, 8 * font_px as i32, 16);
    for row in 0..height {
        let realness = 1.0 - row as f32 / (height - 1) as f32;
        let y = bar_top + row;
        column.draw(&PathElement::new(
            vec![(6, y), (6 + width - 1, y)],
            heat_colour(realness).stroke_width(1),
        ))?;
    }
    column.draw(&Rectangle::new([(5, bar_top - 1), (6 + width, bar_top + height)], ARROW.stroke_width(1)))?;
    for (label, at) in [("1  real", 0), ("0.5", height / 2), ("0  fake", height - 1)] {
        let y = bar_top + at;
        column.draw(&PathElement::new(vec![(6 + width, y), (10 + width, y)], ARROW.stroke_width(1)))?;
        text(label, (14 + width, y - font_px as i32 / 2))?;
    }
    Ok(())
}
