//! Model diagrams in the manner of Keras' `plot_model(show_shapes=True)`: one box per layer,
//! top to bottom, each naming the layer and its input and output shapes, joined by arrows.
//! Draws plain descriptions; knows nothing of tensors or models.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use crate::plot::register_font;

/// One box of a diagram.
pub struct Block {
    /// `name: Type`, e.g. `hidden: Dense (relu)`.
    pub title: String,
    /// e.g. `(None, 2)`.
    pub input: String,
    pub output: String,
}

const WIDTH: i32 = 560;
const BOX_HEIGHT: i32 = 56;
const GAP: i32 = 36;
const MARGIN: i32 = 20;
/// Where the box's left cell (the title) ends and its shape cells begin.
const SPLIT: i32 = 300;

/// Draws `blocks` as a diagram PNG at `path`.
pub fn draw(path: &Path, blocks: &[Block]) -> Result<()> {
    register_font();
    let n = blocks.len() as i32;
    let height = 2 * MARGIN + n * BOX_HEIGHT + (n - 1).max(0) * GAP;
    let size = (WIDTH as u32 + 2 * MARGIN as u32, height as u32);
    crate::plot::write_png(path, size, |buffer| render(buffer, size, blocks))
}

fn render(buffer: &mut [u8], size: (u32, u32), blocks: &[Block]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(buffer, size).into_drawing_area();
    root.fill(&WHITE)?;
    let font = |px| ("sans-serif", px).into_font().color(&BLACK);
    let line = BLACK.stroke_width(1);
    for (i, block) in blocks.iter().enumerate() {
        let top = MARGIN + i as i32 * (BOX_HEIGHT + GAP);
        let (left, right, bottom) = (MARGIN, MARGIN + WIDTH, top + BOX_HEIGHT);
        let middle = top + BOX_HEIGHT / 2;
        root.draw(&Rectangle::new([(left, top), (right, bottom)], RGBColor(235, 242, 252).filled()))?;
        root.draw(&Rectangle::new([(left, top), (right, bottom)], line))?;
        root.draw(&PathElement::new(vec![(left + SPLIT, top), (left + SPLIT, bottom)], line))?;
        root.draw(&PathElement::new(vec![(left + SPLIT, middle), (right, middle)], line))?;
        root.draw(&PathElement::new(vec![(left + SPLIT + 70, top), (left + SPLIT + 70, bottom)], line))?;
        root.draw(&Text::new(block.title.clone(), (left + 12, middle - 9), font(17)))?;
        root.draw(&Text::new("input:", (left + SPLIT + 8, top + 6), font(15)))?;
        root.draw(&Text::new("output:", (left + SPLIT + 8, middle + 6), font(15)))?;
        root.draw(&Text::new(block.input.clone(), (left + SPLIT + 80, top + 6), font(15)))?;
        root.draw(&Text::new(block.output.clone(), (left + SPLIT + 80, middle + 6), font(15)))?;
        if i + 1 < blocks.len() {
            let x = left + WIDTH / 2;
            let (from, to) = (bottom, bottom + GAP);
            root.draw(&PathElement::new(vec![(x, from), (x, to - 2)], BLACK.stroke_width(2)))?;
            root.draw(&Polygon::new(vec![(x - 6, to - 10), (x + 6, to - 10), (x, to - 1)], BLACK.filled()))?;
        }
    }
    root.present()?;
    Ok(())
}
