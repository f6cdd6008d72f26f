//! Model summaries in the form Keras' `model.summary()` prints: one row per layer with its
//! output shape and parameter count, then the totals. Counts are read off the built models.

use std::fmt::Write;

use crate::model::{Discriminator, Generator, Mlp};

const RULE_WIDTH: usize = 65;

/// One table row: name with type, output shape, parameters.
struct Row {
    layer: String,
    shape: String,
    params: i64,
}

fn layer_rows(net: &Mlp) -> Vec<Row> {
    net.layers()
        .iter()
        .map(|l| Row {
            layer: format!("{} (Dense)", l.name),
            shape: format!("(None, {})", l.out_features()),
            params: l.out_features() * l.in_features() + l.out_features(),
        })
        .collect()
}

fn table(out: &mut String, title: &str, rows: &[Row], trainable: i64) {
    let total: i64 = rows.iter().map(|r| r.params).sum();
    let _ = writeln!(out, "Model: \"{title}\"");
    let _ = writeln!(out, "{}", "_".repeat(RULE_WIDTH));
    let _ = writeln!(out, " {:<28}{:<26}Param #", "Layer (type)", "Output Shape");
    let _ = writeln!(out, "{}", "=".repeat(RULE_WIDTH));
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out);
        }
        let _ = writeln!(out, " {:<28}{:<26}{}", row.layer, row.shape, row.params);
    }
    let _ = writeln!(out, "{}", "=".repeat(RULE_WIDTH));
    let _ = writeln!(out, "Total params: {total}");
    let _ = writeln!(out, "Trainable params: {trainable}");
    let _ = writeln!(out, "Non-trainable params: {}", total - trainable);
    let _ = writeln!(out, "{}", "_".repeat(RULE_WIDTH));
}

/// The three tables of the tutorial: the discriminator, the generator, and the composite model
/// whose updates train the generator only.
pub fn render(generator: &Generator, discriminator: &Discriminator) -> String {
    let (g, d) = (&generator.0, &discriminator.0);
    let mut out = String::new();
    table(&mut out, "discriminator", &layer_rows(d), d.parameter_count());
    out.push('\n');
    table(&mut out, "generator", &layer_rows(g), g.parameter_count());
    out.push('\n');
    let composite = [
        Row {
            layer: "generator (Sequential)".into(),
            shape: format!("(None, {})", g.layers().last().unwrap().out_features()),
            params: g.parameter_count(),
        },
        Row {
            layer: "discriminator (Sequential)".into(),
            shape: format!("(None, {})", d.layers().last().unwrap().out_features()),
            params: d.parameter_count(),
        },
    ];
    // The composite's optimiser holds the generator's parameters only.
    table(&mut out, "composite", &composite, g.parameter_count());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use tch::{Device, nn};

    #[test]
    fn tables_state_the_tutorials_counts() {
        let cfg = ModelConfig::default();
        let (g_vs, d_vs) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
        let text = render(&Generator::new(&g_vs.root(), &cfg), &Discriminator::new(&d_vs.root(), &cfg));
        for needle in [
            "hidden (Dense)              (None, 25)                75",
            "out (Dense)                 (None, 1)                 26",
            "hidden (Dense)              (None, 15)                90",
            "out (Dense)                 (None, 2)                 32",
            "Total params: 101",
            "Total params: 122",
            "Total params: 223\nTrainable params: 122\nNon-trainable params: 101",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
