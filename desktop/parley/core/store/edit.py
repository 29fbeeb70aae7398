"""Edits of a conversation's tree: delete a message with the replies below it (a branch), and
fork a conversation from any message into a new one.

A conversation is a tree, so a message cannot be taken out of the middle of it: deleting a
message deletes what grew from it (on every branch below it). The conversation then shows a
branch that still exists: the next sibling's (else the previous one's), else the parent.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.core.store import Store
from parley.core.store.errors import StoreError, StoreErrorKind
from parley.core.store.export import export_json


@dataclass(frozen=True)
class DeletedBranch:
    conversation_id: int
    removed: int  # messages deleted (the message and every reply below it)
    leaf: int | None  # what the conversation shows now (None: it is empty)


def subtree_ids(store: Store, msg_id: int) -> list[int]:
    """`msg_id` and every message below it, on every branch (parents before children)."""
    msg = store.get_message(msg_id)  # NOT_FOUND in words for a message that is gone
    children: dict[int | None, list[int]] = {}
    for m in store.messages(msg.conversation_id):
        children.setdefault(m.parent_id, []).append(m.id)
    ids = [msg_id]
    for i in ids:  # grows as it goes: breadth first
        ids.extend(sorted(children.get(i, [])))
    return ids


def delete_branch(store: Store, msg_id: int) -> DeletedBranch:
    """Delete `msg_id` and everything below it; refused while any of it is being streamed."""
    store.flush()  # answers still queued for writing are in the table first
    msg = store.get_message(msg_id)
    conv_id = msg.conversation_id
    ids = subtree_ids(store, msg_id)
    if any(store.get_message(i).status == "streaming" for i in ids):
        raise StoreError(
            StoreErrorKind.INVALID,
            "An answer in this part of the chat is still being written: stop it first.",
        )
    current = store.current_leaf(conv_id)
    siblings = store.sibling_ids(msg_id)
    index = siblings.index(msg_id)
    others = siblings[index + 1 :] + siblings[:index][::-1]  # the next branch, else the previous
    with store.batch() as conn:
        # ON DELETE CASCADE removes the replies below it (and their exchanges).
        conn.execute("DELETE FROM messages WHERE id = ?", (msg_id,))
    if current is not None and current not in ids:
        leaf: int | None = current  # the branch shown was elsewhere: it stays shown
    elif others:
        leaf = store.leaf_under(others[0])
    else:
        leaf = msg.parent_id
    if leaf is not None:
        store.set_current_leaf(conv_id, leaf)
    return DeletedBranch(conv_id, len(ids), leaf)


def fork_conversation(store: Store, msg_id: int, *, secrets: tuple[str, ...] = ()) -> int:
    """A new conversation holding the path from the first message down to `msg_id` (with the
    system prompt, provider, model and parameters); return its id. The original is unchanged."""
    msg = store.get_message(msg_id)
    path = {m.id for m in store.path_to(msg_id)}
    data = export_json(store, msg.conversation_id, secrets=secrets)
    conversation = dict(data["conversation"])
    title = conversation.get("title") or "New chat"
    conversation.update(title=f"{title} (fork)", title_set=True, pinned=False, draft="")
    conversation.pop("id", None)
    messages = [m for m in data["messages"] if m["id"] in path]
    if any(m.get("status") == "streaming" for m in messages):
        raise StoreError(
            StoreErrorKind.INVALID,
            "This answer is still being written: fork from it once it has finished.",
        )
    return store.import_records(conversation, messages, current_leaf=msg_id)
