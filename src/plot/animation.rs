//! The training animation: a GIF of the generated points and the view, frame by frame.

#[allow(unused_imports)]
use super::*;

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

    /// The frame's title, with how many of its points fall `outside` the axes.
    pub fn caption(&self, outside: usize) -> String {
        let when = match self.iterations_done {
            0 => "untrained generator".to_string(),
            n => format!("after {n} iterations"),
        };
        match outside {
            0 => when,
            k => format!("{when} ({k} of {} points outside)", self.generated.len()),
        }
    }
}

/// Animation size in pixels: small enough that the example run's animation ships with the
/// repository.
pub(super) const ANIMATION_SIZE: (u32, u32) = (600, 360);

/// Milliseconds each animation frame is shown.
pub(super) const FRAME_DELAY_MS: u32 = 150;

/// Draws `frames` as an animated GIF at `path`: generated points in blue over `real` points in
/// red and the target, on axes fixed for the whole animation: the target's box (the
/// discriminator's view's), where each frame's title counts the points that fall outside; a
/// backdrop without one gets a box that holds the real points and nearly all generated ones.
pub fn animation(path: &Path, frames: &[Frame], real: &[(f32, f32)], backdrop: &Backdrop) -> Result<()> {
    register_font();
    fsio::write_atomically(path, |out| {
        draw_animation(out, frames, real, backdrop).map_err(|e| anyhow!("cannot draw the animation: {e}"))
    })
}

/// Axes that hold `real` and nearly all of every frame's points (each frame's 2nd to 98th
/// percentile on each axis), the untrained generator's spread included.
fn spread_axes(frames: &[Frame], real: &[(f32, f32)], backdrop: &Backdrop) -> (f64, f64, f64, f64) {
    let spread = |values: Vec<f64>| {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
        if v.is_empty() { None } else { Some((q(0.02), q(0.98))) }
    };
    // Start from the curve and the real points, with a margin, so the target always fits.
    let real_points = real.iter().map(|&(x, y)| (x as f64, y as f64));
    let (mut x0, mut x1, mut y0, mut y1) = backdrop.axes(real_points);
    for frame in frames {
        if let Some((lo, hi)) = spread(frame.generated.iter().map(|p| p.0 as f64).collect()) {
            (x0, x1) = (x0.min(lo), x1.max(hi));
        }
        if let Some((lo, hi)) = spread(frame.generated.iter().map(|p| p.1 as f64).collect()) {
            (y0, y1) = (y0.min(lo), y1.max(hi));
        }
    }
    (x0, x1, y0, y1)
}

pub(super) fn draw_animation(
    out: &mut dyn std::io::Write,
    frames: &[Frame],
    real: &[(f32, f32)],
    backdrop: &Backdrop,
) -> Result<(), Box<dyn std::error::Error>> {
    let axes = backdrop.frame.or(backdrop.target_box).unwrap_or_else(|| spread_axes(frames, real, backdrop));
    let (w, h) = ANIMATION_SIZE;
    // The legend lists what some frame draws, the same on every frame.
    let heat = frames.iter().any(|f| f.view.cells.len() == crate::view::COLUMNS * crate::view::ROWS);
    // One scale for the legend and every frame's arrows.
    let scale =
        frames.iter().find(|f| !f.view.points.is_empty()).map(|f| ArrowScale::of(&f.view, axes.1 - axes.0));
    let faint = RGBColor(120, 120, 120).mix(0.5);
    let mut entries = match backdrop.marks.is_empty() {
        true => vec![Entry { label: "target".into(), color: faint, glyph: Glyph::Line }],
        false => backdrop.entries(),
    };
    if !real.is_empty() {
        entries.push(Entry { label: "real".into(), color: RED.to_rgba(), glyph: Glyph::Dot });
    }
    entries.push(Entry { label: "generated".into(), color: BLUE.to_rgba(), glyph: Glyph::Dot });
    if let Some(scale) = scale {
        entries.extend(scale.entries());
    }

    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut encoder = gif::Encoder::new(out, w as u16, h as u16, &palette)?;
    encoder.set_repeat(gif::Repeat::Infinite)?;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    let mut previous: Option<Vec<u8>> = None;
    let mut fixed = None;
    for frame in frames {
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            root.fill(&WHITE)?;
            let area = beside_legend(&root, &entries, 12, heat)?;
            let (title_area, body) = area.split_vertically(26);
            let build = |(x0, x1, y0, y1): (f64, f64, f64, f64)| {
                ChartBuilder::on(&body)
                    .margin(8)
                    .x_label_area_size(30)
                    .y_label_area_size(45)
                    .build_cartesian_2d(x0..x1, y0..y1)
            };
            // A target in the plane keeps equal units on both axes.
            let (x0, x1, y0, y1) = *fixed.get_or_insert(match backdrop.frame {
                Some(_) => equal_aspect(axes, build(axes)?.plotting_area().dim_in_pixel()),
                None => axes,
            });
            let inside = |x: f32, y: f32| (x0..=x1).contains(&(x as f64)) && (y0..=y1).contains(&(y as f64));
            let outside = frame.generated.iter().filter(|p| !inside(p.0, p.1)).count();
            let (caption, px) = fitted(&title_area, &frame.caption(outside), 16, 8);
            title_area.draw(&Text::new(caption, (8, 6), (FONT, px)))?;
            let mut chart = build((x0, x1, y0, y1))?;
            chart
                .configure_mesh()
                .x_desc("x")
                .y_desc("y")
                .label_style((FONT, 12))
                .light_line_style(WHITE)
                .draw()?;
            draw_heat(&mut chart, &frame.view, (x0, x1), (y0, y1))?;
            backdrop.draw_curve(&mut chart)?;
            backdrop.draw_marks(&mut chart, 5)?;
            let dots = |pts: &[(f32, f32)], color: RGBColor| {
                pts.iter()
                    .filter(|p| inside(p.0, p.1))
                    .map(|&(x, y)| Circle::new((x as f64, y as f64), 3, color.filled()))
                    .collect::<Vec<_>>()
            };
            chart.draw_series(dots(real, RED))?;
            chart.draw_series(dots(&frame.generated, BLUE))?;
            if let Some(scale) = scale {
                draw_arrows(&mut chart, &frame.view, scale, (x0, x1), (y0, y1), inside)?;
            }
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
