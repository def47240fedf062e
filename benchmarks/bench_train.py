"""Training speed and memory against PyTorch CPU and ConvNetJS, in one run, 1 thread for everyone, float32.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_train.py [--batches 100] [--repeat 3]
        [--clock wall|cpu]
    python3 benchmarks/bench_train.py --quick        # a smoke test: a few batches, well under a minute

1. Seconds per epoch of the seed network (``cnn_core.chain.MNIST_LAYERS``, 93,322 parameters) on the 8,000
   training digits: batch 64, RMSprop 1e-3 (rho 0.9, epsilon 1e-7). Kernel Lens runs ``Chain.fit`` under
   threadpoolctl's ``threadpool_limits(1)``; PyTorch runs the same loop (forward, loss, backward, step, the
   batch's accuracy) with ``torch.set_num_threads(1)``, its best single-thread setting, in both memory layouts.
   Each repeat trains a fresh network for ``--batches`` batches; the median repeat is scaled to an epoch
   (125 batches of 64).
2. Per layer, milliseconds per batch of 64 for the forward and the backward pass: Kernel Lens'
   ``_layers.forward`` / ``_layers.backward`` and the same PyTorch modules (conv + ReLU counted together, as a
   Kernel Lens conv2d layer with ``activation="relu"``), forward with autograd recording, backward timed alone.
3. Training examples per second of ConvNetJS's MNIST demo network (conv 5x5x8 pad 2 ReLU, pool 2, conv 5x5x16
   pad 2 ReLU, pool 3, softmax 10; 24x24 crops) with the demo's trainer (Adadelta, batch 20, l2 decay 0.001), in
   node, against the same network trained by ``Chain.fit`` (batch 20; Kernel Lens has no Adadelta, so RMSprop,
   whose cost per weight is alike). Both see the same centre crops. ConvNetJS computes in float64 (its
   ``Vol`` is a ``Float64Array``) and is not committed here; get it once with

       cd /tmp && npm pack convnetjs@0.3.0                                # the latest version, MIT
       mkdir -p convnetjs && tar xzf convnetjs-0.3.0.tgz -C convnetjs     # /tmp/convnetjs/package

   Without node or the package the row says so and is skipped.
4. Peak memory of a child process that imports the engine, loads the digits and fits the seed network for one
   epoch: its ``VmHWM`` from ``/proc/self/status`` (``ru_maxrss`` elsewhere). On Linux the child's ``ru_maxrss``
   would report the parent's peak (PyTorch loaded) instead: the kernel carries it into the child across exec.

``--clock cpu`` times the process' CPU time instead of the wall clock (sections 1 and 2): at one thread it is
the same work, but it does not count the time the process waits for a core, so it is the steadier measure on
a shared machine. ConvNetJS runs in node and is always timed by the wall clock.

Ratios are Kernel Lens divided by the peer (time: below 1 means Kernel Lens is faster). PyTorch is optional:
without it its rows print "-". Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from cnn_core import _layers, optim
from cnn_core.chain import MNIST_LAYERS, Chain
from cnn_core.datasets import load_digits
from cnn_core.grad import cross_entropy_backward
from cnn_core.ops import cross_entropy

try:
    import torch
    from torch import nn
except ImportError:
    torch = None

BATCH = 64
LEARNING_RATE = 1e-3
CONVNETJS_BATCH = 20
CONVNETJS_LAYERS: list[dict[str, Any]] = [
    {"type": "conv2d", "filters": 8, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 16, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "max_pool2d", "pool_size": 3, "strides": 3},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
MEMORY_TARGET_MB = 500
SPEED_TARGET = 1.5
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter
clock_name = "wall"

# The ConvNetJS driver: the demo's network and trainer, trained one example at a time as the demo does.
CONVNETJS_DRIVER = """\
"use strict";
const fs = require("fs");
const [lib, dataPath, labelPath, countArg, repeatArg, batchArg] = process.argv.slice(2);
const convnetjs = require(lib);
const count = Number(countArg), repeat = Number(repeatArg), batchSize = Number(batchArg);
const bytes = fs.readFileSync(dataPath);
const pixels = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
const labels = fs.readFileSync(labelPath);
const side = 24;
const vols = [];
for (let i = 0; i < count; i++) {
  const vol = new convnetjs.Vol(side, side, 1, 0.0);
  for (let j = 0; j < side * side; j++) vol.w[j] = pixels[i * side * side + j];
  vols.push(vol);
}
const net = new convnetjs.Net();
net.makeLayers([
  {type: "input", out_sx: side, out_sy: side, out_depth: 1},
  {type: "conv", sx: 5, filters: 8, stride: 1, pad: 2, activation: "relu"},
  {type: "pool", sx: 2, stride: 2},
  {type: "conv", sx: 5, filters: 16, stride: 1, pad: 2, activation: "relu"},
  {type: "pool", sx: 3, stride: 3},
  {type: "softmax", num_classes: 10},
]);
const trainer = new convnetjs.SGDTrainer(net, {method: "adadelta", batch_size: batchSize, l2_decay: 0.001});
function pass(n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) trainer.train(vols[i % count], labels[i % count]);
  return Number(process.hrtime.bigint() - start) / 1e9;
}
pass(Math.min(count, 10 * batchSize));  // warm-up: V8 compiles the hot loops
const seconds = [];
for (let r = 0; r < repeat; r++) seconds.push(pass(count));
console.log(JSON.stringify({seconds}));
"""

# The memory child: imports, loads the digits and fits the seed network (stopping after `limit` batches).
MEMORY_CHILD = """\
import json, resource, sys
from cnn_core.chain import MNIST_LAYERS, Chain
from cnn_core.datasets import load_digits
limit = int(sys.argv[1])
(x, y), _ = load_digits()
def peak_kb():
    try:  # this process' own high-water mark; Linux carries the parent's into ru_maxrss across exec
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
loaded = peak_kb()
Chain(MNIST_LAYERS, seed=0).fit(x, y, epochs=1, batch_size=64, optimizer="rmsprop", learning_rate=1e-3,
                                callback=lambda event: "end_of_epoch" in event or event["batch"] + 1 < limit)
print(json.dumps({"loaded_kb": loaded, "peak_kb": peak_kb()}))
"""


def median_ms(fn: Callable[[], Any], repeat: int, setup: Callable[[], Any] | None = None) -> float:
    """Median milliseconds of ``fn`` after one warm-up; ``setup`` (untimed) runs before every call."""
    times = []
    for index in range(repeat + 1):
        if setup is not None:
            setup()
        start = clock()
        fn()
        if index:
            times.append(clock() - start)
    return 1e3 * statistics.median(times)


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(ours: float | None, peer: float | None) -> str:
    return "-" if ours is None or peer is None else f"{ours / peer:.2f}x"


def stop_after(batches: int, per_epoch: int) -> Callable[[dict[str, Any]], bool]:
    """A fit callback that stops training once ``batches`` batches are done (over epochs)."""
    def callback(event: dict[str, Any]) -> bool:
        return "end_of_epoch" in event or event["epoch"] * per_epoch + event["batch"] + 1 < batches
    return callback


def ours_seconds(x: np.ndarray, y: np.ndarray, layers: list[dict[str, Any]], batch_size: int, batches: int,
                 repeat: int, timer: Callable[[], float] | None = None) -> list[tuple[float, float]]:
    """(seconds, minor page faults) of ``Chain.fit`` for ``batches`` batches, one fresh network per repeat (after
    a short warm-up). ``timer``: the clock (``--clock`` when None)."""
    timer = timer or clock
    per_epoch = -(-len(x) // batch_size)
    epochs = -(-batches // per_epoch)
    runs: list[tuple[float, float]] = []
    for index in range(repeat + 1):
        count = min(batches, 3) if index == 0 else batches
        chain = Chain(layers, seed=0)
        faults, start = minor_faults(), timer()
        chain.fit(x, y, epochs=epochs, batch_size=batch_size, optimizer="rmsprop", learning_rate=LEARNING_RATE,
                  callback=stop_after(count, per_epoch))
        if index:
            runs.append((timer() - start, minor_faults() - faults))
    return runs


def minor_faults() -> int:
    """The process' minor page faults so far: each is a fresh page of memory, which the allocator took from the
    system (glibc returns a freed heap top above its trim threshold, so a training loop can fault on the same
    megabytes every batch)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def median_run(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The (seconds, faults) of the median run by time."""
    return sorted(runs)[len(runs) // 2]


def torch_seed_model(channels_last: bool) -> Any:
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU()), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(32, 64, 3), nn.ReLU()), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(64, 64, 3), nn.ReLU()), nn.Flatten(),
        nn.Sequential(nn.Linear(576, 64), nn.ReLU()), nn.Linear(64, 10))
    return model.to(memory_format=torch.channels_last) if channels_last else model


def torch_seconds(x: np.ndarray, y: np.ndarray, batches: int, repeat: int,
                  channels_last: bool) -> list[tuple[float, float]]:
    """(seconds, minor page faults) of the same training loop in PyTorch: shuffle, forward, loss, backward,
    RMSprop step, accuracy."""
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    per_epoch = -(-len(x) // BATCH)
    runs: list[tuple[float, float]] = []
    for index in range(repeat + 1):
        count = min(batches, 3) if index == 0 else batches
        torch.manual_seed(0)
        model = torch_seed_model(channels_last)
        solver = torch.optim.RMSprop(model.parameters(), lr=LEARNING_RATE, alpha=0.9, eps=1e-7)
        faults, start = minor_faults(), clock()
        for batch in range(count):
            if batch % per_epoch == 0:
                order = torch.randperm(len(tx), generator=generator)
            picked = order[(batch % per_epoch) * BATCH:(batch % per_epoch + 1) * BATCH]
            inputs = tx[picked]
            if channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            solver.zero_grad(set_to_none=True)
            logits = model(inputs)
            loss = nn.functional.cross_entropy(logits, ty[picked])
            loss.backward()
            solver.step()
            loss.item()
            int((logits.argmax(dim=1) == ty[picked]).sum())
        if index:
            runs.append((clock() - start, minor_faults() - faults))
    return runs


def epoch_table(x: np.ndarray, y: np.ndarray, batches: int, repeat: int) -> dict[str, float | None]:
    per_epoch = -(-len(x) // BATCH)
    scale = per_epoch / batches
    with threadpool_limits(1):
        seconds, faults = median_run(ours_seconds(x, y, MNIST_LAYERS, BATCH, batches, repeat))
    ours = seconds * scale
    runs: dict[str, tuple[float, float] | None] = {"torch": None, "torch_cl": None}
    if torch is not None:
        for key, channels_last in (("torch", False), ("torch_cl", True)):
            runs[key] = median_run(torch_seconds(x, y, batches, repeat, channels_last))
    peers = {key: None if run is None else run[0] * scale for key, run in runs.items()}
    best = min((v for v in peers.values() if v is not None), default=None)
    print(f"## 1. Seed network, seconds per epoch (8,000 digits, batch {BATCH}, RMSprop {LEARNING_RATE:g}, float32, "
          f"1 thread, {clock_name} clock)\n\nMeasured: median of {repeat} runs of {batches} batches each (fresh "
          f"network per run), scaled to an epoch of {per_epoch} batches. Page faults: the process' minor faults "
          f"per batch in that run.\n")
    print("| implementation | s / epoch | ms / batch | page faults / batch | Kernel Lens / it |\n|---|---|---|---|---|")
    print(f"| Kernel Lens (Chain.fit) | {fmt(ours)} | {fmt(1e3 * ours / per_epoch, 1)} | {faults / batches:,.0f} "
          f"| 1.00x |")
    for key, label in (("torch", "PyTorch, NCHW"), ("torch_cl", "PyTorch, channels_last")):
        value, run = peers[key], runs[key]
        print(f"| {label} | {fmt(value)} | {fmt(None if value is None else 1e3 * value / per_epoch, 1)} | "
              f"{'-' if run is None else f'{run[1] / batches:,.0f}'} | {ratio(ours, value)} |")
    print()
    return {"ours": ours, "torch_best": best}


def ours_layer_times(x: np.ndarray, y: np.ndarray,
                     repeat: int) -> tuple[list[str], list[tuple[float, float]], float, float]:
    """Per-layer (forward ms, backward ms) of Kernel Lens on one batch, the RMSprop step's ms and the whole
    batch's (forward, loss, backward, step)."""
    chain = Chain(MNIST_LAYERS, seed=0)
    chain.prepare_training(x.shape[1:], x.dtype)
    rng = np.random.default_rng(0)
    last = len(chain.layers) - 1
    forward_ms, caches, current = [], [], x
    for index, layer in enumerate(chain.layers):
        fold = index == last
        forward_ms.append(median_ms(lambda layer=layer, inputs=current, fold=fold:
                                    _layers.forward(layer, inputs, True, rng, fold), repeat))
        current, cache = _layers.forward(layer, current, True, rng, fold)
        caches.append(cache)
    grad_output = cross_entropy_backward(current, y)
    backward_ms = [0.0] * len(chain.layers)
    grads = []
    for index in range(last, -1, -1):
        layer, cache, fold = chain.layers[index], caches[index], index == last
        backward_ms[index] = median_ms(lambda layer=layer, g=grad_output, cache=cache, fold=fold:
                                       _layers.backward(layer, g, cache, fold), repeat)
        grad_output, named = _layers.backward(layer, grad_output, cache, fold)
        grads[:0] = [named[name] for name in layer.trainable]
    solver = optim.RMSprop(LEARNING_RATE)
    params = chain.trainable_arrays()
    step_ms = median_ms(lambda: solver.step(params, grads), repeat)

    def whole_batch() -> None:
        logits, caches = chain.forward(x, training=True, rng=rng)
        cross_entropy(logits, y)
        solver.step(params, chain.backward(cross_entropy_backward(logits, y), caches))

    times = list(zip(forward_ms, backward_ms, strict=True))
    return [layer.name for layer in chain.layers], times, step_ms, median_ms(whole_batch, repeat)


def torch_layer_times(x: np.ndarray, y: np.ndarray, repeat: int, channels_last: bool) -> list[tuple[float, float]]:
    """Per-module (forward ms, backward ms) of PyTorch on the same batch; the first layer's input needs no
    gradient, as in training."""
    torch.manual_seed(0)
    model = torch_seed_model(channels_last)
    inputs = torch.from_numpy(x)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    layer_inputs, outputs, current = [], [], inputs
    for module in model:
        layer_inputs.append(current.detach())
        current = module(current)
        current.retain_grad()
        outputs.append(current)
    nn.functional.cross_entropy(current, torch.from_numpy(y)).backward()
    times = []
    for index, module in enumerate(model):
        start = layer_inputs[index].requires_grad_(index > 0)
        grad_output = outputs[index].grad
        forward_ms = median_ms(lambda module=module, start=start: module(start), repeat)
        times.append((forward_ms, torch_backward_ms(module, start, grad_output, repeat)))
    return times


def torch_backward_ms(module: Any, start: Any, grad_output: Any, repeat: int) -> float:
    """Autograd's backward through one module alone: each call gets a fresh forward graph (untimed)."""
    holder: dict[str, Any] = {}

    def setup() -> None:
        for param in module.parameters():
            param.grad = None
        start.grad = None
        holder["out"] = module(start)

    return median_ms(lambda: holder["out"].backward(grad_output), repeat, setup)


def layer_table(x: np.ndarray, y: np.ndarray, repeat: int) -> None:
    batch_x, batch_y = x[:BATCH], y[:BATCH]
    with threadpool_limits(1):
        names, ours, step_ms, batch_ms = ours_layer_times(batch_x, batch_y, repeat)
    layouts: dict[str, list[tuple[float, float]]] = {}
    if torch is not None:
        layouts = {"NCHW": torch_layer_times(batch_x, batch_y, repeat, False),
                   "CL": torch_layer_times(batch_x, batch_y, repeat, True)}
    print(f"## 2. Seed network per layer, ms per batch of {BATCH} (median of {repeat})\n\nA Kernel Lens conv2d / "
          f"dense layer includes its ReLU; PyTorch's rows time the same Conv2d + ReLU (Linear + ReLU), in both "
          f"layouts (NCHW, CL = channels_last); a ratio is against PyTorch's faster layout for that pass. Kernel "
          f"Lens' first layer also computes the gradient of its input (PyTorch's does not need it).\n")
    print("| layer | output | KL fwd | torch fwd NCHW / CL | fwd ratio | KL bwd | torch bwd NCHW / CL | bwd ratio "
          "| KL fwd+bwd | best torch fwd+bwd | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    chain = Chain(MNIST_LAYERS, seed=0)
    shapes = [row["output_shape"] for row in chain.summary(x.shape[1:])]
    total, peer_total = 0.0, 0.0 if layouts else None
    for index, name in enumerate(names):
        cells = [name, "x".join(map(str, shapes[index]))]
        best_both = 0.0
        for part in (0, 1):
            mine = ours[index][part]
            theirs = [times[index][part] for times in layouts.values()]
            best = min(theirs, default=None)
            best_both += best or 0.0
            cells += [fmt(mine), " / ".join(map(fmt, theirs)) or "-", ratio(mine, best)]
        both = sum(ours[index])
        total += both
        if peer_total is not None:
            peer_total += best_both
        cells += [fmt(both), fmt(best_both if layouts else None), ratio(both, best_both if layouts else None)]
        print(f"| {' | '.join(cells)} |")
    print(f"| all layers | | | | | | | | {fmt(total)} | {fmt(peer_total)} | {ratio(total, peer_total)} |")
    print(f"\nKernel Lens outside the layers: the RMSprop step takes {fmt(step_ms)} ms; a whole batch (forward, "
          f"loss, backward, step, timed as one) {fmt(batch_ms)} ms against {fmt(total + step_ms)} ms for its parts "
          f"timed alone (the difference is the loss, the chain's plumbing, colder caches and noise).\n")


def convnetjs_rate(package: Path, x: np.ndarray, y: np.ndarray, repeat: int) -> float | str:
    """ConvNetJS' training examples per second (median pass), or the reason it could not run."""
    node = shutil.which("node")
    library = package / "build" / "convnet.js"
    if node is None:
        return "skipped: node is not on PATH"
    if not library.is_file():
        return f"skipped: no ConvNetJS at {package} (see the module docstring for the two commands)"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "driver.js").write_text(CONVNETJS_DRIVER)
        np.ascontiguousarray(x, dtype="<f4").tofile(work / "x.f32")
        y.astype(np.uint8).tofile(work / "y.u8")
        done = subprocess.run([node, str(work / "driver.js"), str(library), str(work / "x.f32"), str(work / "y.u8"),
                               str(len(x)), str(repeat), str(CONVNETJS_BATCH)],
                              capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        return f"skipped: node failed ({done.stderr.strip().splitlines()[-1:]})"
    return len(x) / statistics.median(json.loads(done.stdout)["seconds"])


def convnetjs_table(x: np.ndarray, y: np.ndarray, examples: int, repeat: int, package: Path) -> float | None:
    crops = np.ascontiguousarray(x[:examples, :, 2:26, 2:26])
    labels = y[:examples]
    with threadpool_limits(1):
        runs = ours_seconds(crops, labels, CONVNETJS_LAYERS, CONVNETJS_BATCH, -(-examples // CONVNETJS_BATCH), repeat,
                            time.perf_counter)  # the wall clock, as node's
        ours = examples / median_run(runs)[0]
    theirs = convnetjs_rate(package, crops, labels, repeat)
    version = "?"
    if (package / "package.json").is_file():
        version = json.loads((package / "package.json").read_text()).get("version", "?")
    print(f"## 3. ConvNetJS' MNIST demo network, training examples per second ({examples:,} centre-cropped "
          f"24x24 digits per pass, batch {CONVNETJS_BATCH}, median of {repeat} passes)\n")
    print("| implementation | examples / s | Kernel Lens speed-up |\n|---|---|---|")
    print(f"| Kernel Lens (Chain.fit, RMSprop, float32, 1 thread) | {fmt(ours, 0)} | 1.00x |")
    if isinstance(theirs, str):
        print(f"| ConvNetJS {version} | - ({theirs}) | - |\n")
        return None
    print(f"| ConvNetJS {version} (node {_node_version()}, Adadelta, l2 decay 0.001, float64) | {fmt(theirs, 0)} | "
          f"{ours / theirs:.2f}x |\n")
    return ours / theirs


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def memory_table(batches: int) -> float:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(root), env.get("PYTHONPATH"))))
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(batches)], capture_output=True, text=True,
                          check=True, env=env)
    report = json.loads(done.stdout)
    peak_mb, loaded_mb = report["peak_kb"] / 1024, report["loaded_kb"] / 1024
    what = "one epoch" if batches >= 125 else f"{batches} batches"
    print(f"## 4. Peak memory of a child that imports the engine, loads the digits and fits the seed network for "
          f"{what} (VmHWM)\n")
    print("| after loading the digits | peak during fit | target |\n|---|---|---|")
    print(f"| {loaded_mb:.0f} MB | {peak_mb:.0f} MB | < {MEMORY_TARGET_MB} MB |\n")
    return float(peak_mb)


def verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("yes" if met else "NO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100, help="batches per timed run of the seed network")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (median taken)")
    parser.add_argument("--examples", type=int, default=1000, help="ConvNetJS-network examples per timed pass")
    parser.add_argument("--convnetjs", type=Path, default=Path("/tmp/convnetjs/package"),
                        help="the unpacked npm package convnetjs (its package.json and build/convnet.js)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: few batches, one repeat")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="time sections 1 and 2 by the wall clock or by the process' CPU time")
    args = parser.parse_args()
    global clock, clock_name
    clock, clock_name = CLOCKS[args.clock], args.clock
    layer_repeat, memory_batches = 20, 125
    if args.quick:
        args.batches, args.repeat, args.examples, layer_repeat, memory_batches = 5, 1, 100, 3, 5
    args.examples = max(CONVNETJS_BATCH, args.examples // CONVNETJS_BATCH * CONVNETJS_BATCH)
    if torch is not None:
        torch.set_num_threads(1)
    (x, y), _ = load_digits()
    with threadpool_limits(1):
        blas = [f"{info['internal_api']} {info['version']} ({info.get('architecture', '?')})"
                for info in threadpool_info() if info["user_api"] == "blas"]
    print(f"1 thread, float32; BLAS: {', '.join(blas)}; NumPy {np.__version__}; "
          f"torch {torch.__version__ if torch else 'not installed'}; Python {sys.version.split()[0]}\n")
    epoch = epoch_table(x, y, args.batches, args.repeat)
    layer_table(x, y, layer_repeat)
    speedup = convnetjs_table(x, y, args.examples, args.repeat, args.convnetjs)
    peak = memory_table(memory_batches)
    slowdown = None if epoch["torch_best"] is None or epoch["ours"] is None else epoch["ours"] / epoch["torch_best"]
    print("## Targets\n\n| target | measured | met |\n|---|---|---|")
    print(f"| an epoch no slower than {SPEED_TARGET}x PyTorch's best at 1 thread | "
          f"{'-' if slowdown is None else f'{slowdown:.2f}x'} | "
          f"{verdict(None if slowdown is None else slowdown <= SPEED_TARGET)} |")
    print(f"| ahead of ConvNetJS (examples / s) | {'-' if speedup is None else f'{speedup:.2f}x'} | "
          f"{verdict(None if speedup is None else speedup > 1)} |")
    print(f"| peak memory during fit < {MEMORY_TARGET_MB} MB | {peak:.0f} MB | "
          f"{verdict(peak < MEMORY_TARGET_MB)} |")


if __name__ == "__main__":
    main()
