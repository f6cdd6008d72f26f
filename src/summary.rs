//! Model summaries in the form Keras' `model.summary()` prints: one row per layer with its
//! output shape and parameter count, then the totals. Counts are read off the built models.

use std::fmt::Write;

use crate::config::{LayerSpec, ModelConfig, Recipe, TrainConfig, parameter_count};
use crate::diagram::Block;

const RULE_WIDTH: usize = 65;

/// One table row: name with type, output shape, parameters.
struct Row {
    layer: String,
    shape: String,
    params: i64,
}

fn layer_rows(net: &[LayerSpec]) -> Vec<Row> {
    net.iter()
        .map(|l| Row {
            layer: format!("{} (Dense)", l.name),
            shape: format!("(None, {})", l.outputs),
            params: parameter_count(std::slice::from_ref(l)),
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

/// The training choices of `train` (and the latent distribution of `model`) as a block of
/// `name value` lines under the recipe they came from, or `None` when every one is the
/// tutorial's, so that a tutorial run's summary stays the tutorial's three tables.
pub fn choices(model: &ModelConfig, train: &TrainConfig) -> Option<String> {
    let tutorial = TrainConfig::default();
    let same = train.recipe == Recipe::Tutorial
        && train.loss == tutorial.loss
        && train.d_steps == tutorial.d_steps
        && train.lr_g.is_none()
        && train.lr_d.is_none()
        && train.lr_half_life.is_none()
        && train.adam == tutorial.adam
        && train.penalty_rule().is_none()
        && !train.spectral_norm
        && model.latent == ModelConfig::default().latent;
    if same {
        return None;
    }
    let (g, d) = (train.generator_adam(), train.discriminator_adam());
    let mut out = format!("Training (recipe {}):\n", train.recipe);
    let rows = [
        ("loss", train.loss.to_string()),
        ("d-steps", train.d_steps.to_string()),
        ("lr-g", g.learning_rate.to_string()),
        ("lr-d", d.learning_rate.to_string()),
        ("lr-half-life", train.lr_half_life.map_or_else(|| "none".to_string(), |h| h.to_string())),
        ("beta1", train.adam.beta1.to_string()),
        ("beta2", train.adam.beta2.to_string()),
        (
            "penalty",
            train.penalty_rule().map_or_else(|| "none".to_string(), |(p, w)| format!("{p}, weight {w}")),
        ),
        ("spectral-norm", if train.spectral_norm { "yes" } else { "no" }.to_string()),
        ("latent", model.latent.to_string()),
        ("batch", train.batch.to_string()),
        ("epochs", train.epochs.to_string()),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, " {name:<28}{value}");
    }
    Some(out)
}

/// The training choices in a manifest (`config.json` as JSON), flattened to names such as
/// `model.generator_hidden` and `train.adam.learning_rate`: what tells two configurations
/// apart. The seed belongs to a run, not to its configuration, and the target is compared on
/// its own, so neither is among them.
pub fn flat_choices(config: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    use serde_json::Value;
    fn flatten(prefix: &str, value: &Value, out: &mut std::collections::BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    flatten(&format!("{prefix}.{k}"), v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for part in ["model", "train"] {
        if let Some(value) = config.get(part) {
            flatten(part, value, &mut out);
        }
    }
    out.retain(|k, _| k != "train.seed" && !k.starts_with("train.target"));
    out
}

/// The three tables of the tutorial: the discriminator, the generator, and the composite model
/// whose updates train the generator only.
pub fn render(model: &ModelConfig) -> String {
    let (g, d) = (&model.generator_layers(), &model.discriminator_layers());
    let mut out = String::new();
    table(&mut out, "discriminator", &layer_rows(d), parameter_count(d));
    out.push('\n');
    table(&mut out, "generator", &layer_rows(g), parameter_count(g));
    out.push('\n');
    let composite = [
        Row {
            layer: "generator (Sequential)".into(),
            shape: format!("(None, {})", g.last().unwrap().outputs),
            params: parameter_count(g),
        },
        Row {
            layer: "discriminator (Sequential)".into(),
            shape: format!("(None, {})", d.last().unwrap().outputs),
            params: parameter_count(d),
        },
    ];
    // The composite's optimiser holds the generator's parameters only.
    table(&mut out, "composite", &composite, parameter_count(g));
    out
}

/// The boxes of one network's diagram: its input, then each layer with its activation.
/// `output_activation`, if given, names what follows the last layer instead (the
/// discriminator's sigmoid lives in its loss, but it is part of the model as the tutorial
/// defines it).
fn network_blocks(net: &[LayerSpec], output_activation: Option<&str>) -> Vec<Block> {
    let first = &net[0];
    let mut blocks = vec![Block {
        title: "input: InputLayer".into(),
        input: format!("(None, {})", first.inputs),
        output: format!("(None, {})", first.inputs),
    }];
    let last = net.len() - 1;
    for (i, layer) in net.iter().enumerate() {
        let activation = match output_activation {
            Some(name) if i == last => name.to_string(),
            _ => layer.activation.to_string(),
        };
        blocks.push(Block {
            title: format!("{}: Dense ({activation})", layer.name),
            input: format!("(None, {})", layer.inputs),
            output: format!("(None, {})", layer.outputs),
        });
    }
    blocks
}

/// The three diagrams, as `(file stem, boxes)` with the tutorial's file names: the discriminator, the generator, and the
/// composite (latent input → generator → discriminator).
pub fn diagrams(model: &ModelConfig) -> Vec<(&'static str, Vec<Block>)> {
    let (g, d) = (&model.generator_layers(), &model.discriminator_layers());
    let latent = g[0].inputs;
    let point = g.last().unwrap().outputs;
    let composite = vec![
        Block {
            title: "input: InputLayer".into(),
            input: format!("(None, {latent})"),
            output: format!("(None, {latent})"),
        },
        Block {
            title: "generator: Sequential".into(),
            input: format!("(None, {latent})"),
            output: format!("(None, {point})"),
        },
        Block {
            title: "discriminator: Sequential".into(),
            input: format!("(None, {point})"),
            output: "(None, 1)".into(),
        },
    ];
    vec![
        ("discriminator_plot", network_blocks(d, Some("sigmoid"))),
        ("generator_plot", network_blocks(g, None)),
        ("gan_plot", composite),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_state_the_tutorials_counts() {
        let text = render(&ModelConfig::default());
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

    #[test]
    fn diagrams_list_every_layer_with_shapes() {
        let all = diagrams(&ModelConfig::default());
        let names: Vec<_> = all.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["discriminator_plot", "generator_plot", "gan_plot"]);
        let d = &all[0].1;
        assert_eq!(d.len(), 3);
        assert_eq!(d[1].title, "hidden: Dense (relu)");
        assert_eq!((d[1].input.as_str(), d[1].output.as_str()), ("(None, 2)", "(None, 25)"));
        assert_eq!(d[2].title, "out: Dense (sigmoid)");
        assert_eq!(all[2].1[1].output, "(None, 2)");
        assert_eq!(all[1].1[2].title, "out: Dense (linear)");
    }

    #[test]
    fn other_architectures_show_their_layers_counts_and_activations() {
        let cfg = ModelConfig {
            generator_hidden: vec![32, 16],
            discriminator_hidden: vec![8],
            activation: crate::config::Activation::LeakyRelu(0.2),
            generator_output: crate::config::Activation::Tanh,
            ..ModelConfig::default()
        };
        let text = render(&cfg);
        for needle in [
            "hidden (Dense)              (None, 32)                192",
            "hidden2 (Dense)             (None, 16)                528",
            "out (Dense)                 (None, 2)                 34",
            "Total params: 754",
            "Total params: 33",
            "Total params: 787\nTrainable params: 754\nNon-trainable params: 33",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let all = diagrams(&cfg);
        let titles: Vec<&str> = all[1].1.iter().map(|b| b.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "input: InputLayer",
                "hidden: Dense (leaky-relu:0.2)",
                "hidden2: Dense (leaky-relu:0.2)",
                "out: Dense (tanh)"
            ]
        );
    }
}
