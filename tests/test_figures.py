"""Every figure builder on synthetic data: shapes, colours on the fixed scales, titled axes with units, keys.

Each figure also passes the book's figure contract (``lit_rnn.book_checks``), so a picture that
loses its axis title, its key or its distinct colours fails here, in seconds, not in the book build.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from lit_rnn import book_checks
from lit_rnn.analysis.causal import CausalScores
from lit_rnn.analysis.cells import CellView
from lit_rnn.analysis.oracles import ErrorBreakdown
from lit_rnn.data import Corpus
from lit_rnn.viz import figures, heatmap
from lit_rnn.viz import interventions as viz_interventions
from lit_rnn.viz.explorer import cell_view_html

RNG = np.random.default_rng(0)


def _json(figure: go.Figure) -> dict:
    """The figure as a page carries it."""
    return json.loads(figure.to_json())


def _contract(figure: go.Figure) -> dict:
    """The figure's JSON, after checking it keeps the book's figure contract."""
    shown = _json(figure)
    assert book_checks.figure_problems(shown) == []
    return shown


def _corpus(text: bytes = b"the cat sat on the mat.\n" * 200) -> Corpus:
    return Corpus("synthetic", Path("synthetic.txt"), np.frombuffer(text, np.uint8))


def _metrics(epochs: int, start: float) -> list[dict]:
    return [dict(epoch=float(e), val_loss=start - 0.1 * e, train_loss=start - 0.12 * e) for e in range(1, epochs + 1)]


def test_labels_name_budgets_and_models_by_their_parameter_counts():
    assert [figures.budget_label(n) for n in (45_132, 131_000, 402_000, 1_272_326)] == ["≈45K", "≈130K", "≈400K",
                                                                                         "≈1.3M"]
    assert figures.count_label(1_272_326) == "1.27M" and figures.count_label(7_389) == "7K"


def test_byte_frequencies_and_split_map():
    corpus = _corpus()
    shown = _contract(figures.byte_frequencies(corpus, top=5))
    assert len(shown["data"][0]["x"]) == 5 and shown["layout"]["yaxis"]["title"]["text"] == "fraction"
    shown = _contract(figures.split_map(corpus.batcher(4, 10)))
    assert [t["name"] for t in shown["data"]] == ["train", "val", "test"]
    assert len({t["marker"]["color"] for t in shown["data"]}) == 3


def test_training_curves_one_panel_per_length_distinct_colours_and_a_key():
    groups = {"50 epochs": {f"lstm-{k}": _metrics(50, 3.0 + k) for k in range(3)},
              "1,000 steps": {f"rnn-{k}": _metrics(4, 3.0) for k in range(12)}}
    shown = _contract(figures.training_curves(groups))
    assert [a["text"] for a in shown["layout"]["annotations"]] == ["50 epochs", "1,000 steps"]
    validation = [t for t in shown["data"] if t.get("legendgroup") not in ("key",) and t["line"].get("dash") is None]
    assert len(validation) == 15 and len({t["line"]["color"] for t in validation}) == 15
    assert {t["xaxis"] for t in validation if t["name"].startswith("rnn")} == {"x2"}  # its own axis
    keys = [t["name"] for t in shown["data"] if t.get("legendgroup") == "key"]
    assert any("solid" in k and "validation" in k for k in keys) and any("dotted" in k for k in keys)


def _loss_table() -> pd.DataFrame:
    rows = [("lstm", 3, 0, "50 epochs", 1.5), ("lstm", 3, 3, "50 epochs", 1.1), ("lstm", 3, 1, "1,000 steps", 1.6),
            ("rnn", 1, 1, "1,000 steps", 1.9), ("gru", 2, 1, "1,000 steps", 1.7)]
    return pd.DataFrame([dict(model=f"{a}-{n}x{b}", architecture=a, n_layers=n, budget_index=b, training=t,
                              test_loss=loss, parameters=[50_000, 130_000, 400_000, 1_300_000][b])
                         for a, n, b, t, loss in rows])


def test_loss_heatmap_puts_each_training_length_on_its_own_row():
    shown = _contract(figures.loss_heatmap(_loss_table(), [50_000, 130_000, 400_000, 1_300_000]))
    heat = shown["data"][0]
    assert heat["x"] == ["≈50K", "≈130K", "≈400K", "≈1.3M"]
    assert "LSTM 3L · 50 epochs" in heat["y"] and "LSTM 3L · 1,000 steps" in heat["y"]
    assert heat["colorbar"]["title"]["text"] == "nats/byte"


def test_finite_horizon_agreement_and_embedding():
    table = pd.DataFrame({"n-gram": [2.0, 1.5, 1.4], "n-NN": [2.1, 1.6, np.nan]}, index=pd.Index([1, 2, 20], name="n"))
    shown = _contract(figures.finite_horizon(table, {"lstm": 1.2}))
    assert [t["name"] for t in shown["data"]] == ["n-gram", "n-NN"]
    assert [(s["y0"], a["text"]) for s, a in zip(shown["layout"]["shapes"], shown["layout"]["annotations"])] == [
        (1.2, "lstm: 1.200")]
    names = ["lstm-a", "rnn-b", "gru-c"]
    matrix = pd.DataFrame([[1, 0.8, 0.7], [0.8, 1, 0.6], [0.7, 0.6, 1]], index=names, columns=names)
    shown = _contract(figures.agreement_heatmap(matrix))
    assert shown["data"][0]["zmax"] == 1.0
    embedding = pd.DataFrame({"model": names, "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.5]})
    table = pd.DataFrame({"model": names, "architecture": ["lstm", "rnn", "gru"], "n_layers": [1, 2, 3],
                          "budget_index": [0, 1, 2]})
    shown = _contract(figures.model_embedding(embedding, table, {"rnn-b": "rnn-b · did not train"}))
    colours = [figures.ARCHITECTURE_COLOURS[a] for a in ("gru", "lstm", "rnn")]
    assert [t["marker"]["color"] for t in shown["data"]] == colours
    assert [list(t["text"]) for t in shown["data"]] == [["gru-c"], ["lstm-a"], ["rnn-b · did not train"]]


def test_cell_selector_colours_on_the_fixed_scale():
    text = b"abc (de) fg\n" * 5
    views = [CellView("cell state", 0, "c", 1, 0, text, RNG.uniform(-3, 3, len(text))),
             CellView("a gate", 0, "f", 2, 0, text, RNG.random(len(text)))]
    shown = _contract(figures.cell_selector(views))
    assert [(t["zmin"], t["zmax"]) for t in shown["data"]] == [(-1.0, 1.0), (0.0, 1.0)]
    assert shown["data"][0]["colorscale"] == [list(stop) for stop in heatmap.COLOURSCALE]


def test_gate_saturation_layers_from_one_and_output_gates_drawn_first():
    rows = [dict(layer=layer, gate=gate, cell=c, left=RNG.random() / 2, right=RNG.random() / 2)
            for layer in range(3) for gate in "ifo" for c in range(4)]
    shown = _contract(figures.gate_saturation(pd.DataFrame(rows), "gates"))
    assert [a["text"] for a in shown["layout"]["annotations"]][:3] == ["layer 1", "layer 2", "layer 3"]
    first_panel = [t["name"] for t in shown["data"] if t.get("xaxis", "x") == "x" and t.get("mode") == "markers"]
    assert first_panel == ["output gate", "input gate", "forget gate"]  # the forget gates on top
    titles = [shown["layout"][f"xaxis{k}"]["title"]["text"] for k in ("", "2", "3")]
    assert all(len(title) <= 20 for title in titles)  # three titles side by side do not overlap


def test_error_overlap_is_tall_enough_to_label_every_bar():
    table = pd.DataFrame({"models": ["a & b", "a", "b"], "count": [10, 5, 3], "share": [0.5, 0.3, 0.2]})
    shown = _contract(figures.error_overlap(table))
    assert shown["layout"]["height"] >= 320 and shown["data"][0]["text"][1] == "5 (30.0%)"


def test_byte_advantage_parts_the_gainers_from_the_losers():
    table = pd.DataFrame({"byte": range(40), "label": [f"b{k}" for k in range(40)], "lstm": RNG.random(40),
                          "20-gram": RNG.random(40)}).assign(advantage=lambda t: t.lstm - t["20-gram"])
    table = table.sort_values("advantage", ascending=False).reset_index(drop=True)
    shown = _contract(figures.byte_advantage(table, "lstm", "20-gram", top=5))
    assert {t["xaxis"] for t in shown["data"]} == {"x", "x2"}
    assert shown["data"][0]["x"] == list(table.label[:5]) and shown["data"][2]["x"] == list(table.label[-5:])


def test_closer_by_distance_shows_how_many_closers_each_point_averages():
    table = pd.DataFrame({"bucket": ["1-2", "3-5"], "count": [23, 3], "lstm": [0.5, 0.4], "20-gram": [0.6, 0.2]})
    shown = _contract(figures.closer_by_distance(table, ["lstm", "20-gram"], ")"))
    assert shown["data"][0]["x"] == ["1-2<br>n=23", "3-5<br>n=3"]


def test_training_dynamics_distinct_colours_and_units():
    table = pd.DataFrame([dict(step=s, n=n, symmetric_kl=1 / (s * n), delta_loss=0.1 * n) for n in range(1, 8)
                          for s in (10, 100, 1000)])
    shown = _contract(figures.training_dynamics(table))
    colours = [t["line"]["color"] for t in shown["data"] if t.get("showlegend") is not False]
    assert len(colours) == 7 == len(set(colours))
    assert all("nats/byte" in shown["layout"][axis]["title"]["text"] for axis in ("yaxis", "yaxis2"))


def _breakdown(name: str) -> ErrorBreakdown:
    steps = ([("n-gram", "n-gram")] + [(f"{n}-memory", "memory") for n in (50, 100, 500)]
             + [(f"{t}-train", "rare") for t in (0, 1, 5)] + [("word", "word"), ("punctuation", "punctuation")]
             + [(f"boost-{a}", "boost") for a in (0.1, 0.2, 0.3, 0.4, 0.5)] + [("remaining", "remaining")])
    table = pd.DataFrame({"step": [s for s, _ in steps], "category": [c for _, c in steps],
                          "errors": RNG.integers(10, 100, len(steps))})
    return ErrorBreakdown(name, table, np.array([]), np.array([]))


def test_error_breakdown_shows_its_whole_legend_in_distinct_colours():
    shown = _contract(figures.error_breakdown([_breakdown("large"), _breakdown("small")]))
    colours = {t["name"]: t["marker"]["color"] for t in shown["data"]}
    assert len(colours) == 15 == len(set(colours.values()))
    assert colours["n-gram"] != colours["remaining"] and shown["layout"]["height"] >= 180 + 22 * 15


def test_error_fixes_ticks_do_not_repeat():
    table = pd.DataFrame({"category": ["n-gram", "memory", "word"], "fixed_share": [0.041, 0.035, 0.032],
                          "fixed": [41, 35, 32], "errors": [1000, 1000, 1000]})
    shown = _contract(figures.error_fixes(table, "fixes"))
    assert shown["layout"]["yaxis"]["tickformat"] == ".1%"
    assert shown["data"][0]["marker"]["color"][1] == "#d62728"  # the memory category stands out


def test_text_heatmaps_and_the_colour_key_use_the_papers_fixed_scale():
    page = heatmap.text_heatmap_html(b"ab\n", np.array([-1.0, 0.0, 1.0]))
    assert "rgb(255,0,0)" in page and "rgb(255,255,255)" in page and "rgb(0,0,255)" in page
    key = heatmap.colour_key_html("c", "layer 1 c[3]")
    assert "tanh(cell state)" in key and "rgb(255,0,0)" in key and "rgb(0,0,255)" in key and ">-1<" in key
    assert ">0<" in heatmap.colour_key_html("f") and ">1<" in heatmap.colour_key_html("f")


def test_quantities_and_characters_are_named_as_figures_show_them():
    assert heatmap.shown_name("c") == "tanh(cell state)" and heatmap.shown_name("z") == "update gate"
    assert heatmap.tooltip(b"a", np.array([0.12])) == "a: +0.120"
    assert heatmap.tooltip("д".encode(), np.array([0.12, -0.3])) == "д: 0xd0 +0.120, 0xb4 -0.300"


def test_the_activation_curve_sits_on_the_fixed_scale():
    from lit_rnn.viz.explorer import activation_curve_svg

    svg = activation_curve_svg(np.array([-5.0, 0.0, 5.0]), -1.0, 1.0, height=80)
    assert "points='0.0,78.0 500.0,40.0 1000.0,2.0'" in svg  # clipped to the scale: bottom, middle, top


def test_error_examples_mark_the_byte_and_its_word():
    examples = pd.DataFrame({"text": [b"the cat"], "start": [100], "offset": [105], "word_start": [104],
                             "word_stop": [107]})
    page = heatmap.error_examples_html(examples, "memory")
    assert page.count("#1f5fbf") == 1 and page.count("#c6dbef") == 2


def test_explorer_cell_view_draws_the_cell_on_its_scale():
    view = CellView("quote cell", 1, "c", 5, 0, b'say "hi"', np.array([-5, -5, -5, -5, 5, 5, 5, -5], float))
    page = cell_view_html(view)
    assert "rgb(0,0,255)" in page or "rgb(1,1,255)" in page  # tanh(5) is all but saturated blue


def _causal_scores() -> CausalScores:
    table = pd.DataFrame([dict(signal=s, target=t, layer=1, quantity="c", cell=c, delta=d, delta_low=d - 0.01,
                               delta_high=d + 0.01, z=z, rank_p=p, causal=used)
                          for s, t, c, d, z, p, used in (("in_quotes", "closing quotes", 3, 0.2, 8.0, 0.03, True),
                                                         ("line_position", "line breaks", 7, 0.01, 0.5, 0.6, False))])
    return CausalScores(table, {"in_quotes": RNG.normal(0, 0.01, 32), "line_position": RNG.normal(0, 0.01, 32)})


def test_causal_scores_figure_draws_each_signal_against_its_random_cells():
    shown = _json(viz_interventions.causal_scores_figure(_causal_scores()))
    stars = [t for t in shown["data"] if t["type"] == "scatter"]
    assert len(stars) == 2 and all(t["marker"]["symbol"] == "star" for t in stars)
    assert [t["marker"]["color"] for t in stars] == ["#d62728", "#1f77b4"]  # used, not used
    assert "nats/byte" in shown["layout"]["xaxis"]["title"]["text"]


def test_samples_html_shades_every_sample():
    page = viz_interventions.samples_html([b"ab", b"cd"], [np.array([-20.0, 20.0]), np.array([0.0, 0.5])], "set", "c")
    assert page.count("lit-rnn-heatmap") == 2 and "rgb(255,0,0)" in page  # tanh(c) = -1 is full red, fixed scale


def test_readings_html_colours_each_set_by_the_cell():
    import torch

    from lit_rnn import interventions
    from lit_rnn.models import CharLM, ModelConfig

    torch.manual_seed(0)
    corpus = _corpus()
    model = CharLM(ModelConfig("lstm", 2, 8, corpus.vocab_size)).eval()
    readings = interventions.sample_readings(model, corpus, {"plain": [b"the cat", b"the mat"], "clamped": [b"sat"]},
                                             (1, "c", 3), b"the ", per_set=1)
    page = viz_interventions.readings_html(readings, (1, "c", 3))
    assert page.count("lit-rnn-heatmap") == 2 and "coloured by layer 2 tanh(cell state)[3]" in page


@pytest.mark.parametrize(("figure", "problem"), [
    (go.Figure(go.Scatter(x=[1, 2], y=[1, 2])), "no title"),
    (go.Figure(go.Scatter(x=[1, 2], y=[1, 2])).update_layout(xaxis_title="time", yaxis_title="loss"), "names no unit"),
    (go.Figure([go.Scatter(x=[1], y=[1], name=n, line_color="red") for n in "ab"]).update_layout(
        xaxis_title="epoch", yaxis_title="loss (nats/byte)"), "share the colour"),
    (go.Figure([go.Scatter(x=[1], y=[1], name=f"s{k}", line_color=figures.SERIES_COLOURS[k]) for k in range(22)]
               ).update_layout(xaxis_title="epoch", yaxis_title="loss (nats/byte)"), "legend of 22 entries"),
    (go.Figure(go.Bar(x=["a"], y=[1])).update_layout(title="x" * 90, yaxis_title="count"), "cut off"),
])
def test_the_contract_catches_each_fault(figure, problem):
    assert any(problem in p for p in book_checks.figure_problems(_json(figure)))


def test_the_contract_reads_figures_and_tables_from_a_page():
    figure = go.Figure(go.Scatter(x=[1, 2], y=[1, 2]))
    table = pd.DataFrame({"hidden": [77.0, 128.0], "loss": [1.23, 1.5]})
    page = figure.to_html(include_plotlyjs=False) + table.to_html()
    assert len(book_checks.figures_in_html(page)) == 1
    problems = book_checks.page_problems(page)
    assert any("no title" in p for p in problems) and any("['77.0', '128.0']" in p for p in problems)
    with pd.option_context("display.max_columns", 4):
        wide = pd.DataFrame(np.ones((3, 21)))._repr_html_()
    assert any("truncat" in p for p in book_checks.table_problems(wide))
    assert book_checks.table_problems(pd.DataFrame({"n": [77, 128], "x": [0.0, 1.0]}).to_html()) == []


def test_a_missing_value_reads_as_a_dash_in_a_chapter_and_as_a_fault_otherwise():
    from lit_rnn.viz import notebook

    lacking = pd.DataFrame({"n": [1, 2], "n-NN": [2.806, np.nan], "note": ["shipped", None], "rank": [np.nan, 12],
                            "Δ": [-0.0001, 0.5], "parameters": [1_335_599, 15_537], "test_loss": [1.0, 1.1],
                            "signal": ["in_quotes", "line_position"]}).set_index("signal").rename_axis(
        columns="by_signal").round(3)
    problems = book_checks.table_problems(lacking._repr_html_())
    assert any("['NaN'] for a missing value" in p for p in problems) and any("negative zero" in p for p in problems)
    assert any("the code's names ['by_signal', 'test_loss']" in p for p in problems)
    drawn = notebook.html_table(lacking)
    assert book_checks.table_problems(drawn) == [] and drawn.count(f"<td>{notebook.MISSING}</td>") == 3
    assert "<th>test loss</th>" in drawn and "<th>in_quotes</th>" in drawn  # names in words, the data as it is
    named = notebook.html_table(pd.DataFrame({"auc_beyond": [0.9], "mean_length_se": [1.0], "wall_s": [3.0]}))
    assert all(f"<th>{h}</th>" in named for h in ("AUC beyond", "mean length s.e.", "wall (s)"))
    numbered = notebook.html_table(pd.DataFrame({"n": [5, 6]}, index=[77, 81]))  # rows left by a filter
    assert "<th>77</th>" not in numbered and "<td>5</td>" in numbered
    assert "<td>12</td>" in drawn and "<td>2.806</td>" in drawn and "<td>1,335,599</td>" in drawn


def _run(tmp_path: Path, provenance: dict | None, **result):
    from lit_rnn.models import ModelConfig
    from lit_rnn.runs import Recipe, Run, RunConfig, RunResult

    run = Run(RunConfig("sha", ModelConfig("lstm", 3, 241, 87, 0.25), Recipe(epochs=50)), tmp_path)
    run.write_config()
    run.write_result(RunResult(**{**dict(best_val_loss=1.1, best_step=10, steps=13_000, epochs=50.0,
                                         stopped_early=False, parameters=1_272_326, precision="bf16"), **result}))
    if provenance is not None:
        run.provenance_path.write_text(json.dumps(provenance))
    return run


def test_pages_name_a_model_short_and_keep_its_provenance_in_one_table(tmp_path):
    from lit_rnn.study import model_label, provenance_table

    timed = _run(tmp_path / "a", {"device": "NVIDIA H200", "precision": "bf16", "wall_s": 285.4})
    untimed = _run(tmp_path / "b", None, complete=False, epochs=35.0)
    assert model_label(timed) == "lstm-3x241 · 1.27M · d0.25 · 50 epochs"
    assert model_label(untimed) == "lstm-3x241 · 1.27M · d0.25 · cut short at epoch 35 of 50"
    assert (timed.shortfall, untimed.shortfall) == ("", "lstm-3x241 cut short at epoch 35 of 50")  # for claims
    table = provenance_table([timed, untimed])
    assert list(table["hardware"]) == ["NVIDIA H200", "not recorded"] and list(table["precision"]) == ["bf16"] * 2
    assert list(table["wall time (s)"]) == [285, "not timed"]
    assert book_checks.table_problems(table.to_html()) == []  # the wall time prints as an integer


def test_validation_rises_are_found_with_what_came_after():
    from lit_rnn.analysis.compare import byte_entropy, validation_rises

    records = [dict(epoch=1.0, val_loss=3.16, train_loss=3.15), dict(epoch=2.0, val_loss=3.37, train_loss=2.61),
               dict(epoch=3.0, val_loss=1.78, train_loss=2.03)]
    rises = validation_rises({"lstm": records, "flat": _metrics(3, 3.0)})
    assert list(rises.model) == ["lstm"] and rises.val_next.item() == 1.78 and rises.epoch.item() == 2.0
    assert byte_entropy(np.array([0, 1] * 50, np.uint8)) == pytest.approx(np.log(2))


def test_a_loss_change_is_said_in_the_direction_it_went():
    from lit_rnn.analysis.compare import moved

    assert moved(1.3351, 1.3449) == "stayed at 1.34"  # as the page prints them
    assert moved(1.33, 1.34) == "rose from 1.33 to 1.34"  # once printed as "fell from 1.33 to 1.34"
    assert moved(1.34, 1.31) == "fell from 1.34 to 1.31"


def test_every_figure_builder_has_a_test_here():
    """A new figure builder comes with its test: every public builder of viz/ (a Figure or HTML) is called here."""
    import inspect

    from lit_rnn.viz import explorer

    source = Path(__file__).read_text()
    modules = (figures, heatmap, viz_interventions, explorer)
    builders = [f"{module.__name__.rsplit('.', 1)[-1]}.{name}" for module in modules
                for name, function in inspect.getmembers(module, inspect.isfunction)
                if function.__module__ == module.__name__ and not name.startswith("_")
                and inspect.signature(function).return_annotation in ("go.Figure", "str")]
    untested = [name for name in builders if f"{name.split('.')[-1]}(" not in source.replace("def test_", "")]
    assert builders and untested == []


def test_ink_is_legible_on_the_scales_extremes():
    for background in [(255, 0, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)]:
        text = (0, 0, 0) if heatmap.ink(background) == "#000" else (255, 255, 255)
        assert heatmap.contrast_ratio(background, text) >= 4.5
