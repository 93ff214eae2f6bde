"""What a trained run predicts and what its cells do over a split, cached beside the run.

Both passes carry each row's state across the whole split, exactly as training carries it
from batch to batch, and return values in the text's order (rows are contiguous and ordered,
so flattening row by row is text order).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from lit_rnn.data import Batcher, Corpus
from lit_rnn.errors import UserError
from lit_rnn.models import TRACE_QUANTITIES, CharLM
from lit_rnn.predictions import Predictions
from lit_rnn.train import Run, resolve_device


def _split_tensors(batcher: Batcher, split: str, device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    inputs = torch.from_numpy(batcher.split_inputs(split).astype(np.int64)).to(device)
    return inputs, batcher.split_targets(split)


def _check_corpus(run: Run, corpus: Corpus) -> None:
    if run.config.corpus_sha256 != corpus.sha256:
        raise UserError(f"run {run.config.run_id} was trained on another corpus than {corpus.name!r}")


@torch.no_grad()
def model_predictions(
    model: CharLM, batcher: Batcher, split: str, name: str, device: str = "cpu", chunk: int = 500
) -> Predictions:
    """Next-byte distributions of ``model`` at every position of ``split``."""
    device = resolve_device(device)
    model = model.to(device).eval()
    inputs, targets = _split_tensors(batcher, split, device)
    target_ids = torch.from_numpy(targets.astype(np.int64)).to(device)
    rows, length = inputs.shape
    probs = np.empty((rows, length, model.config.vocab_size), dtype=np.float16)
    target_log_probs = np.empty((rows, length), dtype=np.float32)
    state = None
    for start in range(0, length, chunk):
        window = slice(start, start + chunk)
        logits, state = model(inputs[:, window], state)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        probs[:, window] = log_probs.exp().cpu().numpy()
        target_log_probs[:, window] = log_probs.gather(-1, target_ids[:, window, None])[..., 0].cpu().numpy()
    return Predictions(
        probs=probs.reshape(rows * length, -1),
        target_log_probs=target_log_probs.reshape(-1),
        targets=targets.reshape(-1),
        positions=batcher.positions(split).reshape(-1),
        model=name,
        kind=model.config.cell,
        corpus_sha256=batcher.corpus.sha256,
        split=split,
    )


def predictions(run: Run, corpus: Corpus, split: str = "test", device: str = "cpu",
                checkpoint: Path | None = None) -> Predictions:
    """The run's predictions over ``split`` (best weights, or ``checkpoint``), cached in the run folder."""
    _check_corpus(run, corpus)
    tag = checkpoint.stem if checkpoint is not None else "best"
    path = run.dir / "predictions" / f"{split}-{tag}.npz"
    if path.exists():
        return Predictions.load(path)
    recipe = run.config.recipe
    result = model_predictions(
        run.load_model(device, checkpoint), corpus.batcher(recipe.batch_size, recipe.seq_length), split,
        run.config.model.name, device,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    result.save(path)
    return result


class Trace:
    """Per-layer gate, cell and hidden values over a split, as float16 arrays memory-mapped from disk.

    ``trace[layer][name]`` has shape (positions, hidden) in the text's order; names are
    ``TRACE_QUANTITIES[cell]`` (``i f g o c h`` for the LSTM, ``r z n h`` for the GRU, ``h``).
    """

    def __init__(self, folder: Path, cell: str, n_layers: int):
        self.folder, self.cell, self.n_layers = folder, cell, n_layers
        self.positions = np.load(folder / "positions.npy", mmap_mode="r")

    def __len__(self) -> int:
        return self.n_layers

    def __getitem__(self, layer: int) -> dict[str, np.ndarray]:
        if not 0 <= layer < self.n_layers:
            raise IndexError(f"layer {layer} out of range: the model has {self.n_layers}")
        return {name: np.load(self.folder / f"layer{layer}_{name}.npy", mmap_mode="r")
                for name in TRACE_QUANTITIES[self.cell]}


@torch.no_grad()
def write_trace(model: CharLM, batcher: Batcher, split: str, folder: Path, chunk: int = 250) -> None:
    """Stream ``model.trace`` over ``split`` into float16 ``.npy`` files (one per layer and quantity).

    Each chunk of steps is written straight to its place in the files, so memory stays at one
    chunk: a 3-layer 512 LSTM over a 330,000-byte split is 5.7 GiB on disk, not in RAM.
    """
    device = next(model.parameters()).device
    inputs, _ = _split_tensors(batcher, split, device)
    rows, length = inputs.shape
    hidden, cell = model.config.hidden_size, model.config.cell
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.save(partial / "positions.npy", batcher.positions(split).reshape(-1))
    files, data_offset = {}, 0
    for layer in range(model.config.n_layers):
        for name in TRACE_QUANTITIES[cell]:
            # (positions, hidden) in text order = (rows, length, hidden) flattened row by row.
            path = partial / f"layer{layer}_{name}.npy"
            header = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(rows * length, hidden))
            data_offset = header.offset
            del header
            files[layer, name] = open(path, "r+b")  # noqa: SIM115 - closed below
    row_bytes, value_bytes = length * hidden * 2, hidden * 2
    try:
        state = None
        for start in range(0, length, chunk):
            layers, _, state = model.trace(inputs[:, start : start + chunk], state)
            for layer, values in enumerate(layers):
                for name, value in values.items():
                    block = value.to(torch.float16).cpu().numpy()  # (rows, steps, hidden)
                    handle = files[layer, name]
                    for row in range(rows):
                        handle.seek(data_offset + row * row_bytes + start * value_bytes)
                        handle.write(block[row].tobytes())
    finally:
        for handle in files.values():
            handle.close()
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def trace(run: Run, corpus: Corpus, split: str = "test", device: str = "cpu") -> Trace:
    """The run's trace over ``split`` (best weights), computed once and memory-mapped after."""
    _check_corpus(run, corpus)
    folder = run.dir / f"trace-{split}"
    config = run.config.model
    if not folder.exists():
        recipe = run.config.recipe
        write_trace(run.load_model(resolve_device(device)), corpus.batcher(recipe.batch_size, recipe.seq_length),
                    split, folder)
    return Trace(folder, config.cell, config.n_layers)


@torch.no_grad()
def sample(model: CharLM, corpus: Corpus, prime: bytes = b"\n", n: int = 200, temperature: float = 1.0,
           seed: int = 0) -> bytes:
    """``n`` bytes sampled from the model after feeding it ``prime``; lower temperature is greedier."""
    if temperature <= 0:
        raise UserError(f"temperature must be positive, got {temperature}")
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    model.eval()
    ids = torch.from_numpy(corpus.encode(prime or b"\n").astype(np.int64))[None].to(device)
    logits, state = model(ids)
    out = []
    for _ in range(n):
        probs = torch.softmax(logits[0, -1].float().cpu() / temperature, dim=-1)
        next_id = torch.multinomial(probs, 1, generator=generator)
        out.append(int(next_id))
        logits, state = model(next_id[None].to(device), state)
    return corpus.decode(np.array(out))
