"""Shows that `make test` catches one-detail changes to the algorithm.

Each mutant below changes one detail of what a run computes: the native engine (the CPU's
default) and its host loops, the losses, the activations, Adam, packing, the discriminator's
view, the draws. For each, a scratch copy of the source gets the change, and the tests that
depend on the algorithm run against it: the unit tests, tests/engines.rs (the engines compared
step by step), tests/learning.rs, tests/checkpoint.rs, tests/ensembles.rs and tests/cli.rs
(the shipped run rebuilt byte for byte among them), then the autograd replica check
(bench/replica_check.sh) when a Python with torch is at hand. A mutant is caught when at least
one of them fails (the tests stop at the first failing binary, and the replica check runs
only for a mutant the tests missed). Prints one line per mutant and the caught share, and
exits 1 if any survives.

    make mutants                           # every mutant, with the project's Python
    python3 bench/mutants.py adam          # only the mutants whose names contain this
    python3 bench/mutants.py --check       # only that every mutant still applies (seconds)

Every mutant's text must occur exactly once in its file: when the code moves, `--check` (which
`make test` runs) fails and names the mutant, so the list cannot rot unseen.

The scratch copies build in target/mutants, so the project's own build is left alone; the first
mutant builds the dependencies there once (a few minutes).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, file, text, replacement): the text must occur exactly once.
MUTANTS = [
    (
        "host-adam-epsilon-inside-the-root",
        "src/adam.rs",
        "*p += (self.neg_alpha * *m) / (v.sqrt() + self.epsilon);",
        "*p += (self.neg_alpha * *m) / (*v + self.epsilon).sqrt();",
    ),
    (
        "host-adam-first-moment-with-beta2",
        "src/adam.rs",
        "*m += self.one_minus_beta1 * (g - *m);",
        "*m += self.one_minus_beta2 * (g - *m);",
    ),
    (
        "fused-adam-epsilon-after-bias-correction",
        "src/adam.rs",
        "self.denom.g_add_scalar_(epsilon);",
        "self.denom.g_add_scalar_(epsilon * (1.0 - beta2.powf(t)).sqrt());",
    ),
    # Initialisation.
    (
        "glorot-on-generator-hidden",
        "src/config/mod.rs",
        "                init: activation.initialiser(),",
        "                init: if output == POINT_DIM { Init::GlorotUniform } else { activation.initialiser() },",
    ),
    # The iteration, written once for the native and the fused engine.
    (
        "fakes-labelled-real",
        "src/engine/iteration.rs",
        "(d_real, update_discriminator(b, fakes, Term::Fake, at_fake))",
        "(d_real, update_discriminator(b, fakes, Term::Real, at_fake))",
    ),
    (
        "generator-labels-not-inverted",
        "src/engine/iteration.rs",
        "let grad = b.loss_gradient(Term::Generator, &g);",
        "let grad = b.loss_gradient(Term::Fake, &g);",
    ),
    (
        "fake-update-before-real",
        "src/engine/iteration.rs",
        "            let d_real = update_discriminator(b, real, Term::Real, at_real);\n"
        "            (d_real, update_discriminator(b, fakes, Term::Fake, at_fake))",
        "            let d_fake = update_discriminator(b, fakes, Term::Fake, at_fake);\n"
        "            (update_discriminator(b, real, Term::Real, at_real), d_fake)",
    ),
    (
        "paired-anchor-from-the-first-round",
        "src/engine/iteration.rs",
        "let real = b.real(rules.d_steps - 1);",
        "let real = b.real(0);",
    ),
    (
        "fused-generator-step-moves-discriminator",
        "src/engine/fused.rs",
        "                engine.generator_opt.step(g.params(), g.grads());",
        "                engine.generator_opt.step(g.params(), g.grads());\n"
        "                let d = engine.discriminator.network();\n"
        "                engine.discriminator_opt.step(d.params(), d.grads());",
    ),
    # The native engine's backend.
    (
        "native-generator-step-moves-discriminator",
        "src/engine/native.rs",
        "                    adam_parts(self.plan.loops, p, m, v, &self.s.g_grads, self.plan.g_step);",
        "                    adam_parts(self.plan.loops, p, m, v, &self.s.g_grads, self.plan.g_step);\n"
        "                    let [p, m, v] = &mut self.w.d;\n"
        "                    adam_parts(self.plan.loops, p, m, v, &self.s.d_grads, self.plan.g_step);",
    ),
    (
        "native-paired-against-the-next-real-pack",
        "src/engine/native.rs",
        "z - b.values[j % n]",
        "z - b.values[(j + 1) % n]",
    ),
    (
        "native-packs-coordinate-major",
        "src/engine/native.rs",
        "out[(m * POINT_DIM as usize + c) * judged + j] = value;",
        "out[(c * pack + m) * judged + j] = value;",
    ),
    (
        "native-unpack-coordinate-major",
        "src/engine/native.rs",
        "*value = grad[(m * POINT_DIM as usize + c) * judged + j];",
        "*value = grad[(c * pack + m) * judged + j];",
    ),
    # The host loops' passes.
    (
        "host-another-tree-for-batch-sums",
        "src/host/mod.rs",
        "((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))",
        "((acc[0] + acc[2]) + (acc[1] + acc[3])) + ((acc[4] + acc[6]) + (acc[5] + acc[7]))",
    ),
    ("host-no-bias-gradient", "src/host/mod.rs", "bias_grads[o] = sum(g);", "bias_grads[o] = 0.0;"),
    (
        "host-no-activation-derivative",
        "src/host/mod.rs",
        "kernels::derive(loops.path, layer.activation, rows, &output[first * n..]);",
        "let _ = (&output, rows, first);",
    ),
    # Activations.
    (
        "relu-derivative-leaks",
        "src/activation.rs",
        "grad[i] = if output[i] > 0.0 { grad[i] } else { 0.0 };",
        "grad[i] = if output[i] > 0.0 { grad[i] } else { 0.1 * grad[i] };",
    ),
    (
        "tanh-derivative-unsquared",
        "src/activation.rs",
        "grad[i] *= 1.0 - output[i] * output[i];",
        "grad[i] *= 1.0 - output[i];",
    ),
    ("fused-leaky-hidden-activation", "src/activation.rs", "Activation::Relu => ys.relu_(),", "Activation::Relu => ys.leaky_relu_(),"),
    # Losses.
    (
        "bce-gradient-sign",
        "src/loss.rs",
        "(if term == Term::Fake { sigmoid } else { sigmoid - 1.0 }) / n",
        "(if term == Term::Fake { sigmoid } else { 1.0 - sigmoid }) / n",
    ),
    (
        "least-squares-real-label-one-half",
        "src/loss.rs",
        "Loss::LeastSquares => (if term == Term::Fake { z } else { z - 1.0 }) / n,",
        "Loss::LeastSquares => (if term == Term::Fake { z } else { z - 0.5 }) / n,",
    ),
    (
        "hinge-margin-zero",
        "src/loss.rs",
        "Term::Real => (if z < 1.0 { -1.0 } else { 0.0 }) / n,",
        "Term::Real => (if z < 0.0 { -1.0 } else { 0.0 }) / n,",
    ),
    # The discriminator's view.
    ("view-pull-reversed", "src/view.rs", "dy: three_digits(-gy * sy),", "dy: three_digits(gy * sy),"),
    (
        "view-paired-not-centred",
        "src/view.rs",
        "realness: thousandths(self.loss.realness(z - centre)),",
        "realness: thousandths(self.loss.realness(z)),",
    ),
    # The draws.
    (
        "fakes-latent-points-drawn-from-the-real-points-stream",
        "src/data.rs",
        "            (Tag::LatentHalf, rng::even(half * dim)),\n            (Tag::LatentFull",
        "            (Tag::Real, rng::even(half * dim)),\n            (Tag::LatentFull",
    ),
    # The penalties' second-order pass and spectral normalisation's chain rule.
    (
        "penalty-pass-without-the-second-derivative",
        "src/host/mod.rs",
        "                add(next, curvature);\n",
        "                let _ = &curvature;\n",
    ),
    (
        "spectral-chain-without-the-projection",
        "src/spectral.rs",
        "*x = (*x - along * vi) / sigma;",
        "*x = (*x - 0.0 * along * vi) / sigma;",
    ),
    # The defaults, as Keras defines them.
    ("adam-epsilon-1e-8", "src/config/mod.rs", "epsilon: 1e-7 }", "epsilon: 1e-8 }"),
    ("learning-rate-1.1e-3", "src/config/mod.rs", "learning_rate: 1e-3,", "learning_rate: 1.1e-3,"),
    ("adam-beta2-0.99", "src/config/mod.rs", "beta2: 0.999,", "beta2: 0.99,"),
]

TEST_ARGS = [
    "--lib", "--test", "engines", "--test", "learning", "--test", "checkpoint", "--test", "ensembles",
    "--test", "cli",
]


def python_with_torch():
    """The Python the replica check should use, or None when none has torch."""
    python = os.environ.get("PYTHON", "python3")
    found = subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    return python if found else None


def failing_tests(output):
    return sorted(set(re.findall(r"^test (\S+) \.\.\. FAILED", output, re.MULTILINE)))


def stale(mutants):
    """The mutants whose text does not occur exactly once in the current source, as messages."""
    found = []
    for name, path, text, _ in mutants:
        try:
            with open(os.path.join(ROOT, path)) as f:
                count = f.read().count(text)
        except OSError as e:
            found.append(f"mutant {name}: cannot read {path}: {e}")
            continue
        if count != 1:
            found.append(f"mutant {name}: its text occurs {count} times in {path}, not once")
    return found


def main():
    args = sys.argv[1:]
    check_only = "--check" in args
    wanted = [a for a in args if a != "--check"]
    mutants = [m for m in MUTANTS if not wanted or any(w in m[0] for w in wanted)]
    if not mutants:
        sys.exit(f"no mutant's name contains {' or '.join(wanted)}")
    problems = stale(mutants)
    if problems:
        sys.exit("\n".join(problems) + "\nthe code moved: update bench/mutants.py")
    if check_only:
        print(f"all {len(mutants)} mutants apply to the current source")
        return
    python = python_with_torch()
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "mutants"))
    # The source as it is now, so that edits made while this runs change nothing.
    base = tempfile.mkdtemp(prefix="gan1d-mutants-base-")
    for item in ("Cargo.toml", "Cargo.lock", "build.rs", "rustfmt.toml", "src", "tests", "benches", "bench", "models"):
        source = os.path.join(ROOT, item)
        copy = shutil.copytree if os.path.isdir(source) else shutil.copy2
        copy(source, os.path.join(base, item))
    survivors = []
    for name, path, text, replacement in mutants:
        scratch = os.path.join(tempfile.mkdtemp(prefix="gan1d-mutant-"), "gan1d")
        try:
            shutil.copytree(base, scratch)
            file = os.path.join(scratch, path)
            with open(file) as f:
                code = f.read()
            if code.count(text) != 1:
                sys.exit(f"mutant {name}: the text to change occurs {code.count(text)} times in {path}; update bench/mutants.py")
            with open(file, "w") as f:
                f.write(code.replace(text, replacement))
            # Stops at the first test binary that fails: that is enough to catch the mutant.
            build = subprocess.run(
                ["cargo", "test", "--release", *TEST_ARGS],
                cwd=scratch, env=env, capture_output=True, text=True,
            )
            output = build.stdout + build.stderr
            if "could not compile" in output:
                sys.exit(f"mutant {name} does not compile; update bench/mutants.py:\n{output[-3000:]}")
            caught_by = failing_tests(output)
            if build.returncode != 0 and not caught_by:
                # Cargo failed before any test could: a broken scratch copy, not a catch.
                sys.exit(f"mutant {name}: cargo test failed without a failing test:\n{output[-3000:]}")
            replica = "not run (no Python with torch)"
            if caught_by:
                replica = "not needed"
            elif python:
                built = subprocess.run(["cargo", "build", "--release"], cwd=scratch, env=env, capture_output=True)
                os.makedirs(os.path.join(scratch, "target", "release"), exist_ok=True)
                shutil.copy2(os.path.join(env["CARGO_TARGET_DIR"], "release", "gan1d"),
                             os.path.join(scratch, "target", "release", "gan1d"))
                check = subprocess.run(["bash", "bench/replica_check.sh"], cwd=scratch,
                                       env=dict(os.environ, PYTHON=python), capture_output=True)
                replica = "fails" if built.returncode == 0 and check.returncode != 0 else "passes"
            caught = bool(caught_by) or build.returncode != 0 or replica == "fails"
            if not caught:
                survivors.append(name)
            tests = ", ".join(caught_by) if caught_by else "none"
            print(f"{'caught' if caught else 'SURVIVED'}  {name}: failing tests: {tests}; replica check {replica}", flush=True)
        finally:
            shutil.rmtree(os.path.dirname(scratch), ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    caught = len(mutants) - len(survivors)
    print(f"{caught} of {len(mutants)} mutants caught ({100 * caught / len(mutants):.0f} %)")
    if survivors:
        print(f"survived: {', '.join(survivors)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
