//! `train`'s command line resolved at the edge into typed values: which training choices were
//! typed ([`Choices`], each `Some` where its flag was on the command line, so a recipe's value
//! gives way to it and a resume checks it against the run's own), and the [`TrainPlan`] that
//! the `train` command runs. Nothing below the command layer sees a flag or a clap id.
//!
//! Every choice is one row of [`choices!`]: its field (which is also its clap id, and, with
//! `-` for `_`, its flag), how to read it from the parsed arguments, where it lands in the
//! configuration, and how the flag's value becomes that setting. Applying the choices over a
//! recipe, the resume conflicts and the list of typed flags are all generated from those rows,
//! so a new choice cannot be left out of any of them.

use std::path::PathBuf;

use anyhow::Result;
use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::cli::{ArchitectureArgs, SeedList, TrainArgs, Widths};
use crate::config::{Activation, EngineKind, Latent, Loss, ModelConfig, Penalty, Recipe, TrainConfig};
use crate::device::DeviceChoice;
use crate::ranking::Select;
use crate::target::{Domain, TargetConfig};

/// A setting as a message shows it: the way its flag is written; and whether two values of
/// it are the same setting (by default, when they are shown alike).
pub trait Shown {
    fn shown(&self) -> String;

    fn same(&self, other: &Self) -> bool {
        self.shown() == other.shown()
    }
}

macro_rules! shown_by_display {
    ($($t:ty),*) => {
        $(impl Shown for $t {
            fn shown(&self) -> String {
                self.to_string()
            }
        })*
    };
}

shown_by_display!(
    bool,
    u64,
    i64,
    f64,
    Loss,
    Penalty,
    Activation,
    Latent,
    Recipe,
    Domain,
    Select,
    DeviceChoice
);

/// The one text setting is a target's expression, where spaces mean nothing: `x ^ 2` is `x^2`.
impl Shown for String {
    fn shown(&self) -> String {
        self.clone()
    }

    fn same(&self, other: &Self) -> bool {
        let bare = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        bare(self) == bare(other)
    }
}

impl Shown for Vec<i64> {
    fn shown(&self) -> String {
        Widths(self.clone()).to_string()
    }
}

impl<T: Shown> Shown for Option<T> {
    fn shown(&self) -> String {
        self.as_ref().map_or_else(|| "unset".to_string(), Shown::shown)
    }

    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Some(a), Some(b)) => a.same(b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

/// A `--data` run's points by their fingerprint (file, count, SHA-256); `none` for any other
/// target.
impl Shown for TargetConfig {
    fn shown(&self) -> String {
        self.data.as_ref().map_or_else(|| "none".to_string(), |d| d.fingerprint())
    }

    /// The same points, whatever the file was called or whichever link led to it.
    fn same(&self, other: &Self) -> bool {
        let points = |t: &TargetConfig| t.data.as_ref().map(|d| d.points_sha256());
        points(self) == points(other)
    }
}

/// A typed flag whose value contradicts the run a resume continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The flag as the user typed it, e.g. `--g-hidden`.
    pub flag: String,
    /// Its value on the command line, and the run's.
    pub given: String,
    pub stored: String,
}

/// The flag of the argument whose clap id is `id`: `--` and the id with `-` for `_`.
fn flag_of(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

/// Whether the argument `id` was typed on the command line rather than defaulted.
fn typed(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// Defines a set of typed choices read from `$args` (one row each, see the module doc): the
/// struct of `Option`s, reading it from clap's matches, applying it over a configuration,
/// its conflicts with a saved configuration, and its flags.
macro_rules! choices {
    (
        $(#[$doc:meta])*
        pub struct $name:ident from $args:ty {
            $(
                $(#[$field_doc:meta])*
                $field:ident: $flag:ty = |$a:ident| $read:expr
                    => |$m:ident, $t:ident| $place:expr, via $via:expr;
            )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            $($(#[$field_doc])* pub $field: Option<$flag>,)*
        }

        impl $name {
            /// The flags of these choices, as the user types them.
            pub fn flags() -> Vec<String> {
                vec![$(flag_of(stringify!($field))),*]
            }

            /// The choices typed on the command line that `matches` (which parsed `args`) holds.
            pub fn read(args: &$args, matches: &ArgMatches) -> Self {
                $name {
                    $($field: typed(matches, stringify!($field)).then(|| {
                        let $a = args;
                        $read
                    }),)*
                }
            }

            /// The flags typed, as the user wrote them.
            pub fn typed_flags(&self) -> Vec<String> {
                let mut flags = Vec::new();
                $(if self.$field.is_some() {
                    flags.push(flag_of(stringify!($field)));
                })*
                flags
            }

            /// Sets each typed choice in `model` and `train`.
            pub fn apply(&self, model: &mut ModelConfig, train: &mut TrainConfig) -> Result<()> {
                $(if let Some(value) = &self.$field {
                    let setting = ($via)(value)?;
                    let ($m, $t) = (&mut *model, &mut *train);
                    let _ = (&$m, &$t);
                    $place = setting;
                })*
                Ok(())
            }

            /// The typed choices whose settings differ from `model`'s and `train`'s, in the
            /// order of the rows.
            pub fn conflicts(&self, model: &ModelConfig, train: &TrainConfig) -> Result<Vec<Conflict>> {
                let mut found = Vec::new();
                $(if let Some(value) = &self.$field {
                    let given = ($via)(value)?;
                    let ($m, $t) = (model, train);
                    let _ = (&$m, &$t);
                    let stored = &$place;
                    if !given.same(stored) {
                        found.push(Conflict {
                            flag: flag_of(stringify!($field)),
                            given: given.shown(),
                            stored: stored.shown(),
                        });
                    }
                })*
                Ok(found)
            }
        }
    };
}

/// The flag's value as its setting, unchanged.
fn same<T: Clone>(value: &T) -> Result<T> {
    Ok(value.clone())
}

/// A flag whose setting is optional (unset unless given).
fn set<T: Clone>(value: &T) -> Result<Option<T>> {
    Ok(Some(value.clone()))
}

/// Hidden layers' widths as the configuration keeps them.
fn widths(widths: &Widths) -> Result<Vec<i64>> {
    Ok(widths.0.clone())
}

/// The target of `--data`'s points, read from the file and checked.
#[allow(clippy::ptr_arg)] // Called on the flag's value, a `PathBuf`.
fn points(path: &PathBuf) -> Result<TargetConfig> {
    Ok(TargetConfig::data(crate::target::plane::read_data(path)?))
}

choices! {
    /// The networks' choices: `train`'s and `summary`'s architecture flags that were typed.
    pub struct ModelChoices from ArchitectureArgs {
        latent_dim: i64 = |a| a.latent_dim => |m, t| m.latent_dim, via same;
        g_hidden: Widths = |a| a.g_hidden.clone() => |m, t| m.generator_hidden, via widths;
        d_hidden: Widths = |a| a.d_hidden.clone() => |m, t| m.discriminator_hidden, via widths;
        activation: Activation = |a| a.activation => |m, t| m.activation, via same;
        g_output: Activation = |a| a.g_output => |m, t| m.generator_output, via same;
        latent: Latent = |a| a.latent => |m, t| m.latent, via same;
        pack: i64 = |a| a.pack => |m, t| m.pack, via same;
        /// Applied first of all, by choosing the base configuration; a no-op over it.
        recipe: Recipe = |a| a.recipe => |m, t| t.recipe, via same;
    }
}

choices! {
    /// The run's other choices: what it learns and how it trains.
    pub struct RunChoices from TrainArgs {
        target: String = |a| a.target.target.clone() => |m, t| t.target.expression, via same;
        domain: Domain = |a| a.target.domain => |m, t| t.target.domain, via same;
        /// The file is read where the choice is applied or checked.
        data: PathBuf = |a| a.target.data.clone().expect("--data was typed")
            => |m, t| t.target, via points;
        seed: u64 = |a| a.seed => |m, t| t.seed, via same;
        epochs: u64 = |a| a.epochs => |m, t| t.epochs, via same;
        batch: i64 = |a| a.batch => |m, t| t.batch, via same;
        eval_every: u64 = |a| a.eval_every => |m, t| t.eval_every, via same;
        history_every: u64 = |a| a.history_every => |m, t| t.history_every, via same;
        learning_rate: f64 = |a| a.learning_rate => |m, t| t.adam.learning_rate, via same;
        lr_g: f64 = |a| a.lr_g.expect("--lr-g was typed") => |m, t| t.lr_g, via set;
        lr_d: f64 = |a| a.lr_d.expect("--lr-d was typed") => |m, t| t.lr_d, via set;
        lr_half_life: u64 = |a| a.lr_half_life.expect("--lr-half-life was typed")
            => |m, t| t.lr_half_life, via set;
        beta1: f64 = |a| a.beta1 => |m, t| t.adam.beta1, via same;
        beta2: f64 = |a| a.beta2 => |m, t| t.adam.beta2, via same;
        loss: Loss = |a| a.loss => |m, t| t.loss, via same;
        d_steps: u64 = |a| a.d_steps => |m, t| t.d_steps, via same;
        penalty: Penalty = |a| a.penalty => |m, t| t.penalty, via same;
        penalty_weight: f64 = |a| a.penalty_weight.expect("--penalty-weight was typed")
            => |m, t| t.penalty_weight, via set;
        spectral_norm: bool = |a| a.spectral_norm => |m, t| t.spectral_norm, via same;
        keep_best: Select = |a| a.keep_best.expect("--keep-best was typed") => |m, t| t.keep_best, via set;
        patience: u64 = |a| a.patience.expect("--patience was typed") => |m, t| t.patience, via set;
    }
}

/// Every training choice typed on a command line.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub model: ModelChoices,
    pub run: RunChoices,
}

impl Choices {
    /// The configuration of a new run: `recipe`'s for the target (in the plane if `plane`),
    /// with each typed choice set over it.
    pub fn configs(&self, recipe: Recipe, plane: bool) -> Result<(ModelConfig, TrainConfig)> {
        let (mut model, mut train) = recipe.configs(plane);
        self.model.apply(&mut model, &mut train)?;
        self.run.apply(&mut model, &mut train)?;
        // `--penalty none` over a recipe's penalty takes its weight away too.
        if train.penalty == Penalty::None && self.run.penalty_weight.is_none() {
            train.penalty_weight = None;
        }
        Ok((model, train))
    }

    /// The typed choices that a run of `model` and `train` contradicts.
    pub fn conflicts(&self, model: &ModelConfig, train: &TrainConfig) -> Result<Vec<Conflict>> {
        // A network's learning rate left unset is the shared one: `--lr-g 0.001` repeats it.
        let rate = Some(train.adam.learning_rate);
        // So is a penalty's weight left unset its default.
        let weight = train.penalty_rule().map(|(_, weight)| weight);
        let train = &TrainConfig {
            lr_g: train.lr_g.or(rate),
            lr_d: train.lr_d.or(rate),
            penalty_weight: weight,
            ..train.clone()
        };
        let mut found = self.model.conflicts(model, train)?;
        found.extend(self.run.conflicts(model, train)?);
        Ok(found)
    }

    /// The flags typed, as written.
    pub fn typed_flags(&self) -> Vec<String> {
        let mut flags = self.model.typed_flags();
        flags.extend(self.run.typed_flags());
        flags
    }

    /// Every flag of a training choice.
    pub fn flags() -> Vec<String> {
        let mut flags = ModelChoices::flags();
        flags.extend(RunChoices::flags());
        flags
    }
}

/// What a `train` command line typed: its choices, and which session flags whose values
/// have defaults were typed. Read by [`crate::cli::Cli::parse_with_sources`].
#[derive(Debug, Clone, Default)]
pub struct Typed {
    pub choices: Choices,
    pub select: bool,
    pub device: bool,
    pub threads: bool,
}

impl Typed {
    /// What `matches` (which parsed `args`) says was typed.
    pub fn read(args: &TrainArgs, matches: &ArgMatches) -> Typed {
        Typed {
            choices: Choices {
                model: ModelChoices::read(&args.architecture, matches),
                run: RunChoices::read(args, matches),
            },
            select: typed(matches, "select"),
            device: typed(matches, "device"),
            threads: typed(matches, "threads"),
        }
    }
}

/// Where a `train` writes: a new run into `--out`, or the run it continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// A new run into `out`: one member, or with `seeds` an ensemble; `overwrite` replaces a
    /// single run already there.
    Fresh { out: PathBuf, overwrite: bool, seeds: Option<Vec<u64>> },
    /// `--resume DIR`.
    Resume(PathBuf),
}

/// What one `gan1d train` does, resolved from its command line.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    pub begin: Begin,
    /// The recipe whose configuration the typed choices override (the tutorial's unless
    /// named).
    pub recipe: Recipe,
    /// Whether the target named is a distribution in the plane (a name only: the target is
    /// checked when the configuration is built).
    pub plane: bool,
    pub choices: Choices,
    /// The metric that ranks an ensemble's members, and whether `--select` was typed.
    pub select: Select,
    pub select_typed: bool,
    /// This session's device, engine, threads and checkpoint spacing, which no checkpoint
    /// keeps; `None` where the flag was not typed (a resume command repeats those typed).
    pub device: DeviceChoice,
    pub device_typed: bool,
    pub engine: Option<EngineKind>,
    pub threads: u64,
    pub threads_typed: bool,
    pub checkpoint_every: Option<u64>,
    pub quiet: bool,
}

impl TrainPlan {
    /// The plan of `args`, with what its command line typed.
    pub fn of(args: &TrainArgs) -> TrainPlan {
        let begin = match &args.resume {
            Some(dir) => Begin::Resume(dir.clone()),
            None => Begin::Fresh {
                out: args.out.clone(),
                overwrite: args.overwrite,
                seeds: args.seeds.as_ref().map(|SeedList(seeds)| seeds.clone()),
            },
        };
        TrainPlan {
            begin,
            recipe: args.architecture.recipe,
            plane: args.target.is_plane(),
            choices: args.typed.choices.clone(),
            select: args.select,
            select_typed: args.typed.select,
            device: args.device,
            device_typed: args.typed.device,
            engine: args.engine,
            threads: args.threads,
            threads_typed: args.typed.threads,
            checkpoint_every: args.checkpoint_every,
            quiet: args.quiet,
        }
    }

    /// The configuration of a new run.
    pub fn configs(&self) -> Result<(ModelConfig, TrainConfig)> {
        self.choices.configs(self.recipe, self.plane)
    }

    /// The flags of this session only, which no checkpoint keeps, as a resume command repeats
    /// them: device, engine, threads and checkpoint spacing, where typed.
    pub fn session_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.device_typed {
            flags.push(format!("--device {}", self.device));
        }
        if let Some(engine) = self.engine {
            flags.push(format!("--engine {engine}"));
        }
        if self.threads_typed {
            flags.push(format!("--threads {}", self.threads));
        }
        if let Some(n) = self.checkpoint_every {
            flags.push(format!("--checkpoint-every {n}"));
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::CommandFactory;

    fn plan(args: &[&str]) -> TrainPlan {
        let cli = Cli::parse_with_sources([&["gan1d", "train"], args].concat()).unwrap();
        let Command::Train(train) = cli.command else { panic!("not train") };
        TrainPlan::of(&train)
    }

    /// Every row's field is a clap argument of `train` (so its id reads it), and its flag the
    /// one a user types.
    #[test]
    fn every_choice_is_a_flag_of_train() {
        let command = Cli::command();
        let train = command.find_subcommand("train").unwrap();
        let longs: Vec<String> = train.get_arguments().filter_map(|a| a.get_long()).map(flag_of).collect();
        for flag in Choices::flags() {
            assert!(longs.contains(&flag), "{flag} is not a flag of train");
            let id = flag.trim_start_matches("--").replace('-', "_");
            assert!(train.get_arguments().any(|a| a.get_id() == id.as_str()), "{id}");
        }
    }

    #[test]
    fn typed_flags_are_told_from_defaults() {
        let p = plan(&["--batch", "128", "--resume", "m", "--g-hidden", "4,4"]);
        assert_eq!(p.choices.typed_flags(), ["--g-hidden", "--batch"]);
        assert_eq!((p.choices.run.batch, p.choices.run.epochs), (Some(128), None));
        assert_eq!(p.begin, Begin::Resume("m".into()));
        assert!(!p.device_typed && !p.threads_typed && !p.select_typed);
        let p = plan(&["--device", "cpu", "--threads", "2", "--seeds", "1,2", "--select", "ks"]);
        assert!(p.device_typed && p.threads_typed && p.select_typed);
        assert_eq!(p.session_flags(), ["--device cpu", "--threads 2"]);
    }

    /// A recipe's values give way to typed flags, and only to them.
    #[test]
    fn typed_choices_override_the_recipe() {
        let (model, train) =
            plan(&["--recipe", "robust", "--g-hidden", "8", "--epochs", "50"]).configs().unwrap();
        let (robust_model, robust) = Recipe::Robust.configs(false);
        assert_eq!((model.generator_hidden, train.epochs), (vec![8], 50));
        assert_eq!(
            (model.discriminator_hidden, train.batch),
            (robust_model.discriminator_hidden, robust.batch)
        );
        assert_eq!(train.recipe, Recipe::Robust);
    }

    /// Every choice, typed with a value other than the run's, is a conflict that names its
    /// flag as typed and both values; typed with the run's own value, none.
    #[test]
    fn the_runs_own_settings_written_another_way_are_no_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let rows: String = (0..20).map(|i| format!("{i},{}\n", i * 2)).collect();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, format!("x,y\n{rows}")).unwrap();
        std::fs::write(&b, format!("x,y\r\n{}", rows.replace('\n', "\r\n"))).unwrap();
        let (model, mut train) = (ModelConfig::default(), TrainConfig::default());
        train.target.expression = "x ^ 2".into();
        for flags in [
            &["--lr-g", "0.001"][..],
            &["--lr-d", "0.001", "--learning-rate", "0.001"],
            &["--target", "x^2"],
            &["--target", " x ^2 "],
        ] {
            let conflicts = plan(flags).choices.conflicts(&model, &train).unwrap();
            assert!(conflicts.is_empty(), "{flags:?}: {conflicts:?}");
        }
        // The same points under another name are the same data; other points are not.
        let mut with_data = train.clone();
        with_data.target = TargetConfig::data(crate::target::plane::read_data(&a).unwrap());
        let conflicts = plan(&["--data", b.to_str().unwrap()]).choices.conflicts(&model, &with_data).unwrap();
        assert!(conflicts.is_empty(), "{conflicts:?}");
        std::fs::write(&b, format!("x,y\n{rows}21,0\n")).unwrap();
        let conflicts = plan(&["--data", b.to_str().unwrap()]).choices.conflicts(&model, &with_data).unwrap();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    }

    #[test]
    fn every_choice_conflicts_with_another_value_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("points.csv");
        let rows: String = (0..20).map(|i| format!("{i},{}\n", i * 2)).collect();
        std::fs::write(&csv, format!("x,y\n{rows}")).unwrap();
        let (model, train) = (ModelConfig::default(), TrainConfig::default());
        let other: Vec<(&str, &str, &str)> = vec![
            ("--latent-dim", "3", "5"),
            ("--g-hidden", "4,4", "15"),
            ("--d-hidden", "7", "25"),
            ("--activation", "tanh", "relu"),
            ("--g-output", "tanh", "linear"),
            ("--latent", "uniform", "normal"),
            ("--pack", "2", "1"),
            ("--recipe", "robust", "tutorial"),
            ("--target", "sine", "x^2"),
            ("--domain", "-1,1", "-0.5,0.5"),
            ("--data", csv.to_str().unwrap(), "none"),
            ("--seed", "7", "42"),
            ("--epochs", "9", "10000"),
            ("--batch", "64", "128"),
            ("--eval-every", "9", "2000"),
            ("--history-every", "9", "10"),
            ("--learning-rate", "0.002", "0.001"),
            // An unset rate is the shared one: the run's G and D learn at 0.001.
            ("--lr-g", "0.002", "0.001"),
            ("--lr-d", "0.002", "0.001"),
            ("--lr-half-life", "9", "unset"),
            ("--beta1", "0.5", "0.9"),
            ("--beta2", "0.9", "0.999"),
            ("--loss", "hinge", "bce"),
            ("--d-steps", "2", "1"),
            ("--penalty", "r1", "none"),
            ("--penalty-weight", "5", "unset"),
            ("--spectral-norm", "true", "false"),
            ("--keep-best", "ks", "unset"),
            ("--patience", "5", "unset"),
        ];
        let checked: Vec<&str> = other.iter().map(|(flag, _, _)| *flag).collect();
        assert_eq!(checked, Choices::flags(), "a choice without a conflict case");
        for (flag, value, stored) in other {
            // A switch is typed without a value.
            let typed: &[&str] = if value == "true" { &[flag] } else { &[flag, value] };
            let conflicts = plan(typed).choices.conflicts(&model, &train).unwrap();
            assert_eq!(conflicts.len(), 1, "{flag}: {conflicts:?}");
            assert_eq!((conflicts[0].flag.as_str(), conflicts[0].stored.as_str()), (flag, stored));
            assert!(conflicts[0].given.contains(value) || flag == "--data", "{flag}: {conflicts:?}");
            if flag == "--data" {
                assert!(conflicts[0].given.contains("points.csv"), "{conflicts:?}");
            } else {
                // The run's own value is no conflict.
                let stored = if stored == "unset" || stored == "false" { continue } else { stored };
                assert!(
                    plan(&[flag, stored]).choices.conflicts(&model, &train).unwrap().is_empty(),
                    "{flag}"
                );
            }
        }
    }
}
