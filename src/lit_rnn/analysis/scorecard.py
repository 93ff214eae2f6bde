"""The scorecard: each of the paper's claims beside what this build measured, and a verdict from the numbers.

A chapter computes its claims from its own analyses (the functions of this module turn numbers
into a :class:`Claim`; none is typed in), shows them as a table and saves them; the introduction
gathers every chapter's claims into one scorecard.

Verdicts. Every test a claim rests on has one of three outcomes (:data:`OUTCOMES`): the data go the
paper's way beyond the noise (``for``), within the noise (``within``), or against it beyond the noise
(``against``). A claim is *reproduced* when every test goes its way, *not reproduced* when any goes
against it, *inconclusive* when all are within the noise, and *partly* otherwise; *not measured*
where this build lacks the data (NaNs and empty groups included). Apart from those, a claim the
paper made on another corpus is *not applicable* here, and one judged on models not trained with the
paper's recipe is *not at the paper's scale*: neither counts for or against the paper. The noise is
a bootstrap over the test split's segments (char-rnn's 100 rows): it covers which text is tested,
not which seed trained a model (Table 1 holds one run per model; chapter 2 measures the seeds' spread on the
few models the ``paper`` preset trains again with other seeds: :func:`lit_rnn.analysis.compare.seed_spread`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from lit_rnn.atomic import atomic_write_text

REPRODUCED, PARTLY, INCONCLUSIVE, NOT_REPRODUCED = "reproduced", "partly", "inconclusive", "not reproduced"
NOT_MEASURED, NOT_APPLICABLE, NOT_AT_SCALE = "not measured", "not applicable", "not at the paper's scale"
VERDICTS = (REPRODUCED, PARTLY, INCONCLUSIVE, NOT_REPRODUCED, NOT_MEASURED, NOT_APPLICABLE, NOT_AT_SCALE)
JUDGED = (REPRODUCED, PARTLY, INCONCLUSIVE, NOT_REPRODUCED)  # the verdicts that count for or against the paper
FOR, WITHIN, AGAINST = "for", "within", "against"
OUTCOMES = (FOR, WITHIN, AGAINST)
CORPORA = ("warpeace", "linux")  # the paper's two corpora
CORPUS_NAMES = {"warpeace": "War and Peace", "linux": "Linux"}
BEYOND = "Beyond the paper"  # the chapter name of claims this book adds: tallied apart from the paper's
SETUP = "Setup"  # the chapter name of checks of the setup against the paper's (its corpora): not findings, apart too
KINDS = ("the paper's", "beyond the paper", "setup checks")  # how claims are tallied, each kind apart
KIND_WORDS = dict(zip(KINDS, ("the paper's claims", "claims beyond the paper", "the setup checks")))  # in findings
NOISE = 2.0  # a difference within NOISE bootstrap standard deviations (z) is within the noise
NOISE_TEXT = f"beyond the noise: |z| > {NOISE:g}, z from a bootstrap over the test segments (not seeds)"
INTERVAL_TEXT = "beyond the noise: its 95% bootstrap interval over the test segments (not seeds) excludes {}"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, what this build measured for it, and the verdict those numbers give."""

    chapter: str  # the chapter that measures it, e.g. "Cells"
    claim: str  # the paper's claim, in words
    measured: str  # what this build measured, with its numbers
    verdict: str  # one of VERDICTS
    threshold: str = ""  # the test behind the verdict, with its numbers
    chance: str = ""  # what chance alone would give, where that is defined
    corpora: tuple[str, ...] = CORPORA  # the corpora the paper made the claim on
    finding: str = ""  # the key number in a few words, for the chapter's closing sentences
    caveat: str = ""  # what weighs on the verdict, e.g. "judged on lstm-3x244 cut short at epoch 35 of 50"

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        object.__setattr__(self, "corpora", tuple(self.corpora))

    @property
    def kind(self) -> str:
        """How the claim is tallied (:data:`KINDS`): a finding of the paper's, one this book adds, or a check of the
        setup (the corpora), which is no finding of the paper's and counts neither for nor against it."""
        return {BEYOND: KINDS[1], SETUP: KINDS[2]}.get(self.chapter, KINDS[0])


def signed(value: float, decimals: int = 3, percent: bool = False) -> str:
    """``value`` with its sign, e.g. ``+0.104`` or ``-1.2%``; one that rounds to zero reads ``+0.000``, never
    ``-0.000`` (which would read as a reversal)."""
    if percent:
        return f"{round(value, decimals + 2) + 0.0:+.{decimals}%}"
    return f"{round(value, decimals) + 0.0:+.{decimals}f}"


def judge(holds: bool | None, partly: bool = False) -> str:
    """The verdict for a claim whose test ``holds`` (None: not measured); ``partly`` when it holds only in part."""
    if holds is None:
        return NOT_MEASURED
    if holds:
        return REPRODUCED
    return PARTLY if partly else NOT_REPRODUCED


def listed(words: Iterable[str]) -> str:
    """Words as a sentence lists them: ``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def verdict(outcomes: Sequence[str | None]) -> str:
    """The verdict from the outcomes (:data:`OUTCOMES`) of a claim's tests; None marks a test without data."""
    if not outcomes or any(o is None for o in outcomes):
        return NOT_MEASURED
    if AGAINST in outcomes:
        return NOT_REPRODUCED
    if all(o == FOR for o in outcomes):
        return REPRODUCED
    return INCONCLUSIVE if all(o == WITHIN for o in outcomes) else PARTLY


def mixed(outcomes: Sequence[str | None]) -> str:
    """The verdict for a claim that an effect goes both ways ("results are mixed"), from its tests' outcomes:
    reproduced when some go each way beyond the noise, not reproduced when all go one way beyond it, inconclusive
    when all are within it, partly otherwise (one way beyond the noise, the rest within it); not measured with
    fewer than two tests, which could never go both ways."""
    if len(outcomes) < 2 or any(o is None for o in outcomes):
        return NOT_MEASURED
    beyond = {o for o in outcomes if o != WITHIN}
    if beyond == {FOR, AGAINST}:
        return REPRODUCED
    if not beyond:
        return INCONCLUSIVE
    return PARTLY if WITHIN in outcomes else NOT_REPRODUCED


def outcome_z(difference: float, std: float) -> str | None:
    """The outcome of a difference (positive: the paper's way) against its bootstrap std; None if NaN."""
    if not (math.isfinite(difference) and math.isfinite(std)):
        return None
    if std == 0:
        return FOR if difference > 0 else AGAINST if difference < 0 else WITHIN
    z = difference / std
    return FOR if z > NOISE else AGAINST if z < -NOISE else WITHIN


def outcome_interval(low: float, high: float, value: float = 0.0) -> str | None:
    """The outcome of an interval against ``value`` (above it: the paper's way); None if NaN."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return FOR if low > value else AGAINST if high < value else WITHIN


@dataclass(frozen=True)
class Comparison:
    """Two models' losses compared: which is better, by how much, and whether beyond the noise."""

    expected: str  # the model the paper expects to be better
    other: str
    difference: float  # other's loss minus expected's (nats/byte): > 0 is the paper's way
    std: float  # std of that difference: the paired bootstrap's (or, between seeds' means, their standard error)
    paper_expects: bool = True  # False: the paper expects nothing of the two (e.g. a Transformer against the LSTM)

    @property
    def z(self) -> float:
        return self.difference / self.std if self.std > 0 else math.copysign(math.inf, self.difference)

    @property
    def outcome(self) -> str | None:
        return outcome_z(self.difference, self.std)

    @property
    def ranked(self) -> tuple[str, str]:
        """The better model and the worse, whichever the paper expected."""
        return (self.expected, self.other) if self.difference >= 0 else (self.other, self.expected)

    def __str__(self) -> str:
        if not math.isfinite(self.difference):
            return f"{self.expected} vs {self.other}: not measured"
        better, worse = (f"the {name}" if name.endswith(("-gram", "-NN")) else name for name in self.ranked)
        noise = {FOR: "beyond the noise", WITHIN: "within the noise",
                 AGAINST: "beyond the noise, against the paper" if self.paper_expects else "beyond the noise"}
        return (f"{better} is better than {worse} by {abs(self.difference):.3f} nats/byte "
                f"(z {abs(self.z):.1f}, {noise[self.outcome]})")


class Judged(Protocol):
    """A model that claims are judged on, as the scorecard reads it (a :class:`~lit_rnn.runs.Run`)."""

    @property
    def paper_recipe(self) -> bool: ...  # trained with the paper's recipe (as long), even if cut short

    @property
    def shortfall(self) -> str: ...  # "" if it finished its recipe, else e.g. "lstm-3x244 cut short at epoch 35 of 50"


def applicable(claims: Iterable[Claim], corpus: str, models: Iterable[Judged] = ()) -> list[Claim]:
    """The claims with those the paper made on other corpora marked "not applicable" (a corpus outside
    the paper's, e.g. a user's text, is judged on every claim); all of them "not at the paper's scale"
    unless every one of ``models`` (those they were judged on) trained with the paper's recipe; and each naming
    those models that did not finish their recipe."""
    models = list(models)
    if corpus in CORPORA:
        claims = [c if corpus in c.corpora else _elsewhere(c) for c in claims]
    paper_recipe, shortfalls = all(m.paper_recipe for m in models), [m.shortfall for m in models if m.shortfall]
    return [unfinished(at_scale(c, paper_recipe), shortfalls) for c in claims]


def _elsewhere(claim: Claim) -> Claim:
    """A claim the paper made on other corpora: "not applicable", saying where it was made and what it would read."""
    where = " and ".join(CORPUS_NAMES.get(c, c) for c in claim.corpora)
    reads = f"; here it would read: {claim.verdict}" if claim.verdict in JUDGED else ""
    return dataclasses.replace(claim, verdict=NOT_APPLICABLE,
                               measured=f"{claim.measured} (the paper makes this claim on {where} only{reads})")


def at_scale(claim: Claim, paper_recipe: bool) -> Claim:
    """The claim, marked "not at the paper's scale" (keeping what it would read) if its models were not trained
    with the paper's recipe."""
    if paper_recipe or claim.verdict not in JUDGED:
        return claim
    return dataclasses.replace(claim, verdict=NOT_AT_SCALE,
                               measured=f"{claim.measured} (would read: {claim.verdict})")


def unfinished(claim: Claim, shortfalls: Sequence[str]) -> Claim:
    """The claim with a caveat naming those of its models that did not finish their recipe, also in what it
    measured (a verdict on a model trained for less than the paper's recipe is read with that in mind)."""
    if not shortfalls or claim.verdict not in (*JUDGED, NOT_AT_SCALE):
        return claim
    return judged_on(claim, " and ".join(shortfalls))


def judged_on(claim: Claim, what: str) -> Claim:
    """The claim with the caveat "judged on ``what``", in what it measured too."""
    return with_caveat(claim, f"judged on {what}")


def with_caveat(claim: Claim, caveat: str) -> Claim:
    """The claim with ``caveat`` added to its caveats, and to what it measured."""
    return dataclasses.replace(claim, measured=f"{claim.measured} ({caveat})",
                               caveat="; ".join(c for c in (claim.caveat, caveat) if c))


def table(claims: Iterable[Claim] | Mapping[str, Iterable[Claim]], *, kind: str | None = None) -> pd.DataFrame:
    """The claims as a table: chapter, claim, measured, verdict, threshold, and chance where any claim states one (an
    empty column says nothing); a mapping of corpus to claims adds a corpus column first. ``kind``: only the claims
    of that kind (:data:`KINDS`)."""
    by_corpus = claims.items() if isinstance(claims, Mapping) else [(None, claims)]
    rows = [{"corpus": corpus, **dataclasses.asdict(c)} for corpus, group in by_corpus for c in group
            if kind is None or c.kind == kind]
    columns = ["corpus"] * isinstance(claims, Mapping) + ["chapter", "claim", "measured", "verdict", "threshold"]
    columns += ["chance"] * any(row["chance"] for row in rows)
    return pd.DataFrame(rows, columns=columns)


def totals(claims: dict[str, list[Claim]]) -> pd.DataFrame:
    """Per corpus and kind (:data:`KINDS`: the paper's claims, this book's beyond them, the setup checks): the count
    of each verdict and ``judged``, the denominator (claims that apply, were measured and were judged at the paper's
    scale)."""
    rows = []
    for corpus, found in claims.items():
        for kind, group in ((kind, [c for c in found if c.kind == kind]) for kind in KINDS):
            counts = {v: sum(c.verdict == v for c in group) for v in VERDICTS}
            rows.append({"corpus": corpus, "claims": kind, **counts, "judged": sum(counts[v] for v in JUDGED)})
    return pd.DataFrame(rows).set_index(["corpus", "claims"])


def summary(claims: dict[str, list[Claim]]) -> str:
    """The scorecard's totals in words, one paragraph per corpus: the paper's claims by verdict out of those judged,
    those not counted and why, and this book's own claims and the setup checks apart."""
    counts = totals(claims)
    paragraphs = []
    for corpus in claims:
        paper, beyond, setup = (counts.loc[(corpus, kind)] for kind in KINDS)
        apart = ", ".join(f"{paper[v]} {v}" for v in (NOT_APPLICABLE, NOT_MEASURED, NOT_AT_SCALE) if paper[v])
        paragraphs.append(
            f"**{CORPUS_NAMES.get(corpus, corpus)}**: of the paper's claims, "
            + ", ".join(f"{paper[v]} {v}" for v in JUDGED) + f", out of **{paper['judged']}** judged"
            + (f" (not counted: {apart})" if apart else "") + ". Beyond the paper (this book's own claims, "
            "*reproduced* where its test passed): "
            + (", ".join(f"{beyond[v]} {v}" for v in JUDGED if beyond[v]) or "none")
            + f" out of {beyond['judged']} judged."
            + (" Setup checks: " + ", ".join(f"{setup[v]} {v}" for v in VERDICTS if setup[v]) + "."
               if setup[list(VERDICTS)].sum() else ""))
    return "\n\n".join(paragraphs)


def _counts(claims: Sequence[Claim]) -> str:
    """How many claims got each verdict, in words: "2 reproduced, 1 partly"."""
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    return ", ".join(f"{count} {v}" for v, count in counts.items() if count)


def _lowered(sentence: str) -> str:
    """``sentence`` to go mid-sentence: its first letter lowered, unless its first word is an acronym ("LSTM")."""
    first = sentence.split(" ", 1)[0]
    return sentence if first.isupper() and len(first) > 1 else sentence[0].lower() + sentence[1:]


def _names(claims: Sequence[Claim], shared: str = "") -> str:
    """The claims in a sentence: "x (finding; caveat); y and z", leaving out the caveat they all share."""
    parts = []
    for c in claims:
        extras = "; ".join(x for x in (c.finding, "" if c.caveat == shared else c.caveat) if x)
        parts.append(_lowered(c.claim) + (f" ({extras})" if extras else ""))
    return parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + "; and " + parts[-1]


def _shared_caveat(claims: Sequence[Claim]) -> str:
    """The caveat every one of ``claims`` has, said once for them all ("" if they do not share one)."""
    caveats = {c.caveat for c in claims}
    return caveats.pop() if len(caveats) == 1 else ""


GROUPS = (((REPRODUCED,), "reproduced"), ((PARTLY,), "partly"), ((INCONCLUSIVE,), "inconclusive"),
          ((NOT_REPRODUCED,), "not reproduced"))  # how a chapter's judged claims are named, in this order


def findings(claims: Sequence[Claim], corpus: str | None = None) -> str:
    """What a chapter found, in two to five sentences computed from its claims (after :func:`applicable`)."""
    judged = [c for c in claims if c.verdict in JUDGED]
    kinds = {c.kind for c in claims}
    kind = KIND_WORDS[kinds.pop() if len(kinds) == 1 else KINDS[0]]
    where = f" on {CORPUS_NAMES.get(corpus, corpus)}" if corpus else ""
    counts, apart = _counts(judged), [c for c in claims if c.verdict not in JUDGED]
    reasons, shared = _counts(apart), _shared_caveat(judged)
    sentences = [f"Of {kind}, {len(judged)} judged{where}: {counts}" + (f" (not counted: {reasons})." if apart else ".")
                 if judged else f"None of {kind} could be judged{where}" + (f": {reasons}." if apart else ".")]
    for verdicts, label in GROUPS:
        group = [c for c in judged if c.verdict in verdicts]
        if group:
            sentences.append(f"{label.capitalize()}: {_names(group, shared)}.")
    if shared:
        sentences.append(f"{'It was' if len(judged) == 1 else 'All were'} {shared}.")
    return " ".join(sentences)


def _chapter_line(chapter: str, claims: Sequence[Claim]) -> str:
    """One chapter's claims in a line: its verdict counts (after the caveat they all share, if any), and what it
    reproduced, partly or not."""
    judged = [c for c in claims if c.verdict in JUDGED]
    counts, shared = _counts(judged), _shared_caveat(judged)
    line = f"**{chapter}**" + (f" ({shared})" if shared else "") + ": " + (
        f"{counts} (of {len(judged)} judged)" if judged else "nothing judged")
    for verdicts, label in GROUPS:
        group = [c for c in judged if c.verdict in verdicts]
        if group:
            line += f"; {label}: {_names(group, shared)}"
    return line + "."


def by_chapter(claims: dict[str, list[Claim]]) -> str:
    """Per corpus, one line per chapter saying what it found (Markdown, for the introduction)."""
    return "\n\n".join(
        f"*{CORPUS_NAMES.get(corpus, corpus)}*\n\n" + "\n".join(
            f"- {_chapter_line(chapter, [c for c in found if c.chapter == chapter])}"
            for chapter in dict.fromkeys(c.chapter for c in found))
        for corpus, found in claims.items())


def save(claims: Iterable[Claim], path) -> None:
    """Write a chapter's claims (JSON), atomically, for the introduction to gather."""
    atomic_write_text(path, json.dumps([dataclasses.asdict(c) for c in claims], indent=1))


def load(paths: Iterable) -> list[Claim]:
    """The claims saved at ``paths`` that exist, in order."""
    return [Claim(**row) for path in paths if path.exists() for row in json.loads(path.read_text())]
