"""The Lab window's Sweep tab: the sweep page, built when the tab is first shown (or a file is
opened in it), so the Lab, which the main window makes at start-up, costs nothing for it until
then (the page and its results views import Qt's whole namespace and the Lab's core)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

if TYPE_CHECKING:
    from parley.core.lab.experiment import Experiment
    from parley.ui.lab.sweep_page import SweepPage


class SweepTab(QWidget):
    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        """`context` is the Lab's `LabContext` (store, engine, keys, catalog, tasks,
        base_urls; `sweep_engine` when the window has one that sends each request once)."""
        super().__init__(parent)
        self.context = context
        self.setAccessibleName("Sweep")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._page: SweepPage | None = None

    @property
    def page(self) -> SweepPage:
        if self._page is None:
            from parley.ui.lab.sweep_page import SweepPage

            c = self.context
            engine = getattr(c, "sweep_engine", None) or c.engine
            self._page = SweepPage(
                c.catalog(),
                c.store,
                engine,
                lambda spec: c.keys(spec.id),
                self,
                tasks=c.tasks,
                base_urls=c.base_urls,
            )
            self._layout.addWidget(self._page)
        return self._page

    @property
    def built(self) -> bool:
        return self._page is not None

    def showEvent(self, event: QShowEvent) -> None:
        self.page  # noqa: B018 - built when first shown
        super().showEvent(event)

    def open_experiment(self, experiment: Experiment) -> bool:
        """The Lab's `parley FILE.toml` for a sweep (a grid, repeats, or many variants)."""
        return self.page.open_experiment(experiment)

    def summary(self) -> str:
        """What the Sweep page holds, in a line (the Lab's self-test report)."""
        from parley.core.lab.plan import plan_size

        page = self.page
        experiment = page._experiment()
        if experiment is None:
            return "a sweep with problems (shown in its editor)"
        return f"{experiment.name}: a sweep of {plan_size(experiment):,} runs ready to check"

    async def shutdown(self) -> None:
        if self._page is not None:
            await self._page.shutdown()
