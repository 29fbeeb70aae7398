"""Made-up sweep results of a known shape, for the results views' tests and benchmark (the
runs through the emulator are in tests/ui/lab; these are for figures that must be exact)."""

from __future__ import annotations

from parley.core.lab.checks import CheckResult
from parley.core.lab.experiment import parse_experiment
from parley.core.lab.plan import make_plan
from parley.core.lab.results import Results, RunRecord
from parley.core.providers.catalog import load_catalog


def experiment_text(temperatures: int = 5, seeds: int = 4, repeat: int = 2) -> str:
    temps = ", ".join(repr(round(i / max(1, temperatures - 1), 3)) for i in range(temperatures))
    seed_list = ", ".join(str(s + 1) for s in range(seeds))
    return f"""
name = "made up"
prompts = ["Write about a fox.", "Write about a dog."]
repeat = {repeat}
[[variants]]
label = "alpha"
provider = "openai-compatible"
base_url = "http://127.0.0.1:9/v1"
model = "a"
[[variants]]
label = "beta"
provider = "openai-compatible"
base_url = "http://127.0.0.1:9/v1"
model = "b"
[grid]
temperature = [{temps}]
seed = [{seed_list}]
[[checks]]
type = "contains"
value = "fox"
"""


def made_up_results(
    temperatures: int = 5, seeds: int = 4, repeat: int = 2, *, filler: int = 0
) -> Results:
    """Every planned run with a record: run n takes TTFT 10*n ms; every 7th run failed;
    outputs repeat within a cell (the text depends on the seed and the repeat's parity);
    `filler` words of made-up prose make each output longer (as a real answer is)."""
    words = ("quick", "brown", "jumps", "over", "lazy", "river", "bank", "night")
    prose = " ".join(words[i % len(words)] for i in range(filler))
    experiment = parse_experiment(
        experiment_text(temperatures, seeds, repeat), load_catalog(), source="made-up.toml"
    )
    plan = make_plan(experiment)
    records = []
    for run in plan.runs:
        cell = dict(plan.cells[run.cell])
        failed = run.id % 7 == 0
        animal = "fox" if run.prompt == 0 else "dog"
        text = "" if failed else f"A {animal} {cell['seed']} {run.repeat % 2} {prose}".strip()
        passed = None if failed else "fox" in text
        records.append(
            RunRecord(
                run=run.id,
                variant=run.variant,
                variant_label=experiment.variants[run.variant].label,
                provider="openai-compatible",
                model=run.model,
                prompt_index=run.prompt,
                prompt=experiment.prompts[run.prompt],
                cell_index=run.cell,
                cell=cell,
                params=dict(run.params),
                repeat=run.repeat,
                status="failed" if failed else "complete",
                text=text,
                finish_reason=None if failed else "stop",
                prompt_tokens=None if failed else 12,
                completion_tokens=None if failed else 5 + run.id % 11,
                ttft_ms=None if failed else 10.0 * run.id,
                tokens_per_s=None if failed else 100.0 + cell["temperature"] * 50,
                total_ms=None if failed else 20.0 * run.id,
                cost=None if failed else 0.0001,
                currency=None if failed else "USD",
                checks=[] if failed else [CheckResult("contains fox", "contains", passed)],
                passed=passed,
                error={"kind": "network", "message": f"Run {run.id} broke."} if failed else None,
                exchange_id=None,
            )
        )
    return Results(plan, records)
