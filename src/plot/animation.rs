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
pub(super) const ANIMATION_SIZE: (u32, u32) = (600, 360);

/// Milliseconds each animation frame is shown.
pub(super) const FRAME_DELAY_MS: u32 = 150;

/// Draws `frames` as an animated GIF at `path`: generated points in blue over `real` points in
/// red and the target, on axes fixed for the whole animation (the backdrop's frame, or chosen
/// to hold the real points and nearly all generated ones; the rest fall outside).
pub fn animation(path: &Path, frames: &[Frame], real: &[(f32, f32)], backdrop: &Backdrop) -> Result<()> {
    register_font();
    fsio::write_atomically(path, |out| {
        draw_animation(out, frames, real, backdrop).map_err(|e| anyhow!("cannot draw the animation: {e}"))
    })
}

pub(super) fn draw_animation(
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
