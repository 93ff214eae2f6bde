"""What fp16 recurrent layers do to the gradient: weight gradients with the recurrent layers in fp16, against fp32.

On an NVIDIA GPU, this project's bf16 autocast runs cuDNN's recurrent layers in fp16 (PyTorch's
``AutocastRNN.cpp``) and trains without loss scaling. fp16 keeps 10 bits of a number only down to 2^-14 (6.1e-5)
and nothing below 2^-24 (6.0e-8); the loss is a mean over batch x unroll = 10,000 bytes, so the gradient that
reaches the recurrent layers is small. This measures, on the CPU, what that costs: each model's recurrent layers
are run in fp16 (every value they store, forward and backward, is fp16, as with cuDNN's half data type; cuDNN may
accumulate inside its matrix products in fp32, which the CPU also does), the read-out in bf16 as autocast runs it,
the loss multiplied by a scale before the backward pass and the gradient divided by it after; and the same in bf16
(what the CPU trains in). For each, over a few consecutive training batches (the state carried in fp32):

- the weight gradients' relative error ``|g - g32| / |g32|`` over all recurrent layers' weights;
- the share of weight-gradient elements that are zero there but not in fp32 (flushed);
- the share of the gradient reaching the top layer's output, ``dL/dh``, in fp32, below 2^-14 and below 2^-24;
- the largest weight gradient in fp32: a loss scale above 65,504 (fp16's largest number) over it overflows.

    .venv/bin/python bench/fp16_gradients.py                                  # three large models at init
    .venv/bin/python bench/fp16_gradients.py --artifacts pretrained --runs f20071b35d6ec472 16ec695ca8fb720b
"""

from __future__ import annotations

import argparse
import copy

import torch
from _models import SMOKE_BYTES
from torch import nn

from lit_rnn.data import load_corpus
from lit_rnn.models import CharLM, ModelConfig, init_uniform
from lit_rnn.runs import stored_runs
from lit_rnn.settings import resolve_data_dir

SCALES = (1.0, 2.0**8, 2.0**16)  # 2^16: torch.amp.GradScaler's first scale
FP16_NORMAL, FP16_SMALLEST = 2.0**-14, 2.0**-24


def gradients(model: CharLM, inputs: torch.Tensor, targets: torch.Tensor, state, dtype: torch.dtype,
              scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrent layers' weight gradients, flattened, with those layers in ``dtype`` (the read-out in bf16
    autocast but at fp32), and the gradient reaching the top layer's output."""
    rnn = copy.deepcopy(model.rnn).to(dtype)
    state = tuple(s.to(dtype) for s in state) if isinstance(state, tuple) else state.to(dtype)
    hidden, _ = rnn(model.one_hot(inputs).to(dtype), state)
    hidden = hidden.float()
    hidden.retain_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype != torch.float32):
        logits = model.readout(hidden)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
    (loss * scale).backward()
    grads = torch.cat([p.grad.float().flatten() / scale for p in rnn.parameters()])
    return grads, hidden.grad / scale


def measured(model: CharLM, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list[list[str]]:
    """Table rows: the fp32 ``dL/dh``'s shares below fp16's normal and smallest numbers, then per precision (bf16,
    fp16 at each loss scale) the weight gradients' relative error and flushed share, pooled over ``batches``."""
    model = model.float().eval()  # dropout off: both passes see the same function
    references, signals, state = [], [], model.initial_state(batches[0][0].shape[0])
    for inputs, targets in batches:
        grads, signal = gradients(model, inputs, targets, state, torch.float32)
        references.append(grads)
        signals.append(signal.abs().flatten())
        with torch.no_grad():
            _, state = model(inputs, state)
    signal = torch.cat(signals)
    reference = torch.cat(references)
    rows = [["fp32", "1", "0", "0", f"{(signal < FP16_NORMAL).float().mean().item():.1%}",
             f"{(signal < FP16_SMALLEST).float().mean().item():.1%}", f"{reference.abs().max().item():.2g}"]]
    for dtype, scale in [(torch.bfloat16, 1.0), *((torch.float16, s) for s in SCALES)]:
        state, found = model.initial_state(batches[0][0].shape[0]), []
        for inputs, targets in batches:
            found.append(gradients(model, inputs, targets, state, dtype, scale)[0])
            with torch.no_grad():
                _, state = model(inputs, state)
        grads = torch.cat(found)
        error = ((grads - reference).norm() / reference.norm()).item()
        flushed = ((grads == 0) & (reference != 0)).float().mean().item()
        rows.append([str(dtype).removeprefix("torch."), f"{scale:g}", f"{error:.2g}", f"{flushed:.2%}", "", "", ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="warpeace")
    parser.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    parser.add_argument("--artifacts", default=None, help="a run store holding the --runs")
    parser.add_argument("--runs", nargs="*", default=(), help="run ids (default: three large models at init)")
    parser.add_argument("--batches", type=int, default=3, help="consecutive training batches (100 x 100 bytes)")
    parser.add_argument("--smoke", action="store_true", help="a 1x8 LSTM on one small batch: checks it runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = load_corpus(args.corpus, resolve_data_dir(args.data_dir))
    if args.smoke:
        corpus = corpus.head(SMOKE_BYTES)
    size = 10 if args.smoke else 100
    if args.runs:
        chosen = [r for r in stored_runs(args.artifacts) if r.config.run_id in args.runs]
        models = {f"{r.name} ({r.config.run_id}, trained)": r.load_model(torch.device("cpu")) for r in chosen}
    else:
        shapes = [("lstm", 1, 8)] if args.smoke else [("lstm", 3, 241), ("gru", 3, 280), ("rnn", 3, 487)]
        models = {}
        for architecture, n_layers, hidden in shapes:
            torch.manual_seed(0)
            models[f"{architecture}-{n_layers}x{hidden} (at init)"] = model = CharLM(
                ModelConfig(architecture, n_layers, hidden, corpus.vocab_size))
            init_uniform(model, 0.08)
    count = 1 if args.smoke else args.batches
    batches = [tuple(torch.from_numpy(a.astype("int64")) for a in batch)
               for batch, _ in zip(corpus.batcher(size, size).batches("train"), range(count))]
    print("| model | recurrent layers in | loss scale | gradient's relative error | flushed to zero "
          "| dL/dh below 2^-14 | below 2^-24 | largest weight gradient |\n" + "| --- " * 8 + "|")
    for name, model in models.items():
        for row in measured(model, batches):
            print(f"| {name} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
