"""What a trained model predicts and what its cells do over a split: one pass, three readings.

:func:`split_pass` walks a split as training walks its batches: every row carries its state
from window to window across the whole split. The validation loss, the cached predictions and
the gate traces are all read from it, in full fp32 (:func:`lit_rnn.devices.exact_fp32`), and
returned in the text's order (rows are contiguous and ordered, so flattening row by row is text
order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lit_rnn.atomic import cached
from lit_rnn.data import Batcher, Corpus
from lit_rnn.devices import exact_fp32
from lit_rnn.errors import UserError
from lit_rnn.models import TRACE_QUANTITIES, CharLM, Model, ModelConfig
from lit_rnn.predictions import Predictions
from lit_rnn.runs import Run


def split_pass(step: Callable, batcher: Batcher, split: str, device: torch.device, chunk: int,
               rows: np.ndarray | None = None,
               length: int | None = None) -> Iterator[tuple[slice, torch.Tensor, object]]:
    """``step(ids, state) -> (output, state)`` over ``split`` in windows of ``chunk`` steps, state carried.

    Yields ``(columns, targets, output)`` per window: the window's columns of the split's
    ``(rows, length)`` grid, its targets (on ``device``) and what ``step`` returned for it.
    ``rows`` (indices) and ``length`` (the first bytes of each row) restrict the pass to part of the grid.
    """
    rows = slice(None) if rows is None else np.asarray(rows)
    inputs = torch.from_numpy(batcher.split_inputs(split)[rows, :length].astype(np.int64)).to(device)
    targets = torch.from_numpy(batcher.split_targets(split)[rows, :length].astype(np.int64)).to(device)
    state = None
    for start in range(0, inputs.shape[1], chunk):
        columns = slice(start, start + chunk)
        with torch.no_grad(), exact_fp32():
            output, state = step(inputs[:, columns], state)
        yield columns, targets[:, columns], output


def split_loss(model: Model, batcher: Batcher, split: str, device: torch.device, chunk: int = 1000,
               length: int | None = None) -> float:
    """Mean cross-entropy (nats/byte) over a split (over the first ``length`` bytes of each row, if given)."""
    return split_losses(model, batcher, split, device, chunk, length)[0]


def split_losses(model: nn.Module, batcher: Batcher, split: str, device: torch.device, chunk: int = 1000,
                 length: int | None = None) -> list[float]:
    """Mean cross-entropy (nats/byte) over a split of each network ``model`` computes: one for a model, one per
    run for a pack of runs (:class:`lit_rnn.packed.Pack`, whose forward returns a list of logits)."""
    was_training = model.training
    model.eval()
    totals, count = None, 0
    for _, targets, output in split_pass(model, batcher, split, device, chunk, length=length):
        sums = torch.stack([
            nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum").double()
            for logits in (output if isinstance(output, list) else [output])
        ])
        totals = sums if totals is None else totals + sums
        count += targets.numel()
    model.train(was_training)
    return (totals / count).tolist()


def model_predictions(model: Model, batcher: Batcher, split: str, name: str, device: torch.device,
                      chunk: int = 500) -> Predictions:
    """Next-byte distributions of ``model`` at every position of ``split``."""
    model = model.to(device).eval()
    return collect_predictions(split_pass(model, batcher, split, device, chunk), batcher, split, name, model.config)


def collect_predictions(windows: Iterable[tuple[slice, torch.Tensor, torch.Tensor]], batcher: Batcher, split: str,
                        name: str, config: ModelConfig) -> Predictions:
    """The predictions of a pass over every window of ``split`` (``split_pass`` or one like it) yielding logits."""
    rows, length = batcher.split_inputs(split).shape
    probs = np.empty((rows, length, config.vocab_size), dtype=np.float16)
    target_log_probs = np.empty((rows, length), dtype=np.float32)
    for columns, targets, logits in windows:
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        probs[:, columns] = log_probs.exp().cpu().numpy()
        target_log_probs[:, columns] = log_probs.gather(-1, targets[..., None])[..., 0].cpu().numpy()
    return Predictions(
        probs=probs.reshape(rows * length, -1),
        target_log_probs=target_log_probs.reshape(-1),
        targets=batcher.split_targets(split).reshape(-1),
        positions=batcher.positions(split).reshape(-1),
        name=name,
        architecture=config.architecture,
        corpus_sha256=batcher.corpus.sha256,
        split=split,
    )


def _check_corpus(run: Run, corpus: Corpus) -> None:
    if run.config.corpus_sha256 != corpus.sha256:
        raise UserError(f"run {run.config.run_id} was trained on another corpus than {corpus.name!r}")


def predictions(run: Run, corpus: Corpus, split: str = "test", device: torch.device = torch.device("cpu"),
                checkpoint: Path | None = None) -> Predictions:
    """The run's predictions over ``split`` (best weights, or ``checkpoint``), cached in the run folder."""
    _check_corpus(run, corpus)
    tag = checkpoint.stem if checkpoint is not None else "best"

    def build(path: Path) -> None:
        model = run.load_model(device, checkpoint)
        model_predictions(model, run.config.batcher(corpus), split, run.name, device).save(path)

    return cached(run.dir / "predictions" / f"{split}-{tag}.npz", build, Predictions.load)


def sampled_snapshots(run: Run, corpus: Corpus, device: torch.device = torch.device("cpu")) -> dict[int, Predictions]:
    """Each snapshot's test predictions in the sampled form (:meth:`Predictions.sample`), by training step: what a run
    ships in place of its snapshots' weights. Cached beside the weights (their positions are in the file); the
    whole split's predictions are computed, not kept."""
    _check_corpus(run, corpus)
    batcher = run.config.batcher(corpus)

    def builder(checkpoint: Path) -> Callable[[Path], None]:
        return lambda path: model_predictions(run.load_model(device, checkpoint), batcher, "test", run.name,
                                              device).sample().save(path, compress=True)

    return {step: cached(run.sampled_path(step), builder(checkpoint), Predictions.load)
            for step, checkpoint in run.snapshots().items()}


class StoredTrace:
    """Per-layer gate, cell and hidden values over a split, as float16 arrays memory-mapped from disk.

    ``trace[layer][name]`` has shape (positions, hidden) in the text's order; names are
    ``TRACE_QUANTITIES[architecture]`` (``i f g o c h`` for the LSTM, ``r z n h`` for the GRU, ``h``).
    It satisfies the analyses' trace contract (:class:`lit_rnn.analysis.cells.Trace`).
    """

    def __init__(self, folder: Path, architecture: str, n_layers: int):
        self.folder, self.architecture, self.n_layers = folder, architecture, n_layers
        self.positions = np.load(folder / "positions.npy", mmap_mode="r")

    def __len__(self) -> int:
        return self.n_layers

    def __getitem__(self, layer: int) -> dict[str, np.ndarray]:
        if not 0 <= layer < self.n_layers:
            raise IndexError(f"layer {layer} out of range: the model has {self.n_layers}")
        return {name: np.load(self.folder / f"layer{layer}_{name}.npy", mmap_mode="r")
                for name in TRACE_QUANTITIES[self.architecture]}


def write_trace(model: CharLM, batcher: Batcher, split: str, folder: Path, chunk: int = 250) -> None:
    """Stream ``model.trace`` over ``split`` into float16 ``.npy`` files (one per layer and quantity) in ``folder``.

    Each window of steps is written straight to its place in the files, so memory stays at one
    window: a 3-layer 512 LSTM over a 330,000-byte split is 5.7 GiB on disk, not in RAM. The folder is
    complete only when this returns (:func:`trace` builds it through :func:`lit_rnn.atomic.cached`).
    """
    device = next(model.parameters()).device
    rows, length = batcher.split_inputs(split).shape
    hidden, architecture = model.config.hidden_size, model.config.architecture
    folder = Path(folder)
    folder.mkdir(parents=True)
    np.save(folder / "positions.npy", batcher.positions(split).reshape(-1))
    files, data_offset = {}, 0
    for layer in range(model.config.n_layers):
        for name in TRACE_QUANTITIES[architecture]:
            # (positions, hidden) in text order = (rows, length, hidden) flattened row by row.
            path = folder / f"layer{layer}_{name}.npy"
            header = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(rows * length, hidden))
            data_offset = header.offset
            del header
            files[layer, name] = open(path, "r+b")  # noqa: SIM115 - closed below
    row_bytes, value_bytes = length * hidden * 2, hidden * 2
    try:
        for columns, _, (layers, _) in split_pass(model.trace, batcher, split, device, chunk):
            for layer, values in enumerate(layers):
                for name, value in values.items():
                    block = value.to(torch.float16).cpu().numpy()  # (rows, steps, hidden)
                    handle = files[layer, name]
                    for row in range(rows):
                        handle.seek(data_offset + row * row_bytes + columns.start * value_bytes)
                        handle.write(block[row].tobytes())
    finally:
        for handle in files.values():
            handle.close()


def trace(run: Run, corpus: Corpus, split: str = "test", device: torch.device = torch.device("cpu"),
          checkpoint: Path | None = None) -> StoredTrace:
    """The run's trace over ``split`` (best weights, or ``checkpoint``), computed once and memory-mapped after."""
    _check_corpus(run, corpus)
    folder = f"trace-{split}" if checkpoint is None else f"trace-{split}-{checkpoint.stem}"
    model = run.config.model
    return cached(run.dir / folder,
                  lambda folder: write_trace(run.load_model(device, checkpoint), run.config.batcher(corpus), split,
                                             folder),
                  lambda folder: StoredTrace(folder, model.architecture, model.n_layers))


def sample(model: Model, corpus: Corpus, prime: bytes = b"\n", n: int = 200, temperature: float = 1.0,
           seed: int = 0) -> bytes:
    """``n`` bytes sampled from the model after feeding it ``prime``; lower temperature is greedier."""
    return samples(model, corpus, prime, n, count=1, temperature=temperature, seed=seed)[0]


@torch.no_grad()
def samples(model: torch.nn.Module, corpus: Corpus, prime: bytes = b"\n", n: int = 200, count: int = 1,
            temperature: float = 1.0, seed: int = 0) -> list[bytes]:
    """``count`` samples of ``n`` bytes drawn side by side after ``prime`` (one generator, seeded by ``seed``).

    ``model`` is anything called like a model (``lit_rnn.interventions.Intervened`` too).
    """
    if temperature <= 0:
        raise UserError(f"temperature must be positive, got {temperature}")
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    model.eval()
    ids = torch.from_numpy(corpus.encode(prime or b"\n").astype(np.int64))[None].repeat(count, 1).to(device)
    with exact_fp32():
        logits, state = model(ids)
        out = []
        for _ in range(n):
            probs = torch.softmax(logits[:, -1].float().cpu() / temperature, dim=-1)
            next_ids = torch.multinomial(probs, 1, generator=generator)
            out.append(next_ids[:, 0].numpy())
            logits, state = model(next_ids.to(device), state)
    drawn = np.stack(out, axis=1) if out else np.zeros((count, 0), dtype=np.int64)
    return [corpus.decode(row) for row in drawn]
