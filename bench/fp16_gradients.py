"""What fp16 recurrent layers do to the gradient: weight gradients with the recurrent layers in fp16, against fp32.

On an NVIDIA GPU, this project's bf16 autocast runs cuDNN's recurrent layers in fp16 (PyTorch's
``AutocastRNN.cpp``). fp16 keeps 10 bits of a number only down to 2^-14 (6.1e-5) and nothing below 2^-24 (6.0e-8);
the loss is a mean over batch x unroll = 10,000 bytes, so the gradient that reaches the recurrent layers is small.
This measures, on the CPU, what that costs, by emulating cuDNN's fp16 layers with the library's own equations (the
ones traces run, ``CharLM.trace``): every value the layers compute is rounded to fp16 where it is stored, and so is
every gradient with respect to one (the gates, cells, states, each step's products); sums and products accumulate
in fp32; the weights are rounded once and their gradients once, after summing over all time steps, as one matrix
product would. The read-out runs in bf16 autocast, as on the GPU; the loss is multiplied by a scale before the
backward pass and the gradients divided by it after. Beside it, the CPU's own bf16 training step (autocast: LSTM and
RNN layers in bf16, the GRU in fp32). For each, over a few consecutive training batches (the state carried in
fp32):

- the recurrent weights' gradients' relative error ``|g - g32| / |g32|``;
- the share of their elements that are zero there but not in fp32 (flushed; a few are fp16's rounding of the
  forward pass rather than underflow: they stay whatever the scale);
- the share of the gradient reaching the top layer's output, ``dL/dh``, in fp32, below 2^-14 and below 2^-24;
- the largest gradient fp16 stores in the emulation, unscaled (of a weight, a state, a gate, in any step):
  a loss scale overflows fp16 where it multiplies this beyond 65,504.

    .venv/bin/python bench/fp16_gradients.py                                  # three large models at init
    .venv/bin/python bench/fp16_gradients.py --artifacts pretrained --runs f20071b35d6ec472 16ec695ca8fb720b
"""

from __future__ import annotations

import argparse

import torch
from _models import SMOKE_BYTES
from torch import nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

from lit_rnn.data import load_corpus
from lit_rnn.devices import autocast
from lit_rnn.models import CharLM, ModelConfig, init_uniform
from lit_rnn.runs import stored_runs
from lit_rnn.settings import resolve_data_dir

SCALES = (1.0, 2.0**8, 2.0**16)  # 2^16: torch.amp.GradScaler's first scale
FP16_NORMAL, FP16_SMALLEST = 2.0**-14, 2.0**-24


class _Fp16(torch.autograd.Function):
    """A value stored in fp16: rounded going forward, and its gradient rounded going back (the largest gradient
    stored so far kept in ``largest``: what a loss scale multiplies toward fp16's 65,504)."""

    largest = 0.0

    @staticmethod
    def forward(ctx, value: torch.Tensor) -> torch.Tensor:
        return value.half().float()

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        _Fp16.largest = max(_Fp16.largest, gradient.abs().max().item())
        return gradient.half().float()


class Fp16Storage(TorchFunctionMode):
    """Inside: every tensor an operation computes (not a view of one) is stored in fp16 (:class:`_Fp16`)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        stored = lambda t: isinstance(t, torch.Tensor) and t.is_floating_point() and not t._is_view()  # noqa: E731
        return tree_map(lambda t: _Fp16.apply(t) if stored(t) else t, out)


class _Trace(nn.Module):
    """A CharLM's trace (its per-step equations) as a module's forward, for :func:`torch.func.functional_call`."""

    def __init__(self, model: CharLM):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, state) -> torch.Tensor:
        (layers, _), _ = CharLM.trace.__wrapped__(self.model, ids, state)  # with gradients, unlike trace
        return layers[-1]["h"]


def _fp16_hidden(model: CharLM, inputs: torch.Tensor, state) -> torch.Tensor:
    """The top layer's outputs with the recurrent layers emulated in fp16 (:class:`Fp16Storage`), the weights and
    the state rounded once."""
    weights = {f"model.{name}": _Fp16.apply(p) for name, p in model.named_parameters() if name.startswith("rnn.")}
    state = tuple(_Fp16.apply(s) for s in state) if isinstance(state, tuple) else _Fp16.apply(state)
    with Fp16Storage():
        return functional_call(_Trace(model), weights, (inputs, state), strict=False)


def gradients(model: CharLM, inputs: torch.Tensor, targets: torch.Tensor, state, how: str,
              scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrent weights' gradients, flattened, and the gradient reaching the top layer's output, with the
    recurrent layers in fp32, in fp16 (emulated) or as the CPU's bf16 autocast runs them (``how``)."""
    model.zero_grad(set_to_none=True)
    if how == "fp16 (emulated)":
        hidden = _fp16_hidden(model, inputs, state)
    else:
        with autocast("bf16" if how == "bf16 autocast (CPU)" else "fp32", torch.device("cpu")):
            hidden, _ = model.rnn(model.one_hot(inputs), state)
    hidden = hidden.float()
    hidden.retain_grad()
    with autocast("bf16" if how != "fp32" else "fp32", torch.device("cpu")):
        logits = model.readout(hidden)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
    (loss * scale).backward()
    grads = torch.cat([p.grad.flatten() / scale for p in model.rnn.parameters()])
    return grads, hidden.grad / scale


def measured(model: CharLM, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list[list[str]]:
    """Table rows: fp32's ``dL/dh`` (its shares below fp16's normal and smallest numbers); then, for the CPU's bf16
    and for fp16 at each loss scale, the weight gradients' relative error and flushed share (and, unscaled, the
    largest gradient fp16 stores); pooled over ``batches``."""
    model = model.float().eval()  # dropout off: every pass sees the same function
    states = [model.initial_state(batches[0][0].shape[0])]
    with torch.no_grad():
        for inputs, _ in batches[:-1]:
            states.append(model(inputs, states[-1])[1])

    def pooled(how: str, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        found = [gradients(model, inputs, targets, state, how, scale) for (inputs, targets), state in
                 zip(batches, states)]
        return torch.cat([g for g, _ in found]), torch.cat([s.abs().flatten() for _, s in found])

    reference, signal = pooled("fp32")
    _Fp16.largest = 0.0
    rows = [["fp32", "1", "0", "0", f"{(signal < FP16_NORMAL).float().mean().item():.1%}",
             f"{(signal < FP16_SMALLEST).float().mean().item():.1%}", ""]]
    for how, scale in [("bf16 autocast (CPU)", 1.0), *(("fp16 (emulated)", s) for s in SCALES)]:
        grads, _ = pooled(how, scale)
        error = ((grads - reference).norm() / reference.norm()).item()
        flushed = ((grads == 0) & (reference != 0)).float().mean().item()
        largest = f"{_Fp16.largest:.2g}" if how == "fp16 (emulated)" and scale == 1.0 else ""
        rows.append([how, f"{scale:g}", f"{error:.2g}", f"{flushed:.2%}", "", "", largest])
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
          "| dL/dh below 2^-14 | below 2^-24 | largest gradient stored |\n" + "| --- " * 8 + "|")
    for name, model in models.items():
        for row in measured(model, batches):
            print(f"| {name} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
