//! Comparing two implementations' results of one iteration from a shared state, to float32
//! rounding: the engines test and the ensembles test use it.

use gan1d::engine::Net;
use gan1d::train::Trainer;
use tch::{Kind, Tensor};

/// A network's state as f64 tensors: its variables in name order, then its Adam's m and v.
pub struct NetState {
    pub vars: Vec<(String, Tensor)>,
    pub m: Tensor,
    pub v: Tensor,
    pub steps: u64,
}

/// `net`'s state in a one-member run.
pub fn state(t: &Trainer, net: Net) -> NetState {
    member(t, 0, net)
}

/// `net`'s state of member `k`.
pub fn member(t: &Trainer, k: usize, net: Net) -> NetState {
    let [generator, discriminator] = t.member_state(k);
    let exported = if net == Net::Generator { generator } else { discriminator };
    let layers = match net {
        Net::Generator => t.model_cfg().generator_layers(),
        Net::Discriminator => t.model_cfg().discriminator_layers(),
    };
    let row = exported.params.get(0).to_kind(Kind::Double);
    let vars = gan1d::config::variables(&layers)
        .into_iter()
        .map(|v| (v.name.clone(), row.narrow(0, v.offset, v.len()).view(v.shape.as_slice())))
        .collect();
    let moment = |t: &Tensor| t.get(0).to_kind(Kind::Double);
    NetState { vars, m: moment(&exported.m), v: moment(&exported.v), steps: exported.steps }
}

pub fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().double_value(&[])
}

/// How far two engines' results of one step from `before` are apart, as a multiple of what
/// float32 rounding allows; at most 1 passes. Parameters are compared by their updates:
/// each element's update may differ by 1 % of itself plus a few ulps of the parameter (the
/// rounding of the new value); each moment tensor may differ by 1e-4 of its largest element
/// (gradients summed in another order).
pub fn disagreement(before: &NetState, fused: &NetState, reference: &NetState) -> (f64, String) {
    let mut worst = (0.0f64, String::new());
    let mut note = |ratio: f64, what: String| {
        if ratio > worst.0 || ratio.is_nan() {
            worst = (if ratio.is_nan() { f64::INFINITY } else { ratio }, what);
        }
    };
    for ((name, p0), ((_, pf), (_, pa))) in before.vars.iter().zip(fused.vars.iter().zip(&reference.vars)) {
        let (df, da) = (pf - p0, pa - p0);
        let ulp = p0.abs().clamp_min(1e-3) * f64::from(f32::EPSILON);
        let allowed = da.abs() * 1e-2 + ulp * 4.0;
        let ratio = ((&df - &da).abs() / allowed).max().double_value(&[]);
        note(
            ratio,
            format!(
                "update of {name}: fused moved it up to {:.3e}, the reference {:.3e}",
                max_abs(&df),
                max_abs(&da)
            ),
        );
    }
    for (which, f, a) in [("m", &fused.m, &reference.m), ("v", &fused.v, &reference.v)] {
        let allowed = 1e-4 * max_abs(a) + 1e-30;
        note(max_abs(&(f - a)) / allowed, format!("Adam {which}: largest {:.3e}", max_abs(a)));
    }
    worst
}
