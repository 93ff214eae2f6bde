"""Training a preset's whole grid, several runs at once if asked, and choosing dropout on validation.

Two trainers: one run per training (``jobs`` processes at a time), or packs of runs that train as
one computation (:mod:`lit_rnn.packed`), the default on a GPU, where one run leaves it mostly idle.
Packs group an architecture and depth's runs (``pack_by="depth"``), one model's dropouts (``model``)
or each run alone (``run``); on a GPU, ``streams`` packs train at once in this process, each on its
own CUDA stream (separate processes only take turns on one GPU). ``lit-rnn gpu-window`` measures which
is fastest on a device.

Where the trainings run is the executor's business, and only that: in this process or a process pool
(``process``, the default), or one submitit job each (``local``: submitit's LocalExecutor on this
machine; ``slurm``: a cluster, the run store on a file system its nodes share). Every executor runs
the same :func:`_train_group`, and a job cut by its time limit is requeued by submitit and resumes
its runs from their checkpoints.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import submitit
import torch
from tqdm.auto import tqdm

from lit_rnn.data import Corpus
from lit_rnn.devices import resolve_precision
from lit_rnn.errors import UserError
from lit_rnn.models import RECURRENT, ModelConfig
from lit_rnn.packed import pack_groups, train_packed, train_streams
from lit_rnn.pools import SPAWN, interrupt_workers, spawn_pool, submit, terminated_as_interrupted
from lit_rnn.runs import Run, RunConfig, import_shipped
from lit_rnn.train import TrainOptions, get_or_train, total_steps

TRAINERS = ("auto", "packed", "per-run")
EXECUTORS = ("process", "local", "slurm")


@dataclass(frozen=True)
class ClusterOptions:
    """Where submitit runs the grid's trainings (one job per pack or run), and what each job asks for."""

    executor: str = "process"  # process: here (in-process or ``jobs`` processes); local or slurm: submitit jobs
    partition: str | None = None  # the Slurm partition (None: the cluster's default)
    time_min: int = 240  # a job's time limit; one cut by it is requeued and resumes from its checkpoints
    gpus_per_job: int = 1  # 0: CPU jobs (a local job gets at most the GPUs this machine has)
    cpus_per_job: int = 4
    precision: str = "auto"  # resolved in the job, on its own device
    logs: Path | None = None  # submitit's logs and job files (default: <artifacts>/submitit)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise UserError(f"unknown executor {self.executor!r}: choose one of {', '.join(EXECUTORS)}")
        if self.time_min < 1 or self.gpus_per_job < 0 or self.cpus_per_job < 1:
            raise UserError("a job needs a positive time limit and CPU count, and a GPU count of 0 or more")

    @property
    def job_device(self) -> torch.device:
        """The device a job trains on: a GPU if it gets one (a local job: at most the GPUs this machine has)."""
        gpus = self.gpus_per_job if self.executor == "slurm" else min(self.gpus_per_job, torch.cuda.device_count())
        return torch.device("cuda" if gpus else "cpu")


def packs_for(trainer: str, device: torch.device) -> bool:
    """Whether ``trainer`` trains in packs: ``packed``, ``per-run``, or ``auto`` (packs on a GPU, one run per
    training on a CPU, where a pack is not faster)."""
    if trainer not in TRAINERS:
        raise UserError(f"unknown trainer {trainer!r}: choose one of {', '.join(TRAINERS)}")
    return trainer == "packed" or (trainer == "auto" and device.type == "cuda")


def _train_group(group: list[RunConfig], corpus: Corpus, options: TrainOptions, artifacts: str | Path,
                 threads: int | None = None) -> None:
    """One training: a pack of runs, or a single run."""
    if threads is not None:
        torch.set_num_threads(threads)
    if len(group) > 1:
        train_packed(group, corpus, options, artifacts)
    else:
        get_or_train(group[0], corpus, options, artifacts)


class _SubmittedTraining(submitit.helpers.Checkpointable):
    """One training as a submitit job: requeued as it was when its time runs out, so it resumes from checkpoints."""

    def __call__(self, group: list[RunConfig], corpus: Corpus, options: TrainOptions, artifacts: str,
                 cluster: ClusterOptions) -> None:
        device = cluster.job_device
        options = replace(options, device=device, precision=resolve_precision(cluster.precision, device))
        _train_group(group, corpus, options, artifacts, threads=cluster.cpus_per_job if device.type == "cpu" else None)


def _submit(groups: list[list[RunConfig]], corpus: Corpus, options: TrainOptions, artifacts: Path,
            cluster: ClusterOptions) -> None:
    """Train ``groups`` as submitit jobs, one each, and wait for them all (a failed job's error is raised here)."""
    gpus = int(cluster.job_device.type == "cuda") * cluster.gpus_per_job
    executor = submitit.AutoExecutor(folder=cluster.logs or artifacts / "submitit", cluster=cluster.executor)
    executor.update_parameters(name="lit-rnn-grid", timeout_min=cluster.time_min, gpus_per_node=gpus,
                               cpus_per_task=cluster.cpus_per_job, tasks_per_node=1, nodes=1)
    if cluster.partition is not None:
        executor.update_parameters(slurm_partition=cluster.partition)
    with executor.batch():
        submitted = [executor.submit(_SubmittedTraining(), group, corpus, replace(options, progress=False),
                                     str(artifacts), cluster) for group in groups]
    for job in tqdm(submitit.helpers.as_completed(submitted, poll_frequency=1), total=len(submitted), unit="job",
                    desc=f"{cluster.executor} jobs on {corpus.name}", disable=not options.progress):
        job.result()


def train_runs(
    configs: list[RunConfig],
    corpus: Corpus,
    options: TrainOptions,
    artifacts: str | Path,
    jobs: int = 1,
    *,
    shipped: Path | None = None,
    packed: bool = False,
    pack_by: str = "depth",
    streams: int = 1,
    cluster: ClusterOptions = ClusterOptions(),
) -> list[Run]:
    """The finished runs of ``configs``: from the store, imported from ``shipped`` (``pretrained/``) where a
    run is there, trained otherwise, ``jobs`` trainings at a time, each a single run or, with ``packed``, a
    pack of the runs :func:`lit_rnn.packed.pack_groups` groups (``pack_by``: those that share architecture and
    depth, or model, or each run alone), with ``streams`` > 1 that many packs at once on their own CUDA streams
    (``options.cuda_graphs``: each pack's step replayed from a CUDA graph); with a ``cluster`` executor, one
    submitit job per training."""
    device = options.device if cluster.executor == "process" else cluster.job_device
    if options.cuda_graphs and not (packed and device.type == "cuda"):
        raise UserError("--cuda-graphs replays packs' steps on a CUDA GPU: use it there, with --trainer packed (or "
                        "auto)")
    if shipped is not None:
        import_shipped(configs, shipped, artifacts)
    pending = [c for c in configs if not Run(c, artifacts).is_finished]
    groups = pack_groups(pending, pack_by) if packed else [[c] for c in pending]
    if packed and streams > 1:
        if cluster.executor != "process" or jobs > 1:
            raise UserError("--streams trains packs side by side in this process: use it without --jobs and "
                            "with --executor process")
        recurrent = [c for c in pending if c.model.architecture in RECURRENT]
        groups = [g for g in groups if g[0].model.architecture not in RECURRENT]  # n-NNs and Transformers, alone
        train_streams(recurrent, corpus, options, artifacts, by=pack_by, streams=streams)
    if cluster.executor != "process" and groups:
        _submit(groups, corpus, options, Path(artifacts).resolve(), cluster)
    elif jobs <= 1 or len(groups) <= 1:
        for group in groups:
            _train_group(group, corpus, options, artifacts)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs) if options.device.type == "cpu" else 1
        told, stop = SPAWN.Queue() if options.progress else None, SPAWN.Event()
        quiet = replace(options, progress=False)
        with spawn_pool(jobs, _set_up_worker, (threads, told, stop)) as pool, terminated_as_interrupted():
            try:
                futures = {submit(pool, _train_in_pool, g, corpus, quiet, artifacts): g for g in groups}
                _follow(futures, told, corpus, artifacts, label=f"training on {corpus.name}",
                        progress=options.progress)
            except BaseException as error:  # Ctrl-C or TERM (the trainings under way checkpoint), a training's error
                stop.set()
                if isinstance(error, KeyboardInterrupt):
                    interrupt_workers()
                pool.shutdown(cancel_futures=True)
                raise
    return [Run(c, artifacts) for c in configs]


_POOL: dict[str, object] = {}  # in a pool process: its threads, its queue to the bar and the grid's stop


def _set_up_worker(threads: int, told: Queue | None, stop: Event) -> None:
    """A pool process: its share of the cores, where to tell its steps (a report that cannot be delivered is
    dropped, not waited for on exit) and the event that stops the grid."""
    if told is not None:
        told.cancel_join_thread()
    _POOL.update(threads=threads, told=told, stop=stop)


def _train_in_pool(group: list[RunConfig], corpus: Corpus, options: TrainOptions, artifacts: str | Path) -> None:
    """One training in a pool process, none once the grid is stopped; its Ctrl-C or error stops the grid, as the
    process would otherwise take its next training (one may be queued to it already)."""
    told, stop = _POOL["told"], _POOL["stop"]
    try:
        if not stop.is_set():
            if told is not None:
                options = replace(options, on_step=lambda run_id, step: told.put((run_id, step)))
            _train_group(group, corpus, options, artifacts, _POOL["threads"])
    except BaseException:
        stop.set()
        raise


def _follow(futures: dict[Future, list[RunConfig]], told: Queue | None, corpus: Corpus,
            artifacts: str | Path, *, label: str, progress: bool) -> None:
    """Wait for trainings in pool processes under one bar over all their steps (a resumed run's counted from its
    last evaluation, then from the steps it tells ``told`` at its progress lines); a training's error raised here."""
    steps = {c.run_id: total_steps(c.recipe, c.batcher(corpus).n_train) for g in futures.values() for c in g}
    at = {c.run_id: max((r["step"] for r in Run(c, artifacts).metrics), default=0)
          for g in futures.values() for c in g}
    pending = set(futures)
    with tqdm(total=sum(steps.values()), initial=sum(at.values()), unit="step", desc=label, disable=not progress,
              dynamic_ncols=True) as bar:
        while pending:
            done, pending = wait(pending, timeout=0.5)
            for future in done:
                future.result()
                at.update({c.run_id: steps[c.run_id] for c in futures[future]})  # its runs (early stopped) done
            while told is not None and not told.empty():
                run_id, step = told.get()
                at[run_id] = max(at[run_id], step)
            bar.set_postfix(trainings=f"{len(futures) - len(pending)} of {len(futures)} done", refresh=False)
            bar.update(sum(at.values()) - bar.n)


def choose_dropout(runs: list[Run]) -> list[Run]:
    """Per model (its whole config but dropout: every n-NN is its own model), the run whose dropout gave the
    lowest validation loss."""
    best: dict[ModelConfig, Run] = {}
    for run in runs:
        key = replace(run.config.model, dropout=0.0)
        if key not in best or run.result.best_val_loss < best[key].result.best_val_loss:
            best[key] = run
    return list(best.values())
