//! An ensemble's members as small multiples, ranked.

#[allow(unused_imports)]
use super::*;

/// One panel of [`members`]: a member's generated points under its title.
pub struct MemberPanel {
    pub title: String,
    pub generated: Vec<(f32, f32)>,
}

/// Pixels per panel of [`members`].
pub(super) const MEMBER_PANEL: (u32, u32) = (240, 200);

/// Small multiples, one panel per member, `columns` to a row, under `title`: each member's
/// generated points over the target curve, on axes shared by all panels (the curve's, widened
/// to every point within twice its extent), so the panels compare at a glance.
pub fn members(path: &Path, title: &str, panels: &[MemberPanel], backdrop: &Backdrop) -> Result<()> {
    let columns = (panels.len() as f64).sqrt().ceil().max(1.0) as usize;
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (MEMBER_PANEL.0 * columns as u32, MEMBER_PANEL.1 * rows as u32 + 40);
    write_png(path, size, |buffer| draw_members(buffer, size, title, panels, columns, backdrop))
}

pub(super) fn draw_members(
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
    let (title, px) = fitted(&header, title, 20, 10);
    header.draw(&Text::new(title, (10, 10), (FONT, px)))?;
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
        let (title, px) = fitted(area, &panel.title, 13, 4);
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, px))
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
