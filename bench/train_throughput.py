"""Training throughput of CharLM against a straightforward per-step reference, measured side by side.

    .venv/bin/python bench/train_throughput.py                # CPU, fp32
    .venv/bin/python bench/train_throughput.py --bf16         # CPU with bf16 autocast (AMX)
    .venv/bin/python bench/train_throughput.py --device cuda  # on a GPU (cuDNN vs cell loop)

The reference is what one writes first: a Python loop over ``nn.LSTMCell``/``nn.GRUCell`` steps.
Both train one optimisation step on a 100 x 100 batch exactly as ``lit_rnn.train`` does.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.models import CharLM, ModelConfig

VOCAB = 87
CASES = [("lstm", 1, 128), ("lstm", 2, 128), ("lstm", 3, 512), ("gru", 2, 128)]


class CellLoopLM(nn.Module):
    """The reference: stacked ``nn.LSTMCell``/``nn.GRUCell`` stepped in a Python loop."""

    def __init__(self, cell: str, n_layers: int, hidden: int, vocab: int):
        super().__init__()
        make = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[cell]
        self.cell, self.vocab = cell, vocab
        self.cells = nn.ModuleList(make(vocab if i == 0 else hidden, hidden) for i in range(n_layers))
        self.readout = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        batch, steps = ids.shape
        x = F.one_hot(ids, self.vocab).float()
        states = [None] * len(self.cells)
        outputs = []
        for t in range(steps):
            layer_input = x[:, t]
            for i, cell in enumerate(self.cells):
                states[i] = cell(layer_input, states[i])
                layer_input = states[i][0] if self.cell == "lstm" else states[i]
            outputs.append(layer_input)
        return self.readout(torch.stack(outputs, dim=1))


def step_time(model: nn.Module, ids, targets, device, bf16: bool, repeats: int) -> float:
    """Median seconds of one forward/backward/RMSProp step."""
    optimizer = torch.optim.RMSprop(model.parameters(), lr=2e-3, alpha=0.95)
    times = []
    for i in range(repeats + 2):  # two warm-up steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(ids)
            logits = out[0] if isinstance(out, tuple) else out
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 5.0)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def peak_memory_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="the smallest setting, on CPU in seconds: checks it runs")
    args = parser.parse_args()
    device = torch.device(args.device)
    cases, rows = ([("lstm", 1, 16)], 10) if args.smoke else (CASES, 100)
    args.repeats = 1 if args.smoke else args.repeats
    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (rows, rows), device=device)
    targets = torch.randint(0, VOCAB, (rows, rows), device=device)
    print(f"device {device}, bf16 autocast {args.bf16}, threads {torch.get_num_threads()}, batch {rows} x {rows}")
    print(f"{'model':<12}{'lit-rnn B/s':>14}{'reference B/s':>16}{'ratio':>8}{'peak MB':>10}")
    for cell, n_layers, hidden in cases:
        fused = CharLM(ModelConfig(cell, n_layers, hidden, VOCAB)).to(device)
        reference = CellLoopLM(cell, n_layers, hidden, VOCAB).to(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        fast = step_time(fused, ids, targets, device, args.bf16, args.repeats)
        memory = peak_memory_mb(device)
        slow = step_time(reference, ids, targets, device, args.bf16, args.repeats)
        print(f"{cell}-{n_layers}x{hidden:<6}{rows**2 / fast:>14,.0f}{rows**2 / slow:>16,.0f}{slow / fast:>8.2f}"
              f"{memory:>10,.0f}")


if __name__ == "__main__":
    main()
