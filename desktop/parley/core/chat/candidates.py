"""The candidates of one request (n > 1), as asked, received, stored and chosen from.

Where the provider's file lists `n`, one request asks for the candidates; elsewhere they are
asked for as separate requests (the same body sent again, "fanned out") and labelled so. The
history keeps them in the answer's `extra`: `choices` (one dict per candidate, with its
log-probabilities in `logprobs.encode`'s form), `chosen` (the candidate the conversation goes
on from; the answer's own text is that candidate's) and `fan_out` (how many separate requests).
A single answer keeps its log-probabilities in `extra["logprobs"]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from parley.core.chat import logprobs as lp
from parley.core.protocol.events import TokenLogprob
from parley.core.providers.catalog import ProviderSpec

if TYPE_CHECKING:
    from parley.core.chat.result import ChatResult, ChoiceResult

MAX_CANDIDATES = 8


def sends_n(spec: ProviderSpec) -> bool:
    """Whether the provider's file lists `n` (one request asks for several candidates)."""
    return spec.param("n") is not None


def fan_out_count(spec: ProviderSpec, candidates: int) -> int:
    """How many separate requests a send of `candidates` candidates makes (1: one request)."""
    return max(1, min(candidates, MAX_CANDIDATES)) if not sends_n(spec) else 1


def how_asked(spec: ProviderSpec, candidates: int) -> str:
    """A line for the candidates control: how the candidates will be asked for."""
    if candidates <= 1:
        return "One answer."
    if sends_n(spec):
        return f"{candidates} candidates in one request (sent as n = {candidates})."
    return (
        f"{spec.name} has no n parameter: {candidates} separate requests, "
        f"each billed as a request of its own."
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    index: int
    text: str
    reasoning: str = ""
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] = ()
    status: str = "complete"  # or "failed" / "stopped" (a fanned-out request of its own)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CandidateSet:
    candidates: tuple[Candidate, ...]
    chosen: int = 0
    fan_out: int = 0  # separate requests (0: one request asked for them all)

    def __len__(self) -> int:
        return len(self.candidates)

    def label(self) -> str:
        n = len(self.candidates)
        if self.fan_out > 1:
            return f"{n} separate requests"
        return f"{n} candidates (n = {n})"

    def get(self, index: int) -> Candidate | None:
        for c in self.candidates:
            if c.index == index:
                return c
        return None

    @property
    def chosen_candidate(self) -> Candidate | None:
        return self.get(self.chosen) or (self.candidates[0] if self.candidates else None)


def _candidate(
    choice: ChoiceResult, status: str = "complete", error: str | None = None
) -> Candidate:
    return Candidate(
        index=choice.index,
        text=choice.text,
        reasoning=choice.reasoning,
        finish_reason=choice.finish_reason,
        logprobs=tuple(choice.logprobs),
        status=status,
        error=error,
    )


def from_result(
    result: ChatResult, statuses: Sequence[tuple[str, str | None]] = (), fan_out: int = 0
) -> CandidateSet:
    """The candidates of a result; `statuses` gives each fanned-out request's end
    (status, error message) by candidate index."""
    out = []
    for index, choice in sorted(result.choices.items()):
        status, error = statuses[index] if index < len(statuses) else (result.status, None)
        out.append(_candidate(choice, status if status != "pending" else "failed", error))
    return CandidateSet(tuple(out), 0, fan_out)


def to_extra(cands: CandidateSet) -> dict[str, Any]:
    """What the history keeps of `cands` (see the module doc)."""
    if len(cands.candidates) == 1:
        only = cands.candidates[0]
        return {"logprobs": lp.encode(only.logprobs)} if only.logprobs else {}
    choices = []
    for c in cands.candidates:
        d: dict[str, Any] = {
            "index": c.index,
            "text": c.text,
            "reasoning": c.reasoning,
            "finish_reason": c.finish_reason,
        }
        if c.logprobs:
            d["logprobs"] = lp.encode(c.logprobs)
        if c.status != "complete":
            d["status"] = c.status
        if c.error:
            d["error"] = c.error
        choices.append(d)
    extra: dict[str, Any] = {"choices": choices, "chosen": cands.chosen}
    if cands.fan_out > 1:
        extra["fan_out"] = cands.fan_out
    return extra


def from_stored(
    text: str,
    reasoning: str = "",
    finish_reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> CandidateSet:
    """A stored answer's candidates (one, its own text, when it has no others)."""
    extra = extra or {}
    raw = extra.get("choices")
    if isinstance(raw, list) and len(raw) > 1:
        out = []
        for position, d in enumerate(raw):
            if not isinstance(d, Mapping):
                continue
            index = d.get("index")
            status = d.get("status")
            error = d.get("error")
            out.append(
                Candidate(
                    index=index
                    if isinstance(index, int) and not isinstance(index, bool)
                    else position,
                    text=str(d.get("text") or ""),
                    reasoning=str(d.get("reasoning") or ""),
                    finish_reason=d.get("finish_reason")
                    if isinstance(d.get("finish_reason"), str)
                    else None,
                    logprobs=lp.decode(d.get("logprobs")),
                    status=status if isinstance(status, str) else "complete",
                    error=error if isinstance(error, str) else None,
                )
            )
        chosen = extra.get("chosen")
        fan = extra.get("fan_out")
        return CandidateSet(
            tuple(out),
            chosen if isinstance(chosen, int) and not isinstance(chosen, bool) else 0,
            fan if isinstance(fan, int) and not isinstance(fan, bool) else 0,
        )
    only = Candidate(0, text, reasoning, finish_reason, lp.decode(extra.get("logprobs")))
    return CandidateSet((only,), 0, 0)


def choose(extra: Mapping[str, Any] | None, index: int) -> tuple[dict[str, Any], Candidate]:
    """`extra` with candidate `index` chosen, and that candidate (raises ValueError if there
    is none with that index)."""
    cands = from_stored("", extra=extra)
    found = cands.get(index) if len(cands) > 1 else None
    if found is None:
        raise ValueError(f"This answer has no candidate {index + 1}.")
    updated = dict(extra or {})
    updated["chosen"] = index
    return updated, found
