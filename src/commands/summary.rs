//! `gan1d summary`: Keras-style model tables, and diagrams with `--diagram`.

use anyhow::Result;
use tch::{Device, nn};

use crate::cli::SummaryArgs;
use crate::model::{Discriminator, Generator};
use crate::{checkpoint, diagram, summary as tables};

pub fn summary(args: &SummaryArgs) -> Result<()> {
    if let Some(dir) = &args.diagram {
        super::writable_dir(dir, "--diagram")?;
    }
    let model_cfg = match &args.checkpoint {
        Some(dir) => {
            let (dir, note) = checkpoint::resolve(dir, args.member)?;
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
    let (g_vs, d_vs) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
    let generator = Generator::new(&g_vs.root(), &model_cfg);
    let discriminator = Discriminator::new(&d_vs.root(), &model_cfg);
    let _ = crate::output::Stdout::default().text(&tables::render(&generator, &discriminator))?;
    if let Some(dir) = &args.diagram {
        for (stem, blocks) in tables::diagrams(&generator, &discriminator) {
            let path = dir.join(format!("{stem}.png"));
            diagram::draw(&path, &blocks)?;
            crate::output::note(&format!("gan1d: wrote {}", path.display()));
        }
    }
    Ok(())
}
