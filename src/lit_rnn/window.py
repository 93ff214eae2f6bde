"""A GPU window: a few minutes of a GPU spent on what the run store lacks, none of them lost.

    lit-rnn gpu-window --minutes 9 --out window/     # then, anywhere: lit-rnn runs import window/runs/*

In order:

1. a short check of the device (:mod:`lit_rnn.probe`): the written-out equations against its fused
   kernels; whether a pack's step captured as a CUDA graph trains as its eager step does; the seconds
   per step of every pack the window could train; and the aggregate run-steps/s of one pack against
   the same runs in smaller packs on concurrent CUDA streams (one model's dropouts, or each run alone),
   each of these with its step replayed from a CUDA graph where the graphs passed their check, and in
   N concurrent processes, side by side;
2. training, in priority order, of what the store lacks (after importing what ``pretrained/`` ships):
   the ``core`` preset's runs of every corpus, then the ``paper`` preset's grid of the first corpus,
   then of the next, then that preset's replicates (some grid models again with other seeds) of each corpus.
   Each training is the runs of one architecture and depth (an n-NN alone), trained as one pack or, where the
   probe found it faster (or ``pack_by`` says so), as smaller packs on concurrent streams
   (:func:`lit_rnn.packed.train_streams`), with CUDA graphs where they were fastest.
   A training whose projected time (from its measured seconds per step, validations included, without
   early stopping) does not fit in the time left is not started (``partial`` starts it anyway: the
   deadline cuts it). Training stops at the deadline: every run still training is checkpointed and
   left unfinished. A training that fails is reported as failed and the window goes on;
3. whatever stopped the window, the runs it finished are exported in fp16 to ``out/runs/``
   (:func:`lit_rnn.runs.export_run`), its unfinished runs with their checkpoints to ``out/unfinished/``
   (:func:`export_cut`, within what a later window can be given), which the next window, on a fresh machine, goes
   on from (``--resume out/unfinished``), and a report is written: ``out/report.json`` and ``out/report.md`` (each
   training with its measured time per step and per validation pass, its projected and its actual time, and its
   outcome), first after the device check, then at the end.

The projected wall times (core set; grid and replicates per corpus) add up every pack's measured steps and
validations over its recipe without early stopping (an upper bound), packs one after another; the streams' and the
per-run path's scale the steps by the probe's ratio of rates (an assumption: that ratio holds for every
pack), and so does a training on streams its own projected time.

It imports nothing that draws (no plotly): a bare machine with PyTorch runs it with ``PYTHONPATH=src``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from lit_rnn.atomic import atomic_write_text
from lit_rnn.data import Corpus, load_corpus
from lit_rnn.devices import LOSS_SCALE, PRECISIONS, describe, resolve_device, resolve_precision
from lit_rnn.errors import UserError, one_line
from lit_rnn.evaluate import sampled_snapshots
from lit_rnn.folders import resolve_artifacts, resolve_data_dir
from lit_rnn.models import RECURRENT
from lit_rnn.packed import PACK_BY, WARMUP_STEPS, pack_groups, train_packed, train_streams
from lit_rnn.presets import Preset, get_preset
from lit_rnn.probe import (
    Timing,
    autocast_rnn_dtypes,
    graph_check,
    per_run_rate,
    streams_rate,
    time_training,
    trace_agreement,
)
from lit_rnn.runs import (
    SHIPPED,
    Run,
    RunConfig,
    export_run,
    export_unfinished,
    import_shipped,
    resumable_bytes,
    resume_unfinished,
)
from lit_rnn.train import TrainingDiverged, TrainOptions, train

RESERVE_S = 30.0  # seconds kept at the end of a window for the export and the report
STAGES = ("core", "grid", "replicates")  # what a window trains, in this order: see stage_configs
UNFINISHED_MIB = 48.0  # the most the cut runs' export takes: with the corpora, within what a later window can carry


@dataclass
class Task:
    """One training the window may start: a pack of runs (or a run alone) of one stage and corpus."""

    stage: str  # one of STAGES
    corpus: Corpus
    configs: list[RunConfig]
    preset: Preset
    timing: Timing | None = None
    projected_s: float = 0.0  # from where the runs stand
    seconds: float = 0.0
    outcome: str = "pending"  # trained, cut, skipped, diverged: ..., failed: ...

    @property
    def label(self) -> str:
        model = self.configs[0].model
        what = model.name if model.architecture == "nnn" else f"{model.architecture}-{model.n_layers} layers"
        return f"{self.stage} {self.corpus.name}: {what} ({len(self.configs)} runs)"


def stage_configs(corpus: Corpus, core: Preset, grid: Preset) -> list[tuple[str, Preset, Corpus, list[RunConfig]]]:
    """The window's stages for one corpus, one per name of ``STAGES``: every run of ``core``, the Table 1 grid of
    ``grid``, and that grid's replicates (its training noise)."""
    stages = []
    for stage, preset in zip(STAGES, (core, grid, grid), strict=True):
        text = corpus.head(preset.max_bytes) if preset.max_bytes else corpus
        configs = {"core": preset.run_configs, "grid": preset.grid_configs,
                   "replicates": preset.replicate_configs}[stage](text)
        stages.append((stage, preset, text, configs))
    return stages


def plan(corpora: list[Corpus], core: Preset, grid: Preset, artifacts: Path | None = None) -> list[Task]:
    """The trainings in priority order: the ``core`` runs of every corpus, then the ``grid`` of each corpus in
    turn, then its replicates of each; each run once and, given the store ``artifacts``, only the runs it has not
    finished."""
    stages = [stage_configs(corpus, core, grid) for corpus in corpora]
    ordered = [of_corpus[i] for i in range(len(STAGES)) for of_corpus in stages]
    tasks, seen = [], set()
    for stage, preset, text, configs in ordered:
        fresh = [c for c in configs if c.run_id not in seen]
        seen.update(c.run_id for c in fresh)
        if artifacts is not None:
            fresh = [c for c in fresh if not Run(c, artifacts).is_finished]
        tasks += [Task(stage, text, group, preset) for group in pack_groups(fresh)]
    return tasks


def projected_seconds(task: Task, artifacts: Path | None = None) -> float:
    """The task's projected training time from where its runs stand (from scratch without ``artifacts``); runs
    resumed at different steps train one after another."""
    steps = sorted({Run(c, artifacts).step if artifacts else 0 for c in task.configs})
    return sum(task.timing.seconds(task.configs, task.corpus, done) for done in steps)


@dataclass
class Report:
    """What a window measured and did."""

    device: str
    precision: str
    minutes: float
    started: str
    check_s: float = 0.0  # seconds the device check took
    trace: list[dict] = field(default_factory=list)
    throughput: dict = field(default_factory=dict)
    projected_s: dict = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # from pretrained/ into the store, not trained
    resumed: list[str] = field(default_factory=list)  # unfinished runs of an earlier window, gone on from here
    not_resumed: dict = field(default_factory=dict)  # folders of those that could not be taken up, and why
    exported: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # cut by the deadline: exported with their checkpoints
    not_carried: list[str] = field(default_factory=list)  # cut too, but over what a later window can carry
    probe_errors: dict = field(default_factory=dict)  # a path of the throughput probe that failed: not taken
    export_errors: dict = field(default_factory=dict)  # a run that could not be exported, and why
    error: str = ""  # what stopped the window early, if anything did
    pack_by: str = "depth"  # how the window trained each architecture and depth's runs (lit_rnn.packed.PACK_BY)
    graphs: dict = field(default_factory=dict)  # the CUDA graphs' check (lit_rnn.probe.graph_check); empty: not run
    rnn_dtype: dict = field(default_factory=dict)  # per architecture, what its recurrent layer computes in
    cuda_graphs: bool = False  # whether the packs trained with their steps replayed from CUDA graphs
    finished: str = ""


def _task_row(task: Task) -> dict:
    return {"stage": task.stage, "corpus": task.corpus.name, "training": task.label, "runs": len(task.configs),
            "run_ids": [c.run_id for c in task.configs], "projected_s": round(task.projected_s, 1),
            "seconds": round(task.seconds, 1), "outcome": task.outcome,
            "step_s": task.timing.step_s, "validation_s": task.timing.validation_s}


CUDA_GRAPHS = ("auto", "off")  # auto: checked on a GPU, used where the probe finds them fastest


def path(pack_by: str, cuda_graphs: bool = False) -> str:
    """The name of the training path that trains an architecture and depth's runs grouped ``pack_by``, with their
    steps replayed from CUDA graphs or not."""
    name = "packed" if pack_by == "depth" else f"streams by {pack_by}"
    return f"{name} with CUDA graphs" if cuda_graphs else name


def fastest(rates: dict[str, float], pack_by: str = "auto", cuda_graphs: bool = False) -> tuple[str, bool]:
    """The grouping (``pack_by``, or the fastest if ``auto``) and whether with CUDA graphs (only if ``cuda_graphs``:
    they passed their check) of the fastest path in the probe's ``rates`` (run-steps/s by :func:`path`); one pack,
    eager, where none of those was measured (their probe failed)."""
    choices = [(by, graphed) for by in (PACK_BY if pack_by == "auto" else (pack_by,))
               for graphed in ((False, True) if cuda_graphs else (False,)) if path(by, graphed) in rates]
    return max(choices, key=lambda choice: rates[path(*choice)]) if choices else ("depth", False)


def measure(corpora: list[Corpus], core: Preset, grid: Preset, options: TrainOptions, processes: int | None,
            report: Report, steps: int = 5, pack_by: str = "auto", cuda_graphs: str = "auto") -> dict[str, Timing]:
    """The device check: trace agreement, the CUDA graphs' check (on a GPU, unless ``cuda_graphs`` is ``off``), every
    pack's timing (the whole core set, grid and replicates, finished or not), the throughput of the grid's largest
    pack against its runs in smaller packs on concurrent streams (each with CUDA graphs too, where they passed) and in
    ``processes`` processes (default one per run of it; 0: not measured), and the projected wall times; sets
    ``report.pack_by`` and ``report.cuda_graphs`` (``auto``: the fastest in the probe); returns each run's timing by
    run id, as it will train."""
    start = time.monotonic()
    report.trace = trace_agreement(options.device)
    report.rnn_dtype = (autocast_rnn_dtypes(options.device) if options.precision == "bf16"
                        else dict.fromkeys(RECURRENT, options.precision))
    if options.device.type == "cuda" and cuda_graphs == "auto":
        report.graphs = graph_check(options.device, options.precision)
    graphs = (False, True) if report.graphs.get("passed") else (False,)
    timings, sets = {}, {}
    for task in plan(corpora, core, grid):
        task.timing = time_training(task.configs, task.corpus, options, steps=steps)
        timings |= {c.run_id: task.timing for c in task.configs}
        name = "core" if task.stage == "core" else f"{task.stage} {task.corpus.name}"
        sets.setdefault(name, []).append(task)
    probe = max((t for t in sets.get(f"grid {corpora[0].name}", [])), key=lambda t: len(t.configs), default=None)
    rates = {}  # the probe's run-steps/s per path, against which every projection is scaled
    if probe is not None:
        processes = len(probe.configs) if processes is None else processes
        rates = {"packed": len(probe.configs) / probe.timing.step_s}
        for graphed, by in itertools.product(graphs, PACK_BY):  # the eager paths first: a failed capture may
            if (by == "depth" and not graphed) or (graphed and not report.graphs["passed"]):  # spoil what follows
                continue  # the eager pack's rate is its timing's; graphs that failed in the probe are not timed
            try:
                rates[path(by, graphed)] = streams_rate(
                    probe.configs, probe.corpus, dataclasses.replace(options, cuda_graphs=graphed), by,
                    steps=4 * steps, warmup=WARMUP_STEPS + 2 if graphed else 2)
            except Exception as error:  # not a path to take; the window goes on without it
                report.probe_errors[path(by, graphed)] = one_line(error)
                if graphed:
                    report.graphs |= {"passed": False, "error": f"in the throughput probe, {one_line(error)}"}
        if processes:
            try:
                rates["per_run"] = per_run_rate(probe.configs, probe.corpus, options, processes, steps=4 * steps)
            except Exception as error:  # a comparison only: the window trains without it
                report.probe_errors["per_run"] = one_line(error)
        report.throughput = {"probe": probe.label, "runs": len(probe.configs), "per_run_processes": processes,
                             "run_steps_per_s": rates}
    if rates:
        report.pack_by, report.cuda_graphs = fastest(rates, pack_by, cuda_graphs=report.graphs.get("passed", False))
    elif pack_by != "auto":
        report.pack_by = pack_by
    for name, tasks in sets.items():
        steps_s, validation_s = (sum(parts) for parts in zip(*(t.timing.parts(t.configs, t.corpus) for t in tasks)))
        # each path's steps at the probe's ratio of rates to the packed path's; the same validations
        report.projected_s[name] = {key: steps_s * rates["packed"] / rate + validation_s
                                    for key, rate in rates.items()} if rates else {"packed": steps_s + validation_s}
    chosen = path(report.pack_by, report.cuda_graphs)
    if chosen != "packed" and rates:  # the trainings of packs on streams or graphs: their steps at the probe's ratio
        ratio = rates["packed"] / rates[chosen]
        packs = {c.run_id for tasks in sets.values() for t in tasks if len(t.configs) > 1 for c in t.configs}
        timings |= {run_id: Timing(timings[run_id].step_s * ratio, timings[run_id].validation_s) for run_id in packs}
    report.check_s = time.monotonic() - start
    return timings


def train_task(task: Task, options: TrainOptions, artifacts: Path, pack_by: str = "depth") -> list[Run]:
    """Train (or resume) the task's runs until they finish or the deadline comes: as one pack (``pack_by="depth"``)
    or as the smaller packs of ``pack_by`` on concurrent streams; a run alone as itself."""
    if len(task.configs) == 1:
        return [train(task.configs[0], task.corpus, options, artifacts)]
    if pack_by == "depth":
        return train_packed(task.configs, task.corpus, options, artifacts)
    return train_streams(task.configs, task.corpus, options, artifacts, by=pack_by)


def train_window(tasks: list[Task], options: TrainOptions, artifacts: Path, partial: bool = False,
                 pack_by: str = "depth") -> list[Run]:
    """Start the tasks in order while the time left allows, each trained as ``pack_by`` says; returns the runs
    that finished."""
    finished = []
    for task in tasks:
        task.projected_s = projected_seconds(task, artifacts)
        left = options.deadline - time.monotonic()
        if left <= 0 or (task.projected_s > left and not partial):
            task.outcome = "skipped"
            continue
        start = time.monotonic()
        snapshots = dataclasses.replace(options, snapshot_steps=task.preset.snapshot_steps)
        try:
            runs = train_task(task, snapshots, artifacts, pack_by)
            task.outcome = "trained" if all(run.is_finished for run in runs) else "cut"
        except TrainingDiverged as error:  # on streams, the task's other packs went on and may have finished
            task.outcome, runs = f"diverged: {error}", [Run(c, artifacts) for c in task.configs]
        except Exception as error:  # out of memory, a kernel's error: its runs stay as checkpointed; the window goes on
            task.outcome, runs = f"failed: {one_line(error)}", [Run(c, artifacts) for c in task.configs]
        task.seconds = time.monotonic() - start
        finished += [run for run in runs if run.is_finished]
    return finished


def export_finished(runs: list[Run], out: Path, corpora: list[Corpus], device: torch.device,
                    dynamics_epochs: float | None) -> tuple[list[str], dict[str, str]]:
    """The finished runs in fp16 in ``out/runs/`` (what ``lit-rnn runs import`` takes): the training-dynamics runs
    (``dynamics_epochs`` long) with their snapshots in the light, sampled form, the others without snapshots, so a
    window's output stays within what a GPU machine can send back; the ids exported, and each run that could not
    be with why."""
    by_sha = {corpus.sha256: corpus for corpus in corpora}
    exported, failed = [], {}
    for run in runs:
        dynamics = _is_dynamics(run, dynamics_epochs)
        try:
            if not (out / "runs" / run.config.run_id).exists():
                if dynamics:
                    sampled_snapshots(run, by_sha[run.config.corpus_sha256], device)
                export_run(run, out / "runs", half=True, snapshots=dynamics, sampled=dynamics)
        except Exception as error:  # the others are exported all the same
            failed[run.config.run_id] = one_line(error)
            continue
        exported.append(run.config.run_id)
    return exported, failed


def gpu_window(corpora: list[Corpus], out: Path, *, deadline: float, core: Preset, grid: Preset,
               options: TrainOptions, artifacts: Path, processes: int | None = None, partial: bool = False,
               shipped: Path | None = None, minutes: float = 0.0, pack_by: str = "auto",
               cuda_graphs: str = "auto", resume: Path | None = None,
               carry_bytes: int = UNFINISHED_MIB * 2**20) -> Report:
    """Check the device, take up the unfinished runs of an earlier window (``resume``: its ``out/unfinished/``),
    train what the store lacks in priority order until ``deadline`` (a ``time.monotonic()`` time), export what
    finished into ``out/runs/`` and what was cut into ``out/unfinished/`` (at most ``carry_bytes``, in priority
    order), and write ``out/report.json`` and ``out/report.md``: after the check, and at the end whatever stopped
    the window (a failure is the report's ``error``, and raised after the exports)."""
    out.mkdir(parents=True, exist_ok=True)
    report = Report(describe(options.device), options.precision, minutes, _now())
    tasks: list[Task] = []
    try:
        if shipped is not None:
            configs = [c for task in plan(corpora, core, grid, artifacts) for c in task.configs]
            report.imported = [run.config.run_id for run in import_shipped(configs, shipped, artifacts)]
        if resume is not None:
            report.resumed, report.not_resumed = take_up(resume, artifacts)
        timings = measure(corpora, core, grid, options, processes, report, pack_by=pack_by, cuda_graphs=cuda_graphs)
        _save(report, out)
        tasks = plan(corpora, core, grid, artifacts)
        for task in tasks:
            task.timing = timings[task.configs[0].run_id]  # its whole pack's: an upper bound for part of it
        train_window(tasks, dataclasses.replace(options, deadline=deadline, cuda_graphs=report.cuda_graphs),
                     artifacts, partial, report.pack_by)
    except BaseException as error:
        report.error = one_line(error)
        raise
    finally:
        report.tasks = [_task_row(task) for task in tasks if task.timing is not None]
        last = ("diverged", "failed")  # their runs are carried after those merely cut, or not at all
        runs = [Run(c, artifacts) for task in sorted(tasks, key=lambda task: task.outcome.startswith(last))
                for c in task.configs]  # each unfinished when planned
        report.unfinished, report.not_carried, failed = export_cut(  # the cut runs first: a copy each, where the
            [run for run in runs if not run.is_finished and run.step > 0], out / "unfinished", carry_bytes,
            core.dynamics_epochs)  # finished runs' export evaluates the dynamics runs' snapshots on the device
        report.exported, failed_too = export_finished([run for run in runs if run.is_finished], out, corpora,
                                                      options.device, core.dynamics_epochs)
        report.export_errors = failed | failed_too
        for run_id in report.exported:  # finished now: no longer carried to the next window
            shutil.rmtree(out / "unfinished" / run_id, ignore_errors=True)
        report.finished = _now()
        _save(report, out)
    return report


def take_up(resume: Path, artifacts: Path) -> tuple[list[str], dict[str, str]]:
    """The unfinished runs in ``resume`` (an earlier window's ``out/unfinished/``) brought into the store to go on
    from their checkpoints (:func:`lit_rnn.runs.resume_unfinished`): the run ids taken up, and why each folder that
    could not be was left (the window goes on without it)."""
    taken, left = [], {}
    for folder in sorted(f for f in resume.iterdir() if not f.name.startswith(".")):  # not a killed export
        try:
            run = resume_unfinished(folder, artifacts)
        except UserError as error:
            left[folder.name] = str(error)
            continue
        if run is not None:
            taken.append(run.config.run_id)
    return taken, left


def export_cut(runs: list[Run], destination: Path, carry_bytes: int, dynamics_epochs: float | None
               ) -> tuple[list[str], list[str], dict[str, str]]:
    """The unfinished ``runs`` with their checkpoints in ``destination`` (:func:`lit_rnn.runs.export_unfinished`,
    replacing an earlier export of a run), in order while the folder stays within ``carry_bytes`` (what a later
    window can be given; what it holds of other runs counts), the training-dynamics runs with their weight snapshots
    and the others without (their finished export drops them); the ids exported, those left out, and each run that
    could not be exported with why."""
    destination.mkdir(parents=True, exist_ok=True)
    for leftover in destination.glob(".export-*"):  # of an export killed midway
        shutil.rmtree(leftover, ignore_errors=True)
    ids = {run.config.run_id for run in runs}
    size = sum(_folder_bytes(folder) for folder in destination.iterdir() if folder.name not in ids)
    exported, left_out, failed = [], [], {}
    for run in runs:
        snapshots = _is_dynamics(run, dynamics_epochs)
        need = resumable_bytes(run, snapshots)
        if size + need > carry_bytes:
            left_out.append(run.config.run_id)
            continue
        try:
            exported.append(export_unfinished(run, destination, snapshots).name)
        except Exception as error:  # the others are exported all the same
            failed[run.config.run_id] = one_line(error)
            continue
        size += need
    return exported, left_out, failed


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _is_dynamics(run: Run, dynamics_epochs: float | None) -> bool:
    """Whether ``run`` is a training-dynamics run (``dynamics_epochs`` long), whose snapshots are its point."""
    return dynamics_epochs is not None and run.config.recipe.epochs == dynamics_epochs


def _save(report: Report, out: Path) -> None:
    """The report as it stands, in ``out/report.json`` and ``out/report.md``."""
    atomic_write_text(out / "report.json", json.dumps(dataclasses.asdict(report), indent=2))
    atomic_write_text(out / "report.md", markdown(report))


def _running_s() -> float:
    """How long this process has run, on Linux (0 elsewhere): Python's start and torch's import, seconds on a fresh
    machine, are part of a window's minutes."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22: the start
        return max(0.0, float(Path("/proc/uptime").read_text().split()[0]) - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _trained_as(pack_by: str, cuda_graphs: bool) -> str:
    words = {"depth": "one pack per architecture and depth", "model": "a pack per model (its dropouts) on its own "
             "CUDA stream, all of an architecture and depth at once", "run": "each run on its own CUDA stream, all of "
             "an architecture and depth at once"}[pack_by]
    return f"{words}, every step replayed from a CUDA graph" if cuda_graphs else words


def _path_words(key: str, processes: int) -> str:
    """A probe's path (:func:`path`, or ``per_run``) in words."""
    name, graphed, _ = key.partition(" with CUDA graphs")
    words = {"packed": "one pack", "streams by model": "a pack per model on its own stream",
             "streams by run": "each run on its own stream",
             "per_run": f"each run in its own process ({processes} processes)"}[name]
    return f"{words}, CUDA graphs" if graphed else words


def _graphs_line(graphs: dict) -> str:
    """The CUDA graphs' check in one line."""
    if not graphs:
        return "- CUDA graphs: not checked (not a CUDA GPU, or --cuda-graphs off)"
    if graphs["error"]:
        return f"- CUDA graphs: failed their check ({graphs['error']}); trained without them"
    rows = graphs["architectures"]
    exact = ", ".join(f"{r['architecture']} {max(r['loss_gap'], r['state_gap']):.1e}" for r in rows)
    scale = ", ".join(f"{r['architecture']} {r['scale_loss_gap']:.1e}" for r in rows)
    masks = "new dropout masks every replay" if graphs["masks_change"] else "the SAME dropout masks every replay"
    return (f"- CUDA graphs against the eager step, largest |Δ| in fp32 (losses, weights, RMSProp's averages, carried "
            f"state): {exact}; of the losses in {graphs['precision']} at 100 x 100: {scale}; {masks}: "
            + ("passed" if graphs["passed"] else "failed"))


def markdown(report: Report) -> str:
    """The report in a few lines of Markdown."""
    agreed = sum(row["passed"] for row in report.trace)
    lines = [f"# GPU window, {report.started}", "",
             f"- device: {report.device}, torch {torch.__version__}, precision {report.precision}",
             f"- trace agreement (written-out equations vs fused kernels): {agreed} of {len(report.trace)} passed",
             "- a recurrent layer under the training precision computes in "
             + ", ".join(f"{dtype} ({architecture})" for architecture, dtype in report.rnn_dtype.items())
             + (f"; the backward pass from the loss times {LOSS_SCALE:g}" if report.precision == "bf16" else ""),
             _graphs_line(report.graphs),
             f"- the device check (traces, graphs, every pack timed, the throughput probe) took {report.check_s:.0f} s"]
    if report.throughput:
        probe, rates = report.throughput, report.throughput["run_steps_per_s"]
        lines.append(f"- throughput, {probe['probe']}, in run-steps/s: " + "; ".join(
            f"{_path_words(key, probe['per_run_processes'])} {rate:.1f} ({rate / rates['packed']:.2f}x)"
            for key, rate in rates.items()))
    processes = report.throughput.get("per_run_processes")
    lines += [f"- failed in the throughput probe, so not taken: {_path_words(key, processes)} ({error})"
              for key, error in report.probe_errors.items()]
    lines.append(f"- an architecture and depth's runs train as {_trained_as(report.pack_by, report.cuda_graphs)}")
    for name, paths in report.projected_s.items():
        times = ", ".join(f"{path} {_duration(seconds)}" for path, seconds in paths.items())
        lines.append(f"- projected wall time, {name}: {times} (no early stopping)")
    if report.imported:
        lines.append(f"- imported from pretrained/ instead of trained: {len(report.imported)} runs")
    if report.resumed:
        lines.append(f"- gone on from an earlier window's checkpoints: {len(report.resumed)} runs")
    lines += [f"- not taken up from the earlier window: {name} ({why})" for name, why in report.not_resumed.items()]
    lines += ["", "| training | step | validation | projected | took | outcome |", "|---|---|---|---|---|---|"]
    lines += [f"| {t['training']} | {_milliseconds(t['step_s'])} | {_milliseconds(t['validation_s'])} | "
              f"{_duration(t['projected_s'])} | {_duration(t['seconds'])} | {t['outcome']} |" for t in report.tasks]
    lines += ["", f"{len(report.exported)} finished runs exported in fp16 to runs/ (`lit-rnn runs import runs/*`)."]
    if report.unfinished:
        lines.append(f"{len(report.unfinished)} unfinished runs exported with their checkpoints to unfinished/ (the "
                     "next window goes on from them: `--resume` that folder).")
    if report.not_carried:
        lines.append(f"{len(report.not_carried)} more unfinished runs not exported: they would take the export past "
                     "what a later window can be given (`--carry-mib`).")
    lines += [f"Not exported: {run_id} ({error})." for run_id, error in report.export_errors.items()]
    if report.error:
        lines.append(f"**Stopped early by {report.error}**; what it had trained is exported above.")
    lines += [f"Finished {report.finished}." if report.finished else "Training (this report is rewritten at the end).",
              ""]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``lit-rnn gpu-window`` flags."""
    parser.add_argument("--minutes", type=float, required=True, help="the window's length, all included")
    parser.add_argument("--out", required=True, help="folder for the exported runs and the report")
    parser.add_argument("--corpus", nargs="+", default=["warpeace", "linux"], help="corpora, in priority order")
    parser.add_argument("--core", default="core", help="the preset trained first (every run of it)")
    parser.add_argument("--grid", default="paper",
                        help="the preset whose Table 1 grid (then its replicates) is trained next")
    parser.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--processes", type=int, default=None,
                        help="per-run processes of the throughput probe (default: the probe pack's runs; 0: skip)")
    parser.add_argument("--partial", action="store_true",
                        help="start packs that cannot finish in time (the deadline cuts them, and they are exported "
                             "to OUT/unfinished/ for a later window to go on from)")
    parser.add_argument("--carry-mib", type=float, default=UNFINISHED_MIB,
                        help="the most the unfinished runs' export may take, in MiB (a later window is given them)")
    parser.add_argument("--resume", default=None,
                        help="an earlier window's OUT/unfinished/: its runs go on from their checkpoints here")
    parser.add_argument("--pack-by", choices=("auto", *PACK_BY), default="auto",
                        help="how an architecture and depth's runs train: one pack (depth), a pack per model or per "
                             "run on concurrent CUDA streams; auto: the fastest in the device check's probe")
    parser.add_argument("--cuda-graphs", choices=CUDA_GRAPHS, default="auto",
                        help="auto: check packs' steps captured as CUDA graphs against their eager steps and, if they "
                             "agree, train with them where the probe finds them fastest; off: never")
    parser.add_argument("--retrain", action="store_true", help="train runs that pretrained/ ships instead of importing")
    parser.add_argument("--data-dir", default=None, help="data directory (default: $LIT_RNN_DATA or ./data)")
    parser.add_argument("--artifacts", default=None, help="artifacts folder (default: $LIT_RNN_HOME or ./artifacts)")


def main(args: argparse.Namespace) -> None:
    """``lit-rnn gpu-window``: resolve the flags, run the window, print the Markdown report."""
    start = time.monotonic() - _running_s()  # the window's minutes count from the command's start
    if args.minutes * 60 <= 2 * RESERVE_S:
        raise UserError(f"--minutes {args.minutes} leaves no time to train: give more than {2 * RESERVE_S / 60:g}")
    if args.resume and not Path(args.resume).is_dir():
        raise UserError(f"--resume {args.resume} is not a folder: give an earlier window's OUT/unfinished/")
    device = resolve_device(args.device)
    options = TrainOptions(device=device, precision=resolve_precision(args.precision, device))
    core, grid = get_preset(args.core), get_preset(args.grid)
    corpora = [load_corpus(name, resolve_data_dir(args.data_dir)) for name in args.corpus]
    shipped = None if args.retrain or not SHIPPED.is_dir() else SHIPPED
    # A TERM (as `timeout` sends) is taken as a Ctrl-C: training checkpoints between steps, then the exports follow.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    try:
        report = gpu_window(corpora, Path(args.out), deadline=start + args.minutes * 60 - RESERVE_S, core=core,
                            grid=grid, options=options, artifacts=resolve_artifacts(args.artifacts),
                            processes=args.processes, partial=args.partial, shipped=shipped, minutes=args.minutes,
                            pack_by=args.pack_by, cuda_graphs=args.cuda_graphs,
                            resume=Path(args.resume) if args.resume else None,
                            carry_bytes=int(args.carry_mib * 2**20))
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(markdown(report))


if __name__ == "__main__":  # `python -m lit_rnn.window`: the same command, importing nothing the CLI's others need
    window_parser = argparse.ArgumentParser(prog="python -m lit_rnn.window", description=__doc__,
                                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(window_parser)
    try:
        main(window_parser.parse_args())
    except UserError as error:
        raise SystemExit(f"lit_rnn.window: error: {error}") from None
