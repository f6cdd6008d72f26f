//! `gan1d summary`: Keras-style model tables, and diagrams with `--diagram`.

use anyhow::Result;

use super::Destination;
use crate::cli::SummaryArgs;
use crate::{checkpoint, diagram, summary as tables};

pub fn summary(args: &SummaryArgs) -> Result<()> {
    let (model_cfg, note) = match &args.checkpoint {
        Some(dir) => {
            let (dir, note) = super::resolve_checkpoint(dir, args.member)?;
            (checkpoint::read_manifest(&dir)?.model, note)
        }
        None => {
            let model_cfg = args.architecture.model_config();
            model_cfg.validate()?;
            (model_cfg, None)
        }
    };
    let diagrams = tables::diagrams(&model_cfg);
    // Every diagram's file is checked before anything is written; a folder that does not exist
    // yet is made, and holds none of them.
    let mut outputs = Vec::new();
    if let Some(dir) = &args.diagram {
        if !dir.is_dir() {
            super::writable_dir(dir, "--diagram")?;
        }
        for (stem, _) in &diagrams {
            let path = dir.join(format!("{stem}.png"));
            outputs.push((Destination::check(&path, "--diagram", true)?, path));
        }
        super::writable_dir(dir, "--diagram")?;
    }
    if let Some(note) = note {
        crate::output::note(&note);
    }
    let _ = crate::output::Stdout::default().text(&tables::render(&model_cfg))?;
    for ((destination, path), (_, blocks)) in outputs.iter().zip(&diagrams) {
        destination.draw("--diagram", path, |path| diagram::draw(path, blocks))?;
        crate::output::note(&format!("gan1d: wrote {}", path.display()));
    }
    Ok(())
}
