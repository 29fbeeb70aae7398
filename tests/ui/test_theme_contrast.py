"""Text contrast in both themes, measured: every pair the window paints text with reaches the
WCAG AA ratio for body text (4.5:1)."""

from __future__ import annotations

import pytest

from parley.ui.theme import DARK, LIGHT, ThemeColors, contrast_ratio, text_pairs


def test_contrast_ratio_matches_the_wcag_definition() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#ffffff", "#767676") == contrast_ratio("#767676", "#ffffff")


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_every_text_colour_reads_on_its_background(theme: ThemeColors) -> None:
    low = {
        where: round(contrast_ratio(fg, bg), 2)
        for where, (fg, bg) in text_pairs(theme).items()
        if contrast_ratio(fg, bg) < 4.5
    }
    assert not low, f"below 4.5:1: {low}"
