"""An experiment's results as CSV, JSON, JSONL and Markdown, and the experiment as a promptfoo
config (YAML), so it can move to promptfoo or CI.

CSV has one row per run: the columns in `base_columns()` with one column per grid parameter
(named as the parameter) after `model`. JSON and JSONL hold the same rows with the parameters,
the grid cell and the checks nested, and `exchange_id` (the stored run, whose exchange
`parley` can show). Markdown is a summary matrix: a row per variant (and prompt), a column per
grid cell. Nothing here holds a key: the rows come from answers, never from request headers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from parley.core.lab.experiment import MODEL_AXIS, CheckSpec, Experiment
from parley.core.lab.plan import grid_cells
from parley.core.lab.results import CellStats, Results, RunRecord
from parley.core.protocol.errors import known_secrets, redact

FORMATS = ("csv", "json", "jsonl", "md", "yaml")

_BEFORE_GRID = ("run", "variant", "provider", "model")
_AFTER_GRID = (
    "prompt",
    "repeat",
    "status",
    "finish_reason",
    "text",
    "prompt_tokens",
    "completion_tokens",
    "ttft_ms",
    "tokens_per_s",
    "total_ms",
    "cost_usd",
    "passed",
    "error",
    "system_fingerprint",
    "model_used",
    "attempts",
    "cost",
    "currency",
)


def format_for(path: str) -> str | None:
    """The export format a file name asks for (by its extension), or None."""
    lower = path.lower()
    for ext, fmt in ((".yml", "yaml"), (".markdown", "md")):
        if lower.endswith(ext):
            return fmt
    for fmt in FORMATS:
        if lower.endswith("." + fmt):
            return fmt
    return None


def columns(experiment: Experiment) -> list[str]:
    grid = [n for n in experiment.grid_names if n not in _BEFORE_GRID + _AFTER_GRID]
    return [*_BEFORE_GRID, *grid, *_AFTER_GRID]


def scalar_text(value: Any) -> str:
    """A cell's value as the CSV and the results table write it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def csv_row(record: RunRecord, grid: Sequence[str]) -> dict[str, str]:
    cost_usd = record.cost if record.currency in (None, "USD") else None
    row: dict[str, Any] = {
        "run": record.run,
        "variant": record.variant_label,
        "provider": record.provider,
        "model": record.model,
        "prompt": record.prompt,
        "repeat": record.repeat,
        "status": record.status,
        "finish_reason": record.finish_reason,
        "text": record.text,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "ttft_ms": record.ttft_ms,
        "tokens_per_s": record.tokens_per_s,
        "total_ms": record.total_ms,
        "cost_usd": cost_usd,
        "passed": record.passed,
        "error": record.error_message,
        "system_fingerprint": record.system_fingerprint,
        "model_used": record.model_used,
        "attempts": record.attempts,
        "cost": record.cost,
        "currency": record.currency,
    }
    for name in grid:
        if name not in row:
            row[name] = record.cell.get(name)
    return {k: scalar_text(v) for k, v in row.items()}


def to_csv(results: Results) -> str:
    experiment = results.plan.experiment
    header = columns(experiment)
    grid = [n for n in experiment.grid_names if n != MODEL_AXIS]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for record in results.records():
        writer.writerow(csv_row(record, grid))
    return out.getvalue()


def json_row(record: RunRecord) -> dict[str, Any]:
    row = record.to_dict()
    row["variant"] = record.variant_label
    row["variant_index"] = record.variant
    return row


def to_json(results: Results, experiment_id: int | None = None) -> str:
    experiment = results.plan.experiment
    data = {
        "experiment": {
            "id": experiment_id,
            "name": experiment.name,
            "source": experiment.source,
            "plan_size": len(results.plan),
            "grid": {a.name: list(a.values) for a in experiment.grid},
            "variants": [v.to_dict() for v in experiment.variants],
            "checks": [c.to_dict() for c in experiment.checks],
            "repeat": experiment.repeat,
        },
        "runs": [json_row(r) for r in results.records()],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_jsonl(results: Results) -> str:
    return "".join(json.dumps(json_row(r), ensure_ascii=False) + "\n" for r in results.records())


# ---------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cell_label(cell: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={scalar_text(v)}" for k, v in cell.items()) or "all"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _cell_text(stats: CellStats | None, repeat: int) -> str:
    if stats is None:
        return "not run"
    parts = []
    if stats.checked:
        parts.append(f"pass {stats.passed}/{stats.checked}")
    if stats.failed:
        parts.append(f"{stats.failed} failed")
    if stats.pass_k is not None and repeat > 1:
        parts.append(f"pass^{repeat} {'yes' if stats.pass_k else 'no'}")
    parts.append(f"{stats.distinct} distinct")
    parts.append(f"TTFT p50 {_ms(stats.ttft_ms.p50)}")
    return " · ".join(parts)


def to_markdown(results: Results) -> str:
    experiment = results.plan.experiment
    cells = results.plan.cells
    stats = {(s.variant, s.prompt_index, s.cell_index): s for s in results.cell_stats()}
    lines = [f"# {_md(experiment.name)}", ""]
    lines.append(
        f"{len(results)} of {len(results.plan)} runs; {results.failed} failed; "
        f"{results.checks_failed} failed their checks."
    )
    lines.append("")
    head = ["variant"] + (["prompt"] if len(experiment.prompts) > 1 else [])
    head += [_md(_cell_label(c)) for c in cells]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for variant in experiment.variants:
        for p, prompt in enumerate(experiment.prompts):
            row = [_md(variant.label)]
            if len(experiment.prompts) > 1:
                row.append(_md(prompt[:40]))
            for c in range(len(cells)):
                row.append(_cell_text(stats.get((variant.index, p, c)), experiment.repeat))
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| variant | runs | failed | pass rate | pass^K cells |", "|---|---|---|---|---|"]
    for v in results.variant_stats():
        rate = "–" if v.pass_rate is None else f"{v.pass_rate:.0%}"
        lines.append(f"| {_md(v.label)} | {v.runs} | {v.failed} | {rate} | {v.pass_k}/{v.cells} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- promptfoo


def _q(value: Any) -> str:
    """A YAML scalar or flow collection: JSON is valid YAML, and quoting every string keeps
    values like `no`, `1.0` or `: ` from being read as something else."""
    return json.dumps(value, ensure_ascii=False)


def _assertion(check: CheckSpec) -> dict[str, Any]:
    kind, value = check.type, check.value
    if kind in ("contains", "not-contains"):
        name = kind.replace("contains", "icontains") if check.ignore_case else kind
        return {"type": name, "value": value}
    if kind == "regex":
        return {"type": "regex", "value": f"(?i){value}" if check.ignore_case else value}
    if kind == "is-json":
        return {"type": "is-json"}
    if kind == "json-schema":
        return {"type": "is-json", "value": value}
    if kind == "max-latency-ms":
        return {"type": "latency", "threshold": value}
    if kind == "max-cost":
        return {"type": "cost", "threshold": value}
    return {"type": "finish-reason", "value": value if isinstance(value, str) else value[0]}


def _promptfoo_provider(
    experiment: Experiment, variant_index: int, cell: Mapping[str, Any]
) -> dict[str, Any]:
    variant = experiment.variants[variant_index]
    model = str(cell.get(MODEL_AXIS, variant.model))
    config: dict[str, Any] = {}
    if variant.base_url:
        config["apiBaseUrl"] = variant.base_url
    config.update(variant.params)
    config.update({k: v for k, v in cell.items() if k != MODEL_AXIS})
    if variant.advanced:
        config["passthrough"] = dict(variant.advanced)
    label = variant.label + (f" [{_cell_label(cell)}]" if cell else "")
    entry: dict[str, Any] = {"id": f"openai:chat:{model}", "label": label}
    if config:
        entry["config"] = config
    return entry


def to_promptfoo(experiment: Experiment) -> str:
    """The experiment as a promptfoo config: one prompt per prompt, one provider per variant
    and grid cell (promptfoo has no parameter grid), one test with the equivalent assertions,
    and `evaluateOptions.repeat` for the repeats. Providers speak OpenAI's API at their base
    URL; set OPENAI_API_KEY (or each provider's `apiKeyEnvar`) when you run it."""
    out = [
        f"# promptfoo config written by Parley from {experiment.source}",
        "# Run it with: npx promptfoo@latest eval -c <this file>",
        f"description: {_q(experiment.name)}",
        "prompts:",
    ]
    for i, prompt in enumerate(experiment.prompts):
        messages = []
        if experiment.system:
            messages.append({"role": "system", "content": experiment.system})
        messages.append({"role": "user", "content": prompt})
        out.append(f"  - id: {_q(f'prompt-{i + 1}')}")
        out.append(f"    label: {_q(prompt[:60])}")
        out.append(f"    raw: {_q(json.dumps(messages, ensure_ascii=False))}")
    out.append("providers:")
    for variant in experiment.variants:
        for cell in grid_cells(experiment):
            entry = _promptfoo_provider(experiment, variant.index, cell)
            out.append(f"  - id: {_q(entry['id'])}")
            out.append(f"    label: {_q(entry['label'])}")
            if "config" in entry:
                out.append("    config:")
                out.extend(f"      {_q(k)}: {_q(v)}" for k, v in entry["config"].items())
    out.append("tests:")
    out.append(f"  - description: {_q(experiment.name)}")
    asserts = [_assertion(c) for c in experiment.checks]
    if asserts:
        out.append("    assert:")
        for a in asserts:
            first, *rest = a.items()
            out.append(f"      - {first[0]}: {_q(first[1])}")
            out.extend(f"        {k}: {_q(v)}" for k, v in rest)
    else:
        out[-1] += "\n    assert: []"
    out.append("evaluateOptions:")
    out.append(f"  repeat: {experiment.repeat}")
    out.append(f"  maxConcurrency: {experiment.concurrency}")
    return "\n".join(out) + "\n"


def render(
    results: Results, fmt: str, experiment_id: int | None = None, secrets: Iterable[str] = ()
) -> str:
    """`results` in `fmt`, scrubbed of `secrets` and every key this process has read (a key
    a model echoed, or one pasted into a prompt, is still a key)."""
    if fmt == "csv":
        text = to_csv(results)
    elif fmt == "json":
        text = to_json(results, experiment_id)
    elif fmt == "jsonl":
        text = to_jsonl(results)
    elif fmt == "md":
        text = to_markdown(results)
    elif fmt == "yaml":
        text = to_promptfoo(results.plan.experiment)
    else:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    return redact(text, [*known_secrets(), *secrets])


def rows_of(records: Iterable[RunRecord]) -> list[dict[str, Any]]:
    return [json_row(r) for r in records]
