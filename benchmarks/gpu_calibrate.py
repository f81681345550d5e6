"""Measure real GPU energy per token of LSTM/EGRU inference and compare it with neurosim.gpu.

Run on a machine with an NVIDIA GPU, PyTorch with CUDA, and pynvml
(``pip install nvidia-ml-py``), from the repository root::

    python benchmarks/gpu_calibrate.py                                   # spec picked from the device name
    python benchmarks/gpu_calibrate.py --trace traces/ptb_lstm.npz --batch 1,64 --out runs/calib_a100.json
    python benchmarks/gpu_calibrate.py --model egru --hidden 1024,1024 --input 512 --cuda-graph

Method (docs/calibration.md):

1. Idle power: the board power (``nvmlDeviceGetPowerUsage``) averaged over a
   few seconds right after a warm-up, so the GPU is idle but still in P0.
2. For every batch size: run the recurrent layers token by token (one step =
   one call, as the model assumes), warm up, then read
   ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since driver load) before and
   after at least ``--seconds`` of steps, with ``torch.cuda.synchronize()`` at
   both ends. Energy per token = energy / (steps x batch); time per token
   likewise; latency = wall time of one step.
3. Run :func:`neurosim.gpu.simulate_gpu` on the same sizes and print model vs
   measurement side by side, with the measured idle power as a suggested
   ``static_power_w``.

The weights are dense on the GPU (a trace's weight masks only zero some of
them), as in the model's default ``weight_format: dense``. The EGRU cell here
is a dense GRU-style cell with a threshold output (3 gates): a dense GPU does
the same work whatever the activity, which is what the model assumes.

Without CUDA, torch or pynvml the script prints what is missing and exits with
status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXIT_NO_GPU = 2


def _requirements() -> tuple[object, object, str | None]:
    """(torch, pynvml, None) or (None, None, reason)."""
    missing = []
    try:
        import torch
    except ImportError:
        torch = None
        missing.append("PyTorch (pip install torch)")
    try:
        import pynvml
    except ImportError:
        pynvml = None
        missing.append("pynvml (pip install nvidia-ml-py)")
    if torch is not None and not torch.cuda.is_available():
        missing.append("a CUDA device visible to PyTorch (torch.cuda.is_available() is False)")
    if pynvml is not None:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            missing.append(f"a working NVML ({exc})")
    if missing:
        return None, None, "; ".join(missing)
    return torch, pynvml, None


# ----------------------------------------------------------------------------- models


def build_model(torch, kind: str, input_size: int, hidden_sizes: list[int], dtype, device):
    """Stacked recurrent layers as a list of step functions over (x, state) -> (y, state)."""
    nn = torch.nn

    class LSTMLayer(nn.Module):
        def __init__(self, i, h):
            super().__init__()
            self.cell = nn.LSTMCell(i, h)

        def init_state(self, batch):
            z = torch.zeros(batch, self.cell.hidden_size, device=device, dtype=dtype)
            return (z, z.clone())

        def forward(self, x, state):
            h, c = self.cell(x, state)
            return h, (h, c)

    class EGRULayer(nn.Module):
        """Dense EGRU-style cell: GRU gates, state c, thresholded output y (3 gate matrices)."""

        def __init__(self, i, h):
            super().__init__()
            self.w_in = nn.Linear(i, 3 * h)
            self.w_rec = nn.Linear(h, 3 * h, bias=False)
            self.threshold = nn.Parameter(torch.zeros(h))
            self.h = h

        def init_state(self, batch):
            z = torch.zeros(batch, self.h, device=device, dtype=dtype)
            return (z, z.clone())

        def forward(self, x, state):
            c, y = state
            u, r, z = (self.w_in(x) + self.w_rec(y)).chunk(3, dim=1)
            u, r = torch.sigmoid(u), torch.sigmoid(r)
            c = u * torch.tanh(z + r * c) + (1 - u) * c
            y = c * (c > self.threshold)
            return y, (c, y)

    layer_cls = LSTMLayer if kind == "lstm" else EGRULayer
    layers, prev = [], input_size
    for h in hidden_sizes:
        layers.append(layer_cls(prev, h))
        prev = h
    return nn.ModuleList(layers).to(device=device, dtype=dtype).eval()


def make_step(torch, model, x, states):
    """One recurrent step over all layers, updating ``states`` in place (graph-capturable)."""

    def step():
        h = x
        for l, layer in enumerate(model):
            h, new = layer(h, states[l])
            for dst, src in zip(states[l], new):
                dst.copy_(src)
        return h

    return step


# ----------------------------------------------------------------------------- measuring


def idle_power_w(pynvml, handle, seconds: float) -> float:
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples.append(pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)  # mW -> W
        time.sleep(0.05)
    return sum(samples) / len(samples)


def measure(torch, pynvml, handle, step, batch: int, seconds: float, warmup: int) -> dict:
    """Run ``step`` for at least ``seconds``; energy from the NVML counter, time from the wall clock."""
    with torch.inference_mode():
        for _ in range(warmup):
            step()
        torch.cuda.synchronize()
        start_evt, end_evt = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start_evt.record()
        step()
        end_evt.record()
        torch.cuda.synchronize()
        one_step_s = start_evt.elapsed_time(end_evt) / 1000.0
        chunk = max(1, int(0.05 / max(one_step_s, 1e-6)))
        e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # mJ
        t0 = time.perf_counter()
        steps = 0
        while True:
            for _ in range(chunk):
                step()
            steps += chunk
            torch.cuda.synchronize()
            if time.perf_counter() - t0 >= seconds:
                break
        t1 = time.perf_counter()
        e1 = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    wall = t1 - t0
    energy_j = (e1 - e0) / 1000.0
    tokens = steps * batch
    return {
        "batch": batch,
        "steps": steps,
        "seconds": wall,
        "energy_j": energy_j,
        "mean_power_w": energy_j / wall,
        "time_s_per_token": wall / tokens,
        "latency_s_per_token": wall / steps,
        "energy_pj_per_token": energy_j / tokens * 1e12,
    }


# ----------------------------------------------------------------------------- model side


def model_prediction(arch_path: Path, trace, batch: int, precision: str, overrides: list[str]) -> dict:
    sys.path.insert(0, str(REPO))
    from neurosim.arch import load_arch
    from neurosim.gpu import simulate_gpu

    arch = load_arch(arch_path, overrides)
    r = simulate_gpu(arch, trace, batch=batch, precision=precision, weight_format="dense", kernel="dense")
    return {
        "time_s_per_token": r.time_s_per_token,
        "latency_s_per_token": r.latency_s_per_token,
        "energy_pj_per_token": r.energy_pj_per_token,
        "energy_breakdown_pj_per_token": r.energy_breakdown_pj_per_token,
        "bound": r.meta["bound"],
        "weights_resident": r.meta["weights_resident"],
    }


def pick_arch(device_name: str, given: str | None) -> Path:
    if given:
        return Path(given)
    name = device_name.upper()
    for key, spec in (("H100", "gpu_h100.yaml"), ("A100", "gpu_a100.yaml")):
        if key in name:
            return REPO / "arch_specs" / spec
    raise SystemExit(f"gpu_calibrate: no shipped spec for device {device_name!r}; pass --arch SPEC.yaml")


def load_sizes(args):
    """(kind, trace) from --trace or from --model/--input/--hidden (a dense synthetic trace)."""
    sys.path.insert(0, str(REPO))
    from neurosim.trace import load_trace, synthetic

    if args.trace:
        trace = load_trace(args.trace, tokens=args.model_tokens)
        kind = "lstm" if trace.gates == 4 else "egru"
        return kind, trace
    hidden = [int(h) for h in args.hidden.split(",")]
    gates = 4 if args.model == "lstm" else 3
    trace = synthetic(
        hidden,
        input_size=args.input,
        activity=1.0,
        weight_sparsity=0.0,
        tokens=args.model_tokens,
        gates=gates,
        vocab_size=args.vocab,
    )
    return args.model, trace


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default=None, help="GPU spec to compare with (default: from the device name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec key")
    p.add_argument("--trace", default=None, help="take model sizes from a trace (gates 4: LSTM, 3: EGRU)")
    p.add_argument("--model", choices=["lstm", "egru"], default="lstm")
    p.add_argument("--input", type=int, default=512, help="input (embedding) size without --trace")
    p.add_argument("--hidden", default="1024,1024", help="hidden sizes without --trace, comma separated")
    p.add_argument("--vocab", type=int, default=10000)
    p.add_argument("--batch", default="1,64", help="batch sizes, comma separated")
    p.add_argument("--precision", choices=["fp32", "tf32", "fp16", "bf16"], default="fp16")
    p.add_argument("--seconds", type=float, default=5.0, help="minimum measured time per batch size")
    p.add_argument("--warmup", type=int, default=200, help="warm-up steps per batch size")
    p.add_argument("--idle-seconds", type=float, default=3.0)
    p.add_argument("--cuda-graph", action="store_true", help="replay each step as a CUDA graph (less launch overhead)")
    p.add_argument("--model-tokens", type=int, default=64, help="trace steps given to the model")
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--out", default=None, help="write all figures as JSON")
    args = p.parse_args(argv)

    torch, pynvml, missing = _requirements()
    if missing:
        print(
            f"gpu_calibrate: cannot measure on this machine; missing: {missing}. "
            "Run it on a machine with an NVIDIA GPU, CUDA PyTorch and nvidia-ml-py (see docs/calibration.md).",
            file=sys.stderr,
        )
        return EXIT_NO_GPU

    batches = [int(b) for b in args.batch.split(",") if b.strip()]
    kind, trace = load_sizes(args)
    dtype = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
        args.precision
    ]
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    device = torch.device("cuda", args.device)
    handle = pynvml.nvmlDeviceGetHandleByIndex(args.device)
    name = pynvml.nvmlDeviceGetName(handle)
    name = name.decode() if isinstance(name, bytes) else name
    arch_path = pick_arch(name, args.arch)
    try:
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except pynvml.NVMLError as exc:
        print(f"gpu_calibrate: {name} has no NVML energy counter ({exc}); needs Volta or newer", file=sys.stderr)
        return EXIT_NO_GPU

    model = build_model(torch, kind, trace.input_size, trace.hidden_sizes, dtype, device)
    report = {
        "device": name,
        "driver": pynvml.nvmlSystemGetDriverVersion(),
        "torch": torch.__version__,
        "arch_spec": str(arch_path),
        "overrides": args.set,
        "model": kind,
        "input_size": trace.input_size,
        "hidden_sizes": trace.hidden_sizes,
        "precision": args.precision,
        "cuda_graph": args.cuda_graph,
        "runs": [],
    }

    # warm the GPU to P0, then read idle power
    with torch.inference_mode():
        x = torch.randn(max(batches), trace.input_size, device=device, dtype=dtype)
        states = [layer.init_state(max(batches)) for layer in model]
        warm = make_step(torch, model, x, states)
        for _ in range(args.warmup):
            warm()
        torch.cuda.synchronize()
    report["idle_power_w"] = idle_power_w(pynvml, handle, args.idle_seconds)

    for batch in batches:
        with torch.inference_mode():
            x = torch.randn(batch, trace.input_size, device=device, dtype=dtype)
            states = [layer.init_state(batch) for layer in model]
            step = make_step(torch, model, x, states)
            if args.cuda_graph:
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    for _ in range(3):
                        step()
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    step()
                step = graph.replay
        measured = measure(torch, pynvml, handle, step, batch, args.seconds, args.warmup)
        measured["dynamic_pj_per_token"] = (
            (measured["energy_j"] - report["idle_power_w"] * measured["seconds"]) / (measured["steps"] * batch) * 1e12
        )
        predicted = model_prediction(arch_path, trace, batch, args.precision, args.set)
        report["runs"].append({"batch": batch, "measured": measured, "model": predicted})

    print(
        f"device {name}; spec {arch_path.name}; {kind} {trace.input_size}->{trace.hidden_sizes} {args.precision}"
        f"{' (CUDA graph)' if args.cuda_graph else ''}"
    )
    print(f"idle power {report['idle_power_w']:.1f} W (suggested static_power_w)")
    header = f"{'batch':>6} {'meas uJ/tok':>12} {'model uJ/tok':>12} {'ratio':>7} {'meas us/step':>13} {'model us/step':>14} {'meas W':>8}"
    print(header)
    for run in report["runs"]:
        m, d = run["measured"], run["model"]
        ratio = d["energy_pj_per_token"] / m["energy_pj_per_token"] if m["energy_pj_per_token"] > 0 else float("nan")
        print(
            f"{run['batch']:>6} {m['energy_pj_per_token'] * 1e-6:>12.3f} {d['energy_pj_per_token'] * 1e-6:>12.3f} "
            f"{ratio:>7.2f} {m['latency_s_per_token'] * 1e6:>13.2f} {d['latency_s_per_token'] * 1e6:>14.2f} "
            f"{m['mean_power_w']:>8.1f}"
        )
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
