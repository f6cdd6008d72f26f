//! `gan1d summary`: Keras-style model tables, and diagrams with `--diagram`.

use anyhow::{Result, bail};

use super::Destination;
use crate::cli::SummaryArgs;
use crate::{checkpoint, diagram, summary as tables};

pub fn summary(args: &SummaryArgs) -> Result<()> {
    let (model_cfg, train_cfg, note) = match &args.checkpoint {
        Some(dir) => {
            let (dir, note) = super::resolve_checkpoint(dir, args.member)?;
            let manifest = checkpoint::read_manifest(&dir)?;
            (manifest.model, manifest.train, note)
        }
        None => {
            let (mut model_cfg, mut train_cfg) = args.architecture.recipe.configs(false);
            args.typed.apply(&mut model_cfg, &mut train_cfg)?;
            model_cfg.validate()?;
            (model_cfg, train_cfg, None)
        }
    };
    let diagrams = tables::diagrams(&model_cfg);
    // Every diagram's file is checked before anything is written; a folder that does not exist
    // yet is made, and holds none of them.
    let mut outputs = Vec::new();
    if let Some(dir) = &args.diagram {
        if dir.symlink_metadata().is_ok() && !dir.is_dir() {
            bail!(
                "--diagram {}: that is a file, and --diagram names a folder, where {} are drawn; name a folder",
                dir.display(),
                diagrams.iter().map(|(stem, _)| format!("{stem}.png")).collect::<Vec<_>>().join(" and ")
            );
        }
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
    let mut text = tables::render(&model_cfg);
    if let Some(choices) = tables::choices(&model_cfg, &train_cfg) {
        text.push('\n');
        text.push_str(&choices);
    }
    let _ = crate::output::Stdout::default().text(&text)?;
    for ((destination, path), (_, blocks)) in outputs.iter().zip(&diagrams) {
        destination.draw("--diagram", path, |path| diagram::draw(path, blocks))?;
        crate::output::note(&format!("gan1d: wrote {}", path.display()));
    }
    Ok(())
}
