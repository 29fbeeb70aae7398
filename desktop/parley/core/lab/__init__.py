"""The Lab: experiments (prompts x variants x a parameter grid x repeats, with checks) planned,
run through the one request path, stored as they finish, summarised and exported; and the
inspector's code snippets (snippets.py).

    experiment = load_experiment(path, catalog)       # experiment.py: the TOML file, validated
    plan = make_plan(experiment)                       # plan.py: every run, numbered from 1
    runner = Runner(plan, engine, prepared, ...)       # runner.py: lanes per provider, caps
    results = Results(plan); runner.run_finished.connect(results.add)   # results.py: stats

Nothing here imports Qt: the window's Lab connects to the `Signal`s (signal.py).
"""
