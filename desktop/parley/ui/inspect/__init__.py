"""The inspector: what was sent and received for one answer (imported when first opened)."""
