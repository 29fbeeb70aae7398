"""The experiment file: what it accepts, and the error (file, line, key) for what it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.core.lab.experiment import ExperimentError, load_experiment, parse_experiment
from parley.core.lab.plan import make_plan, plan_size
from parley.core.providers.catalog import load_catalog

CATALOG = load_catalog()
REPO = Path(__file__).resolve().parents[3]

GOOD = """\
name = "t x s"
prompts = ["one", "two"]
system = "Be terse."
repeat = 2
concurrency = 8
max_requests = 200

[limits]
euri = 2

[[variants]]
label = "cold"
provider = "openai-compatible"
base_url = "http://127.0.0.1:9/v1"
model = "m"
params = { temperature = 0.2, stop = ["\\n\\n"] }

[[variants]]
provider = "euri"
model = "gpt-4o-mini"

[grid]
temperature = [0.0, 0.5, 1.0]
top_p = { from = 0.5, to = 1.0, step = 0.25 }

[[checks]]
type = "contains"
value = "fox"

[[checks]]
type = "json-schema"
schema = { type = "object", required = ["a"] }
"""


def parse(text: str) -> object:
    return parse_experiment(text, CATALOG, source="x.toml")


def problems(text: str) -> list[str]:
    with pytest.raises(ExperimentError) as info:
        parse(text)
    assert "Nothing was sent." in str(info.value)
    return [p.describe("x.toml") for p in info.value.problems]


def test_a_full_file_reads_and_plans() -> None:
    exp = parse_experiment(GOOD, CATALOG, source="x.toml")
    assert exp.prompts == ("one", "two")
    assert [v.label for v in exp.variants] == ["cold", "euri/gpt-4o-mini"]
    assert exp.limits == {"euri": 2}
    assert exp.grid[1].values == (0.5, 0.75, 1.0)
    assert [c.type for c in exp.checks] == ["contains", "json-schema"]
    plan = make_plan(exp)
    assert len(plan) == plan_size(exp) == 2 * 2 * 3 * 3 * 2
    assert [r.id for r in plan.runs] == list(range(1, len(plan) + 1))
    first = plan.runs[0]
    # The grid's value wins over the variant's own; the variant's other params stay.
    assert first.params == {"temperature": 0.0, "stop": ["\n\n"], "top_p": 0.5}
    assert plan.request(first).messages[0].content == "Be terse."


def test_the_worked_example_in_docs_is_valid() -> None:
    exp = load_experiment(REPO / "docs/examples/temperature-x-seed.toml", CATALOG)
    assert len(make_plan(exp)) == 24


def test_unknown_keys_are_named_with_their_line() -> None:
    text = GOOD.replace("repeat = 2", "repeats = 2").replace('label = "cold"', 'lable = "cold"')
    found = problems(text)
    assert any(p.startswith("x.toml:4: repeats: is not a key here") for p in found), found
    assert any(p.startswith("x.toml:12: variants[1].lable: is not a key here") for p in found)


def test_parameters_are_checked_against_the_provider_file() -> None:
    found = problems(GOOD.replace("temperature = 0.2", "temperature = 7"))
    assert found == [
        "x.toml:16: variants[1].params.temperature: temperature must be between 0 and 2 "
        "(you entered 7)"
    ]
    found = problems(GOOD.replace("temperature = 0.2", "temprature = 0.2"))
    assert "variants[1].params.temprature" in found[0] and "not a parameter" in found[0]


def test_grid_values_are_checked_for_every_variant() -> None:
    found = problems(GOOD.replace("[0.0, 0.5, 1.0]", "[0.0, 0.5, 3.0]"))
    assert [
        p.startswith("x.toml:23: grid.temperature: temperature must be between 0 and 2")
        for p in found
    ] == [True, True]
    assert "(for variant 'cold')" in found[0] and "(for variant 'euri/gpt-4o-mini')" in found[1]


def test_bad_ranges() -> None:
    assert "step: must be greater than 0" in problems(GOOD.replace("step = 0.25", "step = 0"))[0]
    assert "must not be less than from" in problems(GOOD.replace("to = 1.0", "to = 0.1"))[0]
    assert "exactly the keys" in problems(GOOD.replace("step = 0.25", "stride = 0.25"))[0]


def test_checks_of_unknown_type_and_bad_schema_or_regex() -> None:
    found = problems(GOOD.replace('type = "contains"', 'type = "containz"'))
    assert found[0].startswith("x.toml:27: checks[1].type: 'containz' is not a check type")
    found = problems(GOOD.replace('type = "object"', 'type = "objekt"'))
    assert found[0].startswith("x.toml:32: checks[2].schema: is not a valid JSON Schema")
    regex = GOOD.replace('type = "contains"\nvalue = "fox"', 'type = "regex"\nvalue = "(fox"')
    assert "not a valid regular expression" in problems(regex)[0]


def test_toml_errors_unknown_provider_and_missing_parts() -> None:
    assert problems('name = "x"\nrepeat = = 2\n')[0].startswith(
        "x.toml:2: (file): is not valid TOML"
    )
    found = problems(GOOD.replace('provider = "euri"', 'provider = "eury"'))
    assert "there is no provider 'eury'" in found[0] and "variants[2].provider" in found[0]
    found = problems('name = "x"\n')
    assert any("prompt: is missing" in p for p in found)
    assert any("variants: is missing" in p for p in found)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError) as info:
        load_experiment(tmp_path / "nope.toml", CATALOG)
    assert "nope.toml: (file): there is no such file" in str(info.value)


def test_a_huge_grid_is_refused_before_it_is_listed() -> None:
    from parley.core.lab.plan import PlanRefused

    text = GOOD.replace("step = 0.25", "step = 0.0001")
    exp = parse_experiment(text, CATALOG)
    with pytest.raises(PlanRefused, match="more than max_requests = 200"):
        make_plan(exp, limit=exp.max_requests)


def test_a_compare_layout_saved_as_an_experiment_loads_back() -> None:
    from parley.core.lab.experiment import Variant, experiment_toml

    variants = [
        Variant(0, "cold", "euri", "gpt-4o-mini", params={"temperature": 0.2, "stop": ["\n\n"]}),
        Variant(
            1,
            'hot "quoted"',
            "openai-compatible",
            "m",
            base_url="http://127.0.0.1:9/v1",
            params={"temperature": 1.0},
            advanced={"provider": {"sort": "price"}},
        ),
    ]
    text = experiment_toml(
        name="fox test", prompt='Say "hi"\nplease', variants=variants, system="Be terse."
    )
    loaded = parse_experiment(text, load_catalog(), source="saved.toml")
    assert loaded.name == "fox test" and loaded.prompts == ('Say "hi"\nplease',)
    assert loaded.system == "Be terse."
    assert [(v.label, v.provider, v.model) for v in loaded.variants] == [
        (v.label, v.provider, v.model) for v in variants
    ]
    assert [dict(v.params) for v in loaded.variants] == [dict(v.params) for v in variants]
    assert dict(loaded.variants[1].advanced) == {"provider": {"sort": "price"}}
    assert loaded.variants[1].base_url == "http://127.0.0.1:9/v1"
