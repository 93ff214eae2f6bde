"""Many runs trained as one computation: a pack of CharLMs in block-diagonal fused layers.

On a GPU one small CharLM's training step is bound by the latency of its 100 sequential time steps,
not by arithmetic, so runs trained one by one (or in concurrent processes, which take turns on the
GPU) leave it mostly idle. A
:class:`Pack` trains several runs of one architecture and depth (any hidden sizes, dropouts and
seeds) in the same fused kernels: layer l of the pack is one ``nn.LSTM`` (``nn.GRU``, ``nn.RNN``)
of H = Σ h_r units, run r's units side by side with the others'. Its recurrent weights, and the input
weights of every layer but the first, are block-diagonal (run r's units read only run r's units);
the first layer's input, the one-hot byte, is the same for every run, so its input weights are the
runs' weights stacked. Each run keeps its own read-out and loss; the pack minimises the sum of the
losses, whose gradient in run r's weights is run r's own gradient.

How a packed run equals the run trained alone (:func:`lit_rnn.train.train`):

- The weights outside the blocks are zero and stay zero: their gradients are masked to zero, and
  clipping and RMSProp act element by element, so nothing moves there. Inside the blocks every
  product with an outside weight is an exact zero, so each run computes its own function, summed in
  another order (wider matrix products associate differently): losses and weights agree within the
  rounding of the precision trained in, not bit for bit (in fp32 on a CPU, bench/packed_equality.py
  measures it and tests/test_packed.py bounds it; oneDNN's LSTM even agrees bit for bit).
- Each run is initialised by :func:`lit_rnn.train.initialise` with its own seed, sees the same
  batches in the same order at the same learning rate, and keeps its own early stopping, best
  weights, metrics, snapshots, checkpoint and result, written by the single-run trainer's own
  functions; its ``checkpoint.pt`` is the single-run format, so either trainer resumes the other's.
- Dropout: each run draws its masks from its own generators, with the shapes, order and dtype of
  the fused single-run layers, so on a CPU they are the single run's masks. On a GPU, cuDNN draws a
  single run's masks between layers from its own internal state, and the read-out's from a fused
  kernel; no generator reproduces either, so there a packed run with dropout sees masks of the same
  law but not the same values as the run trained alone. Runs without dropout draw nothing.

A run that stops early leaves the pack, which is rebuilt from the others. A non-finite value in one
run spreads to the whole pack (0 × NaN is NaN), so a diverging run stops the pack, keeping every
run's last good checkpoint.

How runs are grouped into packs (``by``, :data:`PACK_BY`) trades the pack's zeros against the number of
trainings: ``depth`` (every width and dropout of an architecture and depth: 12 runs of the paper's grid,
85-88% of their fused weights zero), ``model`` (one model's dropouts: 3 runs, 67% zero) or ``run``
(each run alone, in a pack of one: no zeros). :func:`train_streams` trains several packs at once in this
process, each on its own thread and CUDA stream, so that small packs can share a GPU (separate
processes only take turns on it); which grouping and concurrency is fastest is the device's to say
(:func:`lit_rnn.probe.streams_rate`, measured by every GPU window).

One host thread issues every kernel of a step, and threads do not add up (``bench/host_overhead.py``), so small
packs on streams are held to the host's rate. With ``TrainOptions.cuda_graphs`` a pack's step is captured once as a
CUDA graph and replayed (:class:`GraphedStep`): one launch a step. It has not yet run on a GPU; every GPU window
checks it against the eager step first (:func:`lit_rnn.probe.graph_check`).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import autocast, scaled_backward, training_precision
from lit_rnn.errors import UserError
from lit_rnn.evaluate import split_losses
from lit_rnn.models import FUSED_LAYERS, GATE_BLOCKS, RECURRENT, ModelConfig, detach
from lit_rnn.runs import Recipe, Run, RunConfig
from lit_rnn.train import (
    Member,
    TrainingDiverged,
    TrainOptions,
    batch_tensors,
    check_corpus,
    deferred_interrupt,
    prepare,
    rmsprop,
    set_learning_rate,
    state_tensors,
    train_loop,
)

WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # a fused layer's tensors
PACK_BY = ("depth", "model", "run")  # what the runs of a pack share besides corpus, recipe and architecture


def _pack_key(config: RunConfig, by: str = "depth") -> object:
    """What runs trained in one pack share: corpus, recipe (so batches and learning rates), architecture,
    depth and vocabulary; with ``by="model"`` the width too; with ``by="run"`` everything (a pack of one)."""
    model = config.model
    key = config.corpus_sha256, config.recipe, model.architecture, model.n_layers, model.vocab_size
    return {"depth": key, "model": (*key, model.hidden_size), "run": config}[by]


def pack_groups(configs: list[RunConfig], by: str = "depth") -> list[list[RunConfig]]:
    """``configs`` in the groups that train as packs, in order of first appearance: runs that share corpus,
    recipe, architecture and depth (whatever their widths, dropouts and seeds; ``by="model"``: and width, so one
    model's dropouts and seeds; ``by="run"``: each alone); an n-NN or a Transformer alone."""
    if by not in PACK_BY:
        raise UserError(f"unknown pack grouping {by!r}: choose one of {', '.join(PACK_BY)}")
    groups: dict[object, list[RunConfig]] = {}
    for config in configs:
        packs = config.model.architecture in RECURRENT
        groups.setdefault(_pack_key(config, by) if packs else config, []).append(config)
    return list(groups.values())


class Pack(nn.Module):
    """The CharLMs of several runs as one network: per layer one fused layer of H = Σ h_r units (run r's at
    ``units[r]`` in each gate block), block-diagonal past the input, and one read-out per run.

    ``generators``: per run, the generator its dropout masks are drawn from.
    """

    def __init__(self, configs: list[ModelConfig], generators: list[torch.Generator], device: torch.device):
        super().__init__()
        first = configs[0]
        self.architecture, self.n_layers, self.vocab_size = first.architecture, first.n_layers, first.vocab_size
        self.widths = [c.hidden_size for c in configs]
        self.dropouts = [c.dropout for c in configs]
        self.generators = generators
        starts = list(itertools.accumulate(self.widths, initial=0))
        self.units = [slice(a, b) for a, b in itertools.pairwise(starts)]
        self.width = starts[-1]
        fused = FUSED_LAYERS[self.architecture]
        with torch.device("meta"):  # uninitialised: PyTorch's initialisation would draw from the global generator,
            # which another thread may be seeding a run from (lit_rnn.train.prepare); the members' weights fill them
            layers = [fused(self.vocab_size if layer == 0 else self.width, self.width, batch_first=True)
                      for layer in range(self.n_layers)]
            readouts = [nn.Linear(width, self.vocab_size) for width in self.widths]
        self.layers = nn.ModuleList(layers).to_empty(device=device)
        self.readouts = nn.ModuleList(readouts).to_empty(device=device)
        packed = dict(self.named_parameters())
        with torch.no_grad():
            for parameter in packed.values():
                parameter.zero_()
            inside = {name: torch.zeros_like(p, dtype=torch.bool) for name, p in packed.items()}
            for run in range(len(configs)):
                for name in self.run_parameter_names():
                    self.block(inside[self.packed_name(name, run)], name, run).fill_(True)
        self.outside = {name: ~mask for name, mask in inside.items() if not mask.all()}  # masked gradients

    def run_parameter_names(self) -> list[str]:
        """The parameters of each run's CharLM, by their names there."""
        return [f"rnn.{kind}_l{layer}" for layer in range(self.n_layers) for kind in WEIGHT_KINDS] + [
            "readout.weight", "readout.bias"]

    def packed_name(self, name: str, run: int) -> str:
        """The pack's parameter that holds run ``run``'s parameter ``name``."""
        if name.startswith("readout."):
            return f"readouts.{run}.{name.removeprefix('readout.')}"
        kind, layer = name.removeprefix("rnn.").rsplit("_l", 1)
        return f"layers.{layer}.{kind}_l0"

    def block(self, packed: torch.Tensor, name: str, run: int) -> torch.Tensor:
        """Run ``run``'s parameter ``name`` as a view into ``packed`` (the pack's parameter that holds it, or any
        tensor shaped like it: a gradient, optimiser state, a mask), shaped (gates, h, ...) for a fused layer's."""
        if name.startswith("readout."):
            return packed
        kind, layer = name.removeprefix("rnn.").rsplit("_l", 1)
        units = self.units[run]
        view = packed.view(GATE_BLOCKS[self.architecture], self.width, *packed.shape[1:])[:, units]
        block_diagonal = kind == "weight_hh" or (kind == "weight_ih" and layer != "0")
        return view[..., units] if block_diagonal else view

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu"):
        """Zero state: ``h`` (and ``(h, c)`` for the LSTM) of shape (layers, batch, H)."""
        h = torch.zeros(self.n_layers, batch_size, self.width, device=device)
        return (h, torch.zeros_like(h)) if self.architecture == "lstm" else h

    def join_state(self, states: list):
        """The runs' carried states side by side."""
        if self.architecture == "lstm":
            return tuple(torch.cat([state[i] for state in states], dim=-1) for i in range(2))
        return torch.cat(states, dim=-1)

    def split_state(self, state) -> list:
        """Each run's carried state, as its CharLM carries it."""
        if self.architecture == "lstm":
            return [tuple(s[..., units].contiguous() for s in state) for units in self.units]
        return [state[..., units].contiguous() for units in self.units]

    def forward(self, ids: torch.Tensor, state=None) -> tuple[list[torch.Tensor], object]:
        """Per run, logits (batch, time, vocab) for ids (batch, time); and the pack's state after the last step."""
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        lstm = self.architecture == "lstm"
        hs, cs = state if lstm else (state, None)
        x = F.one_hot(ids.long(), self.vocab_size).to(self.readouts[0].weight.dtype)
        finals = []
        for layer, fused in enumerate(self.layers):
            x, final = fused(x, (hs[layer : layer + 1], cs[layer : layer + 1]) if lstm else hs[layer : layer + 1])
            finals.append(final)
            if self.training and any(self.dropouts):
                x = x * self.dropout_mask(x)
        state = tuple(torch.cat(parts) for parts in zip(*finals)) if lstm else torch.cat(finals)
        return [readout(x[..., units]) for readout, units in zip(self.readouts, self.units)], state

    def dropout_mask(self, x: torch.Tensor) -> torch.Tensor:
        """One dropout mask per run, side by side, for a layer's output ``x`` (batch, time, H): each drawn from the
        run's generator as the fused single-run layers draw it, Bernoulli(1 - p) / (1 - p) laid out (time, batch, h)
        in ``x``'s dtype; ones for a run without dropout."""
        batch, steps, _ = x.shape
        parts = []
        for p, width, generator in zip(self.dropouts, self.widths, self.generators):
            part = torch.empty(steps, batch, width, dtype=x.dtype, device=x.device)
            parts.append(part.bernoulli_(1 - p, generator=generator).div_(1 - p) if p > 0 else part.fill_(1))
        return torch.cat(parts, dim=-1).transpose(0, 1)

    def mask_gradients(self) -> None:
        """Zero the gradients outside the runs' blocks, so the weights there stay zero."""
        for name, parameter in self.named_parameters():
            if name in self.outside and parameter.grad is not None:
                parameter.grad.masked_fill_(self.outside[name], 0.0)


def pack_update(pack: Pack, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor, state,
                recipe: Recipe, options: TrainOptions) -> tuple[torch.Tensor, object]:
    """One optimisation step of every run of the pack on a batch's ``inputs`` and ``targets`` (on the device),
    state carried in and out; returns the runs' losses."""
    with autocast(options.precision, options.device):
        logits, state = pack(inputs, detach(state))
        losses = torch.stack([F.cross_entropy(run.flatten(0, 1).float(), targets.flatten()) for run in logits])
    optimizer.zero_grad(set_to_none=True)
    scaled_backward(losses.sum(), pack.parameters(), options.precision)
    pack.mask_gradients()
    nn.utils.clip_grad_value_(pack.parameters(), recipe.grad_clip)
    optimizer.step()
    return losses.detach(), detach(state)


def pack_step(pack: Pack, optimizer: torch.optim.Optimizer, batch: tuple[np.ndarray, np.ndarray], state,
              recipe: Recipe, options: TrainOptions) -> tuple[torch.Tensor, object]:
    """:func:`pack_update` on one batch of the :class:`lit_rnn.data.Batcher`."""
    inputs, targets = batch_tensors(batch, options.device)
    return pack_update(pack, optimizer, inputs, targets, state, recipe, options)


WARMUP_STEPS = 3  # a pack's eager steps before its step is captured: they make RMSProp's state and cuDNN's workspaces
_CAPTURING = threading.Lock()  # one capture at a time, whatever the threads training beside it


class GraphedStep:
    """:func:`pack_update` captured once as a CUDA graph and replayed at every later step: one launch a step instead
    of one per kernel, so that the host (one Python thread at a time, however many streams) stops setting the pace
    of small packs.

    The graph reads its batch and carried state from tensors it owns and writes the state back there, and RMSProp
    reads its learning rate and step count from the device (:func:`lit_rnn.train.rmsprop` with a device). Batches
    reach the device from two pinned host buffers in turn, so that the host runs a step ahead instead of waiting
    for each copy. The first :data:`WARMUP_STEPS` steps run eagerly on the stepping thread's own stream
    (:func:`thread_stream`), which the capture then uses. Dropout draws from each run's generator, registered with
    the graph, so that every replay draws new masks. Not yet run on a GPU: every GPU window checks it first
    (:func:`lit_rnn.probe.graph_check`) and trains with it only if it passes.
    """

    def __init__(self, pack: Pack, optimizer: torch.optim.Optimizer, recipe: Recipe, options: TrainOptions,
                 state) -> None:
        if options.device.type != "cuda":
            raise UserError(f"CUDA graphs need a CUDA GPU, not {options.device}; train without --cuda-graphs")
        self.pack, self.optimizer, self.recipe, self.options, self.state = pack, optimizer, recipe, options, state
        shape = (2, recipe.batch_size, recipe.seq_length)  # inputs and targets
        self.batch = torch.zeros(shape, dtype=torch.long, device=options.device)
        self.inputs, self.targets = self.batch
        self.pinned = [torch.zeros(shape, dtype=torch.long).pin_memory() for _ in range(2)]
        self.copied = [torch.cuda.Event(), torch.cuda.Event()]  # each pinned buffer's last copy (none yet: done)
        self.side: torch.cuda.Stream | None = None  # the stepping thread's own stream, taken at its first step
        self.graph: torch.cuda.CUDAGraph | None = None
        self.losses = torch.zeros(len(pack.widths), device=options.device)  # written by every replay
        self.calls = 0  # steps taken: the first WARMUP_STEPS eagerly

    def __call__(self, batch: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
        """One step on ``batch``; the runs' losses, in the tensor the next step overwrites."""
        if self.side is None:  # the thread that steps the pack, which need not be the one that built it
            self.side = thread_stream(self.options.device)
        self._load(batch)
        if self.calls <= WARMUP_STEPS:
            return self._on_side(self._update)
        if self.graph is None:
            self._capture()
        self.graph.replay()
        return self.losses

    def _load(self, batch: tuple[np.ndarray, np.ndarray]) -> None:
        """Copy ``batch`` into the tensors the step reads, through the pinned buffer not copied from last step (once
        its copy two steps ago is done)."""
        slot = self.calls % 2
        self.calls += 1
        self.copied[slot].synchronize()
        for row, values in zip(self.pinned[slot].numpy(), batch):
            row[...] = values
        self.batch.copy_(self.pinned[slot], non_blocking=True)
        self.copied[slot].record()

    def _update(self) -> torch.Tensor:
        losses, state = pack_update(self.pack, self.optimizer, self.inputs, self.targets, self.state, self.recipe,
                                    self.options)
        for static, new in zip(state_tensors(self.state), state_tensors(state)):
            static.copy_(new)
        self.losses.copy_(losses)
        return self.losses

    def _on_side(self, work: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``work`` on the side stream, ordered after and before the caller's stream."""
        current = torch.cuda.current_stream(self.options.device)
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            result = work()
        current.wait_stream(self.side)
        return result

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        for generator in self.pack.generators:
            graph.register_generator_state(generator)
        with _CAPTURING, torch.cuda.graph(graph, stream=self.side, capture_error_mode="thread_local"):
            self._update()
        torch.cuda.current_stream(self.options.device).wait_stream(self.side)  # the capture's set-up before a replay
        self.graph = graph


def prepare_member(config: RunConfig, artifacts, device: torch.device) -> Member:
    """A run as a pack starts it: initialised by its seed, or resumed from its checkpoint, with its own generators."""
    return prepare(Run(config, artifacts), device, own_generators=True)


@torch.no_grad()
def _exchange(pack: Pack, optimizer: torch.optim.Optimizer, members: list[Member], into_pack: bool) -> None:
    """Copy weights, RMSProp state and learning rate from the members into the pack (``into_pack``) or back."""
    packed, capturable = dict(pack.named_parameters()), optimizer.defaults["capturable"]
    for run, member in enumerate(members):
        for name, own in member.model.named_parameters():
            shared = packed[pack.packed_name(name, run)]
            pairs = [(own, shared)]
            own_state, shared_state = member.optimizer.state[own], optimizer.state[shared]
            source, target = (own_state, shared_state) if into_pack else (shared_state, own_state)
            for key, value in source.items():
                if value.dim() == 0:  # the step count, one for the pack (for a captured graph: on the GPU)
                    target[key] = value.to(shared.device if into_pack and capturable else "cpu", copy=True)
                else:
                    own_state.setdefault(key, torch.zeros_like(own))
                    shared_state.setdefault(key, torch.zeros_like(shared))
                    pairs.append((own_state[key], shared_state[key]))
            for own_tensor, shared_tensor in pairs:
                block = pack.block(shared_tensor, name, run)
                if into_pack:
                    block.copy_(own_tensor.view(block.shape))
                else:
                    own_tensor.view(block.shape).copy_(block)
        if not into_pack:
            set_learning_rate(member.optimizer, float(optimizer.param_groups[0]["lr"]))


def assemble(members: list[Member], recipe: Recipe, device: torch.device,
             cuda_graphs: bool = False) -> tuple[Pack, torch.optim.Optimizer]:
    """The pack of ``members`` and its optimiser (one a CUDA graph can capture, with ``cuda_graphs``), holding the
    members' weights and RMSProp state."""
    pack = Pack([m.run.config.model for m in members], [m.generators[f"rng_{device.type}"] for m in members], device)
    optimizer = rmsprop(pack.parameters(), recipe, device if cuda_graphs else None)
    set_learning_rate(optimizer, members[0].optimizer.param_groups[0]["lr"])
    _exchange(pack, optimizer, members, into_pack=True)
    return pack.train(), optimizer


def disassemble(pack: Pack, optimizer: torch.optim.Optimizer, members: list[Member], state) -> None:
    """Write the pack's weights, RMSProp state, learning rate and carried state back into its members."""
    _exchange(pack, optimizer, members, into_pack=False)
    for member, own in zip(members, pack.split_state(state)):
        member.state = own


def train_packed(configs: list[RunConfig], corpus: Corpus, options: TrainOptions, artifacts: str | Path,
                 on_eval: Callable[[dict], None] | None = None) -> list[Run]:
    """Train (or resume) ``configs``, one group of :func:`pack_groups`, as one pack; returns their runs: finished,
    or, when ``options.deadline`` came first, checkpointed and unfinished.

    Runs resumed at different steps train in separate packs, one after another.
    """
    if len(pack_groups(configs)) != 1 or configs[0].model.architecture not in RECURRENT:
        raise UserError("a pack trains recurrent runs of one corpus, recipe, architecture and depth; "
                        "split the runs with lit_rnn.packed.pack_groups")
    for config in configs:
        check_corpus(config, corpus)
    members = [prepare_member(c, artifacts, options.device) for c in configs if not Run(c, artifacts).is_finished]
    batcher = configs[0].recipe.batcher(corpus)
    for _, same_step in itertools.groupby(sorted(members, key=lambda m: m.progress.step), lambda m: m.progress.step):
        if not train_loop(Packed(list(same_step), options), batcher, options, on_eval):
            break  # the deadline came
    return [Run(c, artifacts) for c in configs]


MAX_STREAMS = 31  # threads training at once: PyTorch hands out CUDA streams round-robin from a pool of 32 a device
_THREAD = threading.local()


def thread_stream(device: torch.device) -> torch.cuda.Stream:
    """The calling thread's own CUDA stream, made once per thread: threads alive at once (at most
    :data:`MAX_STREAMS`) never share one, so that one's graph capture never records another's work."""
    streams = _THREAD.__dict__.setdefault("streams", {})
    if device not in streams:
        streams[device] = torch.cuda.Stream(device)
    return streams[device]


@contextlib.contextmanager
def own_stream(device: torch.device) -> Iterator[None]:
    """The calling thread's work on its own CUDA stream (:func:`thread_stream`; nothing to switch on a CPU), its
    backward passes run on this thread rather than on autograd's one worker per device, so that threads training
    side by side overlap."""
    stream = torch.cuda.stream(thread_stream(device)) if device.type == "cuda" else contextlib.nullcontext()
    with stream, torch.autograd.set_multithreading_enabled(False):
        yield


def train_streams(configs: list[RunConfig], corpus: Corpus, options: TrainOptions, artifacts: str | Path,
                  by: str = "model", streams: int | None = None) -> list[Run]:
    """Train (or resume) ``configs`` as the packs of :func:`pack_groups` (``by``), ``streams`` at a time (default:
    all; at most :data:`MAX_STREAMS`), each on its own thread and CUDA stream, its backward pass on that thread;
    returns their runs, as :func:`train_packed` does.

    Each pack trains as it would alone (its own generators, batches and files; on a GPU at bf16 or tf32, its steps
    that coincide with another pack's validation run in full fp32, as the process's TF32 switches then are: the same
    computation, rounded otherwise). Ctrl-C checkpoints every
    pack between two of its steps and raises :class:`KeyboardInterrupt` here once all have stopped.
    """
    if any(c.model.architecture not in RECURRENT for c in configs):
        raise UserError("train_streams trains recurrent runs; train n-NNs and Transformers with lit_rnn.train.train")
    groups = pack_groups(configs, by)

    def train_group(group: list[RunConfig]) -> list[Run]:
        with own_stream(options.device):
            return train_packed(group, corpus, options, artifacts)

    with training_precision(options.precision), deferred_interrupt(), \
            ThreadPoolExecutor(max_workers=min(streams or len(groups), MAX_STREAMS)) as pool:
        futures = [pool.submit(train_group, group) for group in groups]
        while wait(futures, timeout=0.5).not_done:  # not one blocking join: a signal that reaches another thread
            pass  # runs its handler here only when this thread returns to Python, as this does twice a second
    for future in futures:
        future.result()  # a pack's error (divergence, Ctrl-C), once every pack has stopped
    return [Run(c, artifacts) for c in configs]


class Packed:
    """A pack of members as :func:`lit_rnn.train.train_loop` trains it: one :class:`Pack`, its optimiser and
    carried state, rebuilt from the members that remain when some leave."""

    def __init__(self, members: list[Member], options: TrainOptions):
        self.members, self.options = members, options
        self.recipe = members[0].run.config.recipe
        first = members[0].run.config.model
        self.label = f"{first.architecture}-{first.n_layers} layers, pack of {len(members)}"
        self._assemble()

    def _assemble(self) -> None:
        graphs = self.options.cuda_graphs
        self.pack, self.optimizer = assemble(self.members, self.recipe, self.options.device, graphs)
        self.state = self.pack.join_state([m.state for m in self.members])
        self.graphed = GraphedStep(self.pack, self.optimizer, self.recipe, self.options, self.state) if graphs else None

    def new_epoch(self) -> None:
        for tensor in state_tensors(self.state):
            tensor.zero_()  # in place: a captured step reads the state there

    def set_learning_rate(self, learning_rate: float) -> None:
        set_learning_rate(self.optimizer, learning_rate)

    def step(self, batch: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
        if self.graphed is not None:
            return self.graphed(batch)
        losses, self.state = pack_step(self.pack, self.optimizer, batch, self.state, self.recipe, self.options)
        return losses

    def val_losses(self, batcher: Batcher) -> list[float]:
        return split_losses(self.pack, batcher, "val", self.options.device)

    def sync(self) -> None:
        disassemble(self.pack, self.optimizer, self.members, self.state)

    def drop(self, keep: list[bool]) -> None:
        self.members = list(itertools.compress(self.members, keep))
        if self.members:
            self._assemble()

    def diverged(self, losses: list[tuple[str, float]], step: int) -> TrainingDiverged:
        return TrainingDiverged(
            f"{', '.join(name for name, _ in losses)}: training loss became {losses[0][1]} near step {step} in a pack "
            f"of {len(self.members)} runs (a non-finite value in one run spreads to the whole pack); the last good "
            "checkpoints are kept; train these runs one by one (lit-rnn grid --trainer per-run) to find the one "
            "that diverges")

    def provenance(self) -> dict:
        return {"pack_size": len(self.members)}
