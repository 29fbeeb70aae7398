"""Parley's history: SQLite store, branches, search. See `db.Store`."""

from .db import UNSET, Store, move_aside_and_start_fresh
from .errors import StoreError, StoreErrorKind
from .models import (
    MATCH_END,
    MATCH_START,
    Conversation,
    MessageStatus,
    SearchHit,
    Siblings,
    StoredMessage,
    fts_query,
    make_title,
)
from .schema import LATEST_VERSION, MIGRATIONS

__all__ = [
    "LATEST_VERSION",
    "MATCH_END",
    "MATCH_START",
    "MIGRATIONS",
    "UNSET",
    "Conversation",
    "MessageStatus",
    "SearchHit",
    "Siblings",
    "Store",
    "StoreError",
    "StoreErrorKind",
    "StoredMessage",
    "fts_query",
    "make_title",
    "move_aside_and_start_fresh",
]
