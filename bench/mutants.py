"""Shows that `make test` catches one-detail changes to the algorithm.

Each mutant below changes one detail of the fast (fused) engine or of what it shares with the
reference engine. For each, a scratch copy of the source gets the change, and the tests that
depend on the algorithm run against it: the unit tests, tests/engines.rs (the engines compared
step by step), tests/learning.rs and tests/checkpoint.rs, then the autograd replica check
(bench/replica_check.sh) when a Python with torch is at hand. A mutant is caught when at least
one of them fails. Prints one line per mutant and exits 1 if any survives.

    make mutants                           # every mutant, with the project's Python
    python3 bench/mutants.py adam-epsilon  # only the mutants whose names contain this

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
    ("adam-epsilon-1e-8", "src/config.rs", "epsilon: 1e-7 }", "epsilon: 1e-8 }"),
    (
        "adam-epsilon-after-bias-correction",
        "src/adam.rs",
        "self.denom.g_add_scalar_(epsilon);",
        "self.denom.g_add_scalar_(epsilon * (1.0 - beta2.powf(t)).sqrt());",
    ),
    ("learning-rate-1.1e-3", "src/config.rs", "learning_rate: 1e-3,", "learning_rate: 1.1e-3,"),
    ("adam-beta2-0.99", "src/config.rs", "beta2: 0.999,", "beta2: 0.99,"),
    (
        "glorot-on-generator-hidden",
        "src/config.rs",
        "                init: activation.initialiser(),",
        "                init: if output == POINT_DIM { Init::GlorotUniform } else { activation.initialiser() },",
    ),
    (
        "composite-step-moves-discriminator",
        "src/engine/fused.rs",
        "self.generator_opt.step(self.generator.network().params(), self.generator.network().grads());",
        "self.generator_opt.step(self.generator.network().params(), self.generator.network().grads());\n"
        "        self.discriminator.network().backward(&d_acts, bce_grad(&logits, Label::Real), Need::Params);\n"
        "        self.discriminator_opt.step(self.discriminator.network().params(), self.discriminator.network().grads());",
    ),
    (
        "fakes-labelled-real",
        "src/engine/fused.rs",
        "update_discriminator(discriminator, opt, &fake, Label::Fake)",
        "update_discriminator(discriminator, opt, &fake, Label::Real)",
    ),
    (
        "generator-labels-not-inverted",
        "src/engine/fused.rs",
        "bce_grad(&logits, Label::Real), Need::Input)",
        "bce_grad(&logits, Label::Fake), Need::Input)",
    ),
    (
        "fake-update-before-real",
        "src/engine/fused.rs",
        "        let d_real = update_discriminator(discriminator, opt, batches.real, Label::Real);\n"
        "        let d_fake = update_discriminator(discriminator, opt, &fake, Label::Fake);",
        "        let d_fake = update_discriminator(discriminator, opt, &fake, Label::Fake);\n"
        "        let d_real = update_discriminator(discriminator, opt, batches.real, Label::Real);",
    ),
    ("no-bias-gradient", "src/model.rs", "grad.sum_intlist_out(&layer.grad_bias, 0, false, None)", "layer.grad_bias.shallow_clone().zero_()"),
    ("leaky-hidden-activation", "src/model.rs", "let _ = ys.relu_();", "let _ = ys.leaky_relu_();"),
    (
        "fakes-latent-points-drawn-from-the-real-points-stream",
        "src/data.rs",
        "(Tag::LatentHalf, rng::even(half * dim))",
        "(Tag::Real, rng::even(half * dim))",
    ),
]

TEST_ARGS = ["--lib", "--test", "engines", "--test", "learning", "--test", "checkpoint", "--test", "ensembles"]


def python_with_torch():
    """The Python the replica check should use, or None when none has torch."""
    python = os.environ.get("PYTHON", "python3")
    found = subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    return python if found else None


def failing_tests(output):
    return sorted(set(re.findall(r"^test (\S+) \.\.\. FAILED", output, re.MULTILINE)))


def main():
    wanted = sys.argv[1:]
    mutants = [m for m in MUTANTS if not wanted or any(w in m[0] for w in wanted)]
    python = python_with_torch()
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target", "mutants"))
    # The source as it is now, so that edits made while this runs change nothing.
    base = tempfile.mkdtemp(prefix="gan1d-mutants-base-")
    for item in ("Cargo.toml", "Cargo.lock", "build.rs", "rustfmt.toml", "src", "tests", "bench", "models"):
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
            build = subprocess.run(
                ["cargo", "test", "--release", *TEST_ARGS, "--no-fail-fast"],
                cwd=scratch, env=env, capture_output=True, text=True,
            )
            output = build.stdout + build.stderr
            if "could not compile" in output:
                sys.exit(f"mutant {name} does not compile; update bench/mutants.py:\n{output[-3000:]}")
            caught_by = failing_tests(output)
            replica = "not run (no Python with torch)"
            if python:
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
    if survivors:
        print(f"{len(survivors)} of {len(mutants)} mutants survived: {', '.join(survivors)}")
        sys.exit(1)
    print(f"all {len(mutants)} mutants caught")


if __name__ == "__main__":
    main()
