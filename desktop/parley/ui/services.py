"""The app's long-lived objects (`Services`: catalog, settings, key store, history, engine) and
how the window loads them (`load_services`, in the start-up loader thread)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from parley.core.app.logs import setup_logging
from parley.core.app.paths import provider_cache_path, user_providers_dir
from parley.core.app.settings import Settings, load_settings, save_settings
from parley.core.providers.catalog import Catalog, load_catalog
from parley.core.store import Store, StoreError

if TYPE_CHECKING:
    from parley.core.app.secrets import KeyStore

log = logging.getLogger("parley.ui.services")


class Services:
    """The app's long-lived objects. The engine (httpx) and the key store (keyring) are made on
    first use, so the window can show before those imports; `warm_up()` makes them right after.
    """

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        store: Store,
        *,
        engine: Any = None,
        keys: KeyStore | None = None,
        store_error: StoreError | None = None,
        problems: Sequence[str] = (),
        save_settings: Callable[[Settings], object] = save_settings,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.store = store
        self.store_error = store_error  # the history could not be opened: `store` is temporary
        self.problems = list(problems)
        self.save_settings = save_settings
        self._engine = engine
        self._lab_engine: Any = None
        self._keys = keys

    @property
    def engine(self) -> Any:
        """The `parley.net.engine.Engine` (anything with run / list_models / aclose)."""
        if self._engine is None:
            from parley.net.engine import Engine

            self._engine = Engine(
                proxy=self.settings.proxy, read_timeout=self.settings.read_timeout
            )
        return self._engine

    @engine.setter
    def engine(self, engine: Any) -> None:
        self._engine = engine

    @property
    def has_engine(self) -> bool:
        return self._engine is not None

    @property
    def lab_engine(self) -> Any:
        """The Lab's sweeps' engine: it sends each request once, as the runner wants (the runner
        retries, and a 429 pauses only that provider's lane)."""
        if self._lab_engine is None:
            from parley.net.engine import Engine, RetryPolicy

            self._lab_engine = Engine(
                proxy=self.settings.proxy,
                read_timeout=self.settings.read_timeout,
                retry=RetryPolicy(max_attempts=1),
            )
        return self._lab_engine

    @property
    def has_lab_engine(self) -> bool:
        return self._lab_engine is not None

    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            from parley.core.app.secrets import KeyStore

            self._keys = KeyStore()
        return self._keys

    def warm_up(self) -> None:
        """Make what the first send needs (runs in a worker thread after the window is up)."""
        self.engine  # noqa: B018 - made now rather than on the first send
        # The keyring's backend is found and probed on first use (about 0.1 s): here, rather than
        # on the UI thread when the model list first asks for a key. A failure is met again (and
        # handled) there.
        keys = self.keys
        try:
            keys.backend_available()
        except Exception as exc:
            log.warning("the key store's backend failed its probe: %s", type(exc).__name__)
        # What a send needs (the window makes its session on first use, by then imported).
        import parley.core.chat.session  # noqa: F401

        # The first code block would otherwise import Markdown rules and lexers mid-stream.
        from parley.core.render import markdown

        markdown.warm_up()

    def apply_network_settings(self) -> list[Any]:
        """New engines (the chat's and the Lab's) where the proxy or the read timeout changed;
        returns the old ones (their streams finish there; the caller closes them at shutdown).
        A new engine keeps the old one's retry policy."""
        s = self.settings
        retired = []
        for name in ("_engine", "_lab_engine"):
            old = getattr(self, name)
            if old is None:
                continue
            timeout = getattr(getattr(old, "timeout", None), "read", s.read_timeout)
            proxy = getattr(old, "proxy", None) or None
            if (s.proxy or None) == proxy and timeout == s.read_timeout:
                continue
            from parley.net.engine import Engine

            retry = getattr(old, "retry", None)
            setattr(self, name, Engine(proxy=s.proxy, read_timeout=s.read_timeout, retry=retry))
            retired.append(old)
        return retired

    def reload_catalog(self) -> Catalog:
        """The catalog again, with the user's provider files (one was just added)."""
        self.catalog = load_catalog(
            user_dirs=[user_providers_dir()], cache_path=provider_cache_path()
        )
        return self.catalog

    def replace_store(self, store: Store) -> None:
        """Use `store` from now on (a recovered history); the one it replaces is closed."""
        old, self.store, self.store_error = self.store, store, None
        try:
            old.close()
        except Exception:
            log.warning("closing the history that was replaced failed", exc_info=True)

    def key(self, provider_id: str) -> str | None:
        try:
            return self.keys.get(provider_id).key  # remembered: kept out of the log from now on
        except Exception as exc:  # a broken keyring must not stop the window
            log.warning("reading the key for %s failed: %s", provider_id, type(exc).__name__)
            return None


def open_store() -> tuple[Store, StoreError | None]:
    """The history; on failure a temporary in-memory one plus the error to show."""
    try:
        return Store.open(), None
    except StoreError as err:
        return Store.open(":memory:"), err


def load_services() -> Services:
    try:
        setup_logging()
    except OSError as exc:  # an unwritable data folder: the app runs without its log file
        log.warning("the log file could not be opened: %s", exc)
    catalog = load_catalog(user_dirs=[user_providers_dir()], cache_path=provider_cache_path())
    settings = load_settings()
    problems = [str(p) for p in catalog.problems] + list(settings.problems)
    store, store_error = open_store()
    return Services(catalog, settings, store, store_error=store_error, problems=problems)
