"""Turn the seed articles into a searchable index: load, clean, chunk, embed, store.

    python -m index build     # incremental; --rebuild to start over
    python -m index status    # documents, chunks and the metadata found in each

Nothing heavy happens at import: the embedding model loads only when a build needs it.
"""
