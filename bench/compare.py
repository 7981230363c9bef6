#!/usr/bin/env python3
"""Side-by-side table of xkeras_bench and torch_bench.py results, with the machine bound of every case and
the targets of issue #7. Standard library only; prints markdown on stdout.

  compare.py --cases bench/cases.json --ours ours.json --torch torch.json --peak peak.json
             [--ours-1thread ours1.json] [--rss MODEL OURS_TIME_V TORCH_TIME_V]...

peak.json is xkeras_fma_peak's output (its 2-thread peak is the one used); the --rss files are the stderr
of `/usr/bin/time -v` around one run of each benchmark on that model.

Machine bound of a case (../shared/bench/README.md): max(3 x forward FLOPs / FMA peak,
4 x (3|x| + 2|y| + 3|w|) bytes / 75 GB/s).
"""
import argparse
import json
import math
import re
import sys

BANDWIDTH = 75e9  # bytes/s, 2 threads (README: copy 60 GB/s, add-scale 90 GB/s)

# Issue #7's targets: ratio = PyTorch time / our time at 2 threads.
RATIO_10 = {"depthwise2d", "upsampling2d_bilinear", "conv2d_mnist_a"}
RATIO_3 = {"separable1d", "conv2d_transpose", "conv3d_transpose", "separable2d"}
DENSE_60 = {"conv2d_cifar", "conv2d_stride2", "conv2d_dilated", "conv2d_mnist_b", "conv1d_seq", "conv1d_causal",
            "conv3d_volume"}
MODEL_RATIO = 1.5
BOUND_AIM = 4.0


def fail(message):
    sys.exit("compare.py: " + message)


def load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {what} '{path}': {e}")


def int_list(config, key, rank, fallback):
    v = config.get(key, [fallback] * rank)
    return [v] * rank if isinstance(v, int) else list(v)


def case_sizes(case):
    """(forward FLOPs, |x|, |y|, |w|) of a case; FLOPs and output sizes exactly as torch_bench.py derives them."""
    layer, c, shape = case["layer"], case["config"], case["input"]
    batch, spatial, chans = shape[0], shape[1:-1], shape[-1]
    nd = len(spatial)
    k = int_list(c, "kernel_size", nd, 1)
    s = int_list(c, "strides", nd, 1)
    d = int_list(c, "dilation_rate", nd, 1)
    pad = c.get("padding", "valid")
    dm = c.get("depth_multiplier", 1)
    bias = c.get("use_bias", True)
    out = []
    for i, n in enumerate(spatial):
        if layer.endswith("Transpose"):
            out.append(n * s[i] if pad == "same" else (n - 1) * s[i] + k[i])
        elif pad == "same":
            out.append(math.ceil(n / s[i]))
        elif pad == "causal":
            out.append(n)
        else:
            out.append((n - (k[i] - 1) * d[i] - 1) // s[i] + 1)
    kk = math.prod(k)
    x = math.prod(shape)
    if layer in ("Conv1D", "Conv2D", "Conv3D"):
        f = c["filters"]
        flops = 2 * batch * math.prod(out) * f * kk * chans
        y, w = batch * math.prod(out) * f, kk * chans * f + (f if bias else 0)
    elif layer in ("DepthwiseConv1D", "DepthwiseConv2D"):
        flops = 2 * batch * math.prod(out) * chans * dm * kk
        y, w = batch * math.prod(out) * chans * dm, kk * chans * dm + (chans * dm if bias else 0)
    elif layer in ("SeparableConv1D", "SeparableConv2D"):
        f = c["filters"]
        flops = 2 * batch * math.prod(out) * chans * dm * (kk + f)
        y, w = batch * math.prod(out) * f, kk * chans * dm + chans * dm * f + (f if bias else 0)
    elif layer.endswith("Transpose"):
        f = c["filters"]
        flops = 2 * batch * math.prod(spatial) * chans * kk * f
        y, w = batch * math.prod(out) * f, kk * chans * f + (f if bias else 0)
    elif layer.startswith("UpSampling"):
        size = int_list(c, "size", nd, 2)
        flops, w = 0, 0
        y = batch * math.prod(n * z for n, z in zip(spatial, size)) * chans
    else:
        fail(f"case '{case['name']}': no sizes for layer '{layer}'")
    return flops, x, y, w


def bound_seconds(case, peak_flops):
    flops, x, y, w = case_sizes(case)
    return max(3 * flops / peak_flops, 4 * (3 * x + 2 * y + 3 * w) / BANDWIDTH)


def max_rss_kb(path):
    try:
        text = open(path).read()
    except OSError as e:
        fail(f"cannot read '{path}': {e}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not m:
        fail(f"'{path}' holds no 'Maximum resident set size' line (expected /usr/bin/time -v output)")
    return int(m.group(1))


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def verdict(ok):
    return "holds" if ok else "**misses**"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--ours", required=True, help="xkeras_bench JSON at 2 threads")
    ap.add_argument("--torch", required=True, help="torch_bench.py JSON at 2 threads")
    ap.add_argument("--peak", required=True, help="xkeras_fma_peak JSON")
    ap.add_argument("--ours-1thread", help="xkeras_bench JSON at 1 thread (adds the scaling column)")
    ap.add_argument("--rss", nargs=3, action="append", default=[], metavar=("MODEL", "OURS", "TORCH"),
                    help="/usr/bin/time -v outputs of one run of each benchmark on MODEL")
    a = ap.parse_args()

    spec = load_json(a.cases, "cases file")
    ours = load_json(a.ours, "our results")
    torch = load_json(a.torch, "PyTorch results")
    peak_json = load_json(a.peak, "FMA peak")
    ours1 = load_json(a.ours_1thread, "our 1-thread results") if a.ours_1thread else None
    peak = peak_json["gflops_2_threads"] * 1e9

    lines = []
    targets = []  # (what, target, measured, holds)
    head = ["case", "ours ms", "PyTorch ms", "ratio (PyTorch/ours)", "our GFLOP/s", "% of FMA peak",
            "machine bound ms", "ours/bound", "PyTorch/bound"]
    if ours1:
        head += ["ours 1-thread ms", "2-thread speedup"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for case in spec["cases"]:
        name = case["name"]
        if name not in ours or name not in torch:
            continue
        o, t = ours[name]["ms"], torch[name]["ms"]
        ratio = t / o
        gflops = ours[name].get("gflops")
        pct = None if gflops is None else 100 * gflops * 1e9 / peak
        bound = bound_seconds(case, peak) * 1e3
        row = [name, fmt(o, 2), fmt(t, 2), fmt(ratio, 2), fmt(gflops), fmt(pct), f"{bound:.3g}", fmt(o / bound),
               fmt(t / bound)]
        if ours1:
            if name in ours1:
                row += [fmt(ours1[name]["ms"], 2), fmt(ours1[name]["ms"] / o, 2)]
                targets.append((f"{name}: 2 threads not slower than 1", ">= 1.0x", f"{ours1[name]['ms'] / o:.2f}x",
                                ours1[name]["ms"] / o >= 1.0))
            else:
                row += ["-", "-"]
        lines.append("| " + " | ".join(row) + " |")
        need = 10 if name in RATIO_10 else 3 if name in RATIO_3 else 1
        targets.append((f"{name}: ratio", f">= {need}", f"{ratio:.2f}", ratio >= need))
        if name in DENSE_60:
            targets.append((f"{name}: % of FMA peak", ">= 60%", f"{pct:.1f}%", pct >= 60))
        targets.append((f"{name}: ours/bound (aim)", f"<= {BOUND_AIM:g}", f"{o / bound:.1f}", o / bound <= BOUND_AIM))

    model_lines = []
    for mdl in spec.get("models", []):
        name = mdl["name"]
        if name not in ours or name not in torch:
            continue
        o, t = ours[name], torch[name]
        ratio = o["samples_per_s"] / t["samples_per_s"]
        row = [f"{name} (batch {mdl['batch']})", fmt(o["ms"], 2), fmt(t["ms"], 2), fmt(o["samples_per_s"]),
               fmt(t["samples_per_s"]), fmt(ratio, 2)]
        if ours1 and name in ours1:
            row += [fmt(ours1[name]["ms"], 2), fmt(ours1[name]["ms"] / o["ms"], 2)]
            targets.append((f"{name}: 2 threads not slower than 1", ">= 1.0x", f"{ours1[name]['ms'] / o['ms']:.2f}x",
                            ours1[name]["ms"] / o["ms"] >= 1.0))
        model_lines.append("| " + " | ".join(row) + " |")
        targets.append((f"{name}: samples/s vs PyTorch", f">= {MODEL_RATIO}x", f"{ratio:.2f}x", ratio >= MODEL_RATIO))
        if "sequential_ms" in o:
            # The graph against the same layers as a Sequential (without the shortcut's Add): the graph
            # executor should cost nothing beyond the Add itself.
            over = o["ms"] / o["sequential_ms"]
            targets.append((f"{name}: graph step / the same layers as a Sequential", "<= 1.05x", f"{over:.3f}x",
                            over <= 1.05))
    if model_lines:
        head = ["model", "ours ms", "PyTorch ms", "ours samples/s", "PyTorch samples/s", "ratio (ours/PyTorch)"]
        if ours1:
            head += ["ours 1-thread ms", "2-thread speedup"]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + model_lines

    if a.rss:
        lines += ["", "| peak RSS of one training run | ours MB | PyTorch MB | ours/PyTorch |", "|---|---|---|---|"]
        for model, ours_file, torch_file in a.rss:
            o_kb, t_kb = max_rss_kb(ours_file), max_rss_kb(torch_file)
            lines.append(f"| {model} | {o_kb / 1024:.0f} | {t_kb / 1024:.0f} | {o_kb / t_kb:.2f} |")
            targets.append((f"{model}: peak RSS vs PyTorch", "<= 1.0x", f"{o_kb / t_kb:.2f}x", o_kb <= t_kb))

    lines += ["", f"FMA peak used: {peak_json['gflops_2_threads']:.1f} GFLOP/s at 2 threads "
              f"({peak_json['gflops_1_thread']:.1f} at 1 thread, {peak_json.get('isa', '?')}); "
              f"memory bandwidth {BANDWIDTH / 1e9:.0f} GB/s.", ""]
    held = sum(1 for *_, ok in targets if ok)
    lines += [f"Targets of issue #7: {held} of {len(targets)} hold.", "",
              "| target | wanted | measured | |", "|---|---|---|---|"]
    lines += [f"| {what} | {want} | {got} | {verdict(ok)} |" for what, want, got, ok in targets]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
