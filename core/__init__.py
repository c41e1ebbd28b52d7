"""The ground floor: what every stage needs and nothing above it.

- :mod:`core.settings`: the one settings object (``QA_`` environment variables, ``.env``);
- :mod:`core.errors`: the project's exceptions, one base class;
- :mod:`core.lexical`: words, terms, numbers and dates read from text (folded, stemmed);
- :mod:`core.display`: text made safe to show (control characters escaped).

Nothing here imports ``index``, ``qa`` or ``ui``; ``tests/test_layers.py`` checks it.
"""
