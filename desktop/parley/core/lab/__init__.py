"""The Lab: experiments over variants, grids and repeats; checks; snippets; results."""
