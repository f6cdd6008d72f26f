//! Every colour the pictures use beside the plotting library's named ones, in one place: the
//! heat map's scale, the arrows', and the animation's GIF palette.

#[allow(unused_imports)]
use super::*;

/// The heat map's shades, from sure-fake (purple) through undecided (white) to sure-real
/// (green), as GAN Lab colours them: light, so that the points stay easy to see.
pub(super) const HEAT: [[u8; 3]; 13] = [
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

/// The shade of a place the discriminator believes real with `realness` (NaN: white),
/// interpolated between the two nearest of [`HEAT`]'s shades, to a 1/1024 of the scale (from
/// a table: a heat map colours every pixel of every frame).
pub(super) fn heat_colour(realness: f32) -> RGBColor {
    static TABLE: std::sync::OnceLock<Vec<RGBColor>> = std::sync::OnceLock::new();
    if !realness.is_finite() {
        return WHITE;
    }
    let table = TABLE.get_or_init(|| (0..=1024).map(|k| blend(k as f32 / 1024.0)).collect());
    table[(realness.clamp(0.0, 1.0) * 1024.0 + 0.5) as usize]
}

/// The shade of `realness` in `[0, 1]`, computed.
fn blend(realness: f32) -> RGBColor {
    let t = realness * (HEAT.len() - 1) as f32;
    let i = (t.floor() as usize).min(HEAT.len() - 2);
    let f = t - i as f32;
    let mix = |k: usize| (HEAT[i][k] as f32 * (1.0 - f) + HEAT[i + 1][k] as f32 * f).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}

/// The colour of the pull arrows.
pub(super) const ARROW: RGBColor = RGBColor(64, 64, 64);

/// The animation's colours: white, greys for text and the curve, and shades of the two point
/// colours. Every pixel is mapped to the nearest, which keeps frames small and fast to encode
/// (a plot has few colours; a general quantiser would spend its time finding them).
pub(super) const PALETTE: [[u8; 3]; 32] = [
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
pub(super) const UNCHANGED: u8 = 31;

/// The palette index nearest a pixel, from a table over the colours at 6 bits a channel (the
/// centre of each of its cells): a frame's heat map has thousands of shades, and searching the
/// palette for each pixel of every frame would take most of an animation's time.
pub(super) fn nearest_in_palette(pixel: &[u8]) -> u8 {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    if pixel == [255, 255, 255] {
        return 0;
    }
    let table = TABLE.get_or_init(|| {
        (0..1usize << 18)
            .map(|i| {
                let channel = |shift: usize| (((i >> shift) & 63) * 4 + 2) as u8;
                nearest(&[channel(12), channel(6), channel(0)])
            })
            .collect()
    });
    let cell = |c: u8| (c >> 2) as usize;
    table[(cell(pixel[0]) << 12) | (cell(pixel[1]) << 6) | cell(pixel[2])]
}

/// The palette index nearest `pixel` by squared distance, searched.
fn nearest(pixel: &[u8]) -> u8 {
    let distance = |c: &[u8; 3]| -> i32 { (0..3).map(|i| (c[i] as i32 - pixel[i] as i32).pow(2)).sum() };
    (0..UNCHANGED as usize).min_by_key(|&i| distance(&PALETTE[i])).unwrap_or(0) as u8
}
