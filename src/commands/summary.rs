//! `gan1d summary`: Keras-style model tables, and diagrams with `--diagram`.

use anyhow::Result;

use crate::cli::SummaryArgs;
use crate::{checkpoint, diagram, summary as tables};

pub fn summary(args: &SummaryArgs) -> Result<()> {
    if let Some(dir) = &args.diagram {
        super::writable_dir(dir, "--diagram")?;
    }
    let model_cfg = match &args.checkpoint {
        Some(dir) => {
            let (dir, note) = super::resolve_checkpoint(dir, args.member)?;
            let model = checkpoint::read_manifest(&dir)?.model;
            if let Some(note) = note {
                crate::output::note(&note);
            }
            model
        }
        None => {
            let model_cfg = args.architecture.model_config();
            model_cfg.validate()?;
            model_cfg
        }
    };
    let _ = crate::output::Stdout::default().text(&tables::render(&model_cfg))?;
    if let Some(dir) = &args.diagram {
        for (stem, blocks) in tables::diagrams(&model_cfg) {
            let path = dir.join(format!("{stem}.png"));
            diagram::draw(&path, &blocks)?;
            crate::output::note(&format!("gan1d: wrote {}", path.display()));
        }
    }
    Ok(())
}
