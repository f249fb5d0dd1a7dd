#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measures how far Tern's logits are from the reference data, and writes
the tolerances the numerics tests hold it to.

For every fixture model (data/models, reference data/reference) it runs
numerics-probe at every kernel level (scalar, avx2, avx512) with 1 and 2
threads and compares the teacher-forced logits with llama.cpp's:
  max_abs_logit_diff  the largest |logit difference| anywhere
  rms_logit_diff      the root mean square logit difference
  mean_kl             the mean over positions of KL(reference || Tern), nats
A correct engine differs from llama.cpp at random (float summation order,
then an activation quant that rounds the other way, carried on through the
cache), from a few positions on; a bug such as a wrong RMSNorm epsilon
shifts every position, which moves the mean measures (KL most: it grows
with the square of a shift) far more than the maximum. Each tolerance is
FACTOR times the largest value measured over the levels and thread counts
(each level sums in its own order; an AVX2-only machine computes what the
avx2 level does here), rounded up to two significant digits. Correct
variants that round differently (four were tried: reordered products in
RMSNorm, SwiGLU and softmax, cos in double) stayed within 1.7 times the
measured maximum and 1.4 times the measured mean KL.

Perplexity (llama.cpp's convention, context 128, on text/kjv_eval.txt):
tern-cli perplexity at every level, 2 threads; perplexity_rel is the
largest relative difference from llama.cpp's perplexity_ctx128, and its
tolerance FACTOR times that (at least PERPLEXITY_FLOOR, the rounding of
the four decimals both print).

Greedy tokens: llama.cpp's greedy continuation is fed to the engine token
by token, and at every step whose top-two margin (greedy_margins) is at
least greedy_min_margin, GREEDY_MARGIN_FACTOR times the largest |logit
difference| measured, the engine's own greedy choice must be llama.cpp's
token; at a closer step a correct engine may pick the other one, and the
check goes on after it with llama.cpp's token. The script checks that every
run does so.

The margin models (data/margin, made by make-margin-model.py) are measured
the same way against their float64 references.

Writes data/reference/tern-measured.json and data/margin/tern-measured.json
(or only the one named: reference, margin). Needs an AVX-512 machine (every
level) and a build of Tern; run from the tests/ folder with Debian's python3
and python3-numpy:
  /usr/bin/python3 tools/measure-numerics.py ../build [reference|margin]
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

LEVELS = ("scalar", "avx2", "avx512")
THREADS = (1, 2)
FACTOR = 2.0
GREEDY_MARGIN_FACTOR = 3.0
PERPLEXITY_FLOOR = 1e-5
# Tolerances never below float32 rounding of logits of this size.
FLOORS = {"max_abs_logit_diff": 1e-4, "rms_logit_diff": 1e-5, "mean_kl": 1e-10}


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def metrics(ref, got):
    ref, got = ref.astype(np.float64), got.astype(np.float64)
    d = got - ref
    lr, lg = log_softmax(ref), log_softmax(got)
    kl = (np.exp(lr) * (lr - lg)).sum(-1)
    return {
        "max_abs_logit_diff": float("%.4g" % np.abs(d).max()),
        "rms_logit_diff": float("%.4g" % np.sqrt((d * d).mean())),
        "mean_kl": float("%.4g" % kl.mean()),
    }


def round_up(x):
    """x rounded up to two significant digits."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return float("%.3g" % (math.ceil(x / step - 1e-9) * step))


def probe(build, model, level, threads, tokens, greedy_prompt, continuation, n_vocab):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.f32")
        args = [os.path.join(build, "tests", "numerics-probe"), model, "--kernel", level, "--threads", str(threads),
                "--tokens", ",".join(map(str, tokens)), "--logits", out]
        args += ["--greedy-prompt", ",".join(map(str, greedy_prompt)),
                 "--continuation", ",".join(map(str, continuation))]
        run = subprocess.run(args, capture_output=True, text=True)
        if run.returncode:
            sys.exit("%s at %s: %s" % (model, level, run.stderr.strip()))
        logits = np.fromfile(out, "<f4").reshape(len(tokens), n_vocab)
    return logits, json.loads(run.stdout)["argmax"]


def measure(build, model, ref_logits, tokens, greedy_prompt, greedy_ref):
    """Every run's metrics, the largest of each, and the tolerances."""
    runs, worst = {}, {k: 0.0 for k in FLOORS}
    for level in LEVELS:
        for threads in THREADS:
            got, argmax = probe(build, model, level, threads, tokens, greedy_prompt, greedy_ref,
                                ref_logits.shape[1])
            m = metrics(ref_logits, got)
            runs["%s/%d" % (level, threads)] = dict(m, greedy_differs=[i for i, (a, b) in
                                                                       enumerate(zip(argmax, greedy_ref)) if a != b])
            worst = {k: max(worst[k], m[k]) for k in worst}
    tolerance = {k: round_up(max(FACTOR * worst[k], FLOORS[k])) for k in worst}
    return runs, worst, tolerance


def perplexity(build, model, level):
    args = [os.path.join(build, "app", "tern-cli"), "perplexity", model, "--file", "data/text/kjv_eval.txt",
            "--ctx", "128", "--threads", "2"]
    run = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, TERN_KERNEL=level))
    if run.returncode:
        sys.exit("%s at %s: %s" % (model, level, run.stderr.strip()))
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("PPL = "), last
    return float(last[len("PPL = "):])


def perplexity_rel(build, model, expected):
    """The largest relative difference from @expected over the levels."""
    worst = 0.0
    for level in LEVELS:
        worst = max(worst, abs(perplexity(build, model, level) - expected) / expected)
    return float("%.4g" % worst)


def fixture_models(build):
    index = json.load(open("data/reference/index.json"))
    out = {"about": "Tern's measured difference from llama.cpp on each fixture model and the tolerances the "
                    "reference tests apply (made by tools/measure-numerics.py)",
           "factor": FACTOR, "greedy_margin_factor": GREEDY_MARGIN_FACTOR, "levels": list(LEVELS),
           "threads": list(THREADS), "models": {}}
    for entry in index:
        name = entry["model"][:-len(".gguf")]
        ref = json.load(open("data/reference/%s.json" % name))
        logits = np.fromfile("data/reference/%s.logits.f32" % name, "<f4").reshape(-1, ref["n_vocab"])
        runs, worst, tolerance = measure(build, "data/models/%s.gguf" % name, logits, ref["prompt_tokens"],
                                         ref["greedy_prompt_tokens"], ref["greedy_tokens"])
        margins = ref["greedy_margins"]
        min_margin = round_up(GREEDY_MARGIN_FACTOR * worst["max_abs_logit_diff"])
        checked = [i for i, m in enumerate(margins) if m >= min_margin]
        for run, m in runs.items():
            wrong = [i for i in m["greedy_differs"] if i in checked or i < ref["greedy_check_tokens"]]
            if wrong:
                sys.exit("%s %s: greedy token %d differs from llama.cpp's, margin %.3g" %
                         (name, run, wrong[0], margins[wrong[0]]))
        worst["perplexity_rel"] = perplexity_rel(build, "data/models/%s.gguf" % name, entry["perplexity_ctx128"])
        tolerance["perplexity_rel"] = round_up(max(FACTOR * worst["perplexity_rel"], PERPLEXITY_FLOOR))
        out["models"][name] = {"measured": worst, "tolerance": tolerance, "greedy_min_margin": min_margin,
                               "greedy_steps_checked": len(checked), "runs": runs}
        print("%-20s max %.4f rms %.4f kl %.3g  perplexity %.2g  greedy steps checked %d of %d" %
              (name, worst["max_abs_logit_diff"], worst["rms_logit_diff"], worst["mean_kl"], worst["perplexity_rel"],
               len(checked), len(margins)))
    return out


def margin_models(build):
    ref = json.load(open("data/margin/margin.json"))
    out = {"about": "Tern's measured difference from the float64 reference on each margin model and the tolerances "
                    "the margin tests apply (made by tools/measure-numerics.py)",
           "factor": FACTOR, "levels": list(LEVELS), "threads": list(THREADS), "types": {}}
    for t, r in ref["types"].items():
        tokens = ref["prompt"] + r["greedy"]
        logits = np.fromfile("data/margin/margin-%s.logits.f32" % t, "<f4").reshape(len(tokens), ref["n_vocab"])
        runs, worst, tolerance = measure(build, "data/margin/margin-%s.gguf" % t, logits, tokens, ref["prompt"],
                                         r["greedy"])
        for run, m in runs.items():
            if m["greedy_differs"]:
                sys.exit("margin-%s %s: greedy token %d differs from the reference" % (t, run, m["greedy_differs"][0]))
        out["types"][t] = {"measured": worst, "tolerance": tolerance, "runs": runs}
        print("margin-%-6s max %.5f rms %.5f kl %.3g  (min margin %.3f)" %
              (t, worst["max_abs_logit_diff"], worst["rms_logit_diff"], worst["mean_kl"], min(r["margins"])))
    return out


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "../build")
    for which, make in (("reference", fixture_models), ("margin", margin_models)):
        if len(sys.argv) <= 2 or sys.argv[2] == which:
            with open("data/%s/tern-measured.json" % which, "w") as f:
                json.dump(make(build), f, indent=1)
                f.write("\n")


main()
