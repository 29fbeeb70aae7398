"""The sweep editor's file handling: a file read and written back runs the same plan, the
editor's cells read as values, and each problem is placed on its part of the form."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.core.lab.document import (
    CellError,
    Place,
    check_from_cells,
    check_value_text,
    document_text,
    locate,
    params_from_text,
    params_text,
    read_document,
    values_from_text,
    values_text,
)
from parley.core.lab.experiment import ExperimentError, parse_experiment
from parley.core.lab.plan import make_plan
from parley.core.providers.catalog import load_catalog

CATALOG = load_catalog()
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "temperature-x-seed.toml"


def test_the_example_written_back_plans_the_same_runs() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    again = document_text(read_document(text))
    assert read_document(again) == read_document(text)
    first = make_plan(parse_experiment(text, CATALOG))
    second = make_plan(parse_experiment(again, CATALOG))
    assert [(r.variant, r.cell, r.repeat, r.model, dict(r.params)) for r in first.runs] == [
        (r.variant, r.cell, r.repeat, r.model, dict(r.params)) for r in second.runs
    ]
    assert len(first) == 24


def test_keys_the_editor_does_not_show_are_kept() -> None:
    data = read_document(
        'name = "x"\ndescription = "kept"\nprompt = "p"\n[limits]\neuri = 2\n'
        '[[variants]]\nprovider = "euri"\nmodel = "m"\nstream = false\n'
        'advanced = { "x-extra" = { deep = [1, 2] } }\n'
    )
    assert read_document(document_text(data)) == data


def test_not_toml_is_reported_as_the_cli_reports_it() -> None:
    with pytest.raises(ExperimentError) as caught:
        read_document("name = ", source="x.toml")
    with pytest.raises(ExperimentError) as cli:
        parse_experiment("name = ", CATALOG, source="x.toml")
    assert str(caught.value) == str(cli.value)


@pytest.mark.parametrize(
    ("typed", "values"),
    [
        ("0, 0.5, 1", [0, 0.5, 1]),
        ("[0.0, 1.0]", [0.0, 1.0]),
        ("gpt-4o-mini, mistral/mistral-small-3.2", ["gpt-4o-mini", "mistral/mistral-small-3.2"]),
        ('"a, b", c', ["a, b", "c"]),
        ("1, two, true", [1, "two", True]),
        ("  ", []),
    ],
)
def test_values_as_typed(typed: str, values: list[object]) -> None:
    assert values_from_text(typed) == values
    assert values_from_text(values_text(values)) == values


def test_params_as_typed_and_shown() -> None:
    params = params_from_text('temperature = 0.2, stop = ["\\n\\n"]')
    assert params == {"temperature": 0.2, "stop": ["\n\n"]}
    assert params_from_text(params_text(params)) == params
    assert params_from_text('{"max_tokens": 60}') == {"max_tokens": 60}
    assert params_from_text("") == {}
    with pytest.raises(CellError, match="name = value pairs"):
        params_from_text("temperature 0.2")


def test_checks_from_cells() -> None:
    assert check_from_cells("contains", "fox") == {"type": "contains", "value": "fox"}
    assert check_from_cells("max-latency-ms", "5000") == {"type": "max-latency-ms", "value": 5000}
    assert check_from_cells("finish-reason", "stop, length") == {
        "type": "finish-reason",
        "value": ["stop", "length"],
    }
    schema = check_from_cells("json-schema", '{"type": "object"}')
    assert schema == {"type": "json-schema", "schema": {"type": "object"}}
    assert check_value_text(schema) == '{"type": "object"}'
    assert check_from_cells("is-json", "") == {"type": "is-json"}
    # What is wrong is left for parse_experiment to say, as the CLI says it.
    bad = check_from_cells("max-cost", "cheap")
    with pytest.raises(ExperimentError, match=r"checks\[1\]\.value: must be a number"):
        parse_experiment(
            document_text(
                {"prompt": "p", "variants": [{"provider": "euri", "model": "m"}], "checks": [bad]}
            ),
            CATALOG,
        )


@pytest.mark.parametrize(
    ("key", "place"),
    [
        ("variants[2].params.temperature", Place("variants", 1, "params")),
        ("variants[1].provider", Place("variants", 0, "provider")),
        ("grid.top_p.step", Place("grid", None, "top_p")),
        ("grid.temperature", Place("grid", None, "temperature")),
        ("grid[2]", Place("grid", 1, None)),  # the editor's row without a name
        ("checks[3].value", Place("checks", 2, "value")),
        ("prompts[2]", Place("general", 1, "prompts")),
        ("prompt", Place("general", None, "prompts")),
        ("max_cost", Place("general", None, "max_cost")),
        ("limits.euri", Place("limits", None, "euri")),
        ("(file)", Place("file")),
    ],
)
def test_problems_are_placed(key: str, place: Place) -> None:
    assert locate(key) == place
