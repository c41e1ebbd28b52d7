"""The default answerer: no LLM, only sentences the sources actually contain.

- :mod:`qa.extractive.question`: what a question asks for (its kind, the values of that kind, a
  question about the documents themselves);
- :mod:`qa.extractive.candidates`: a candidate sentence and its score (the hand-set weights);
- :mod:`qa.extractive.answerer`: :class:`ExtractiveAnswerer`, which picks the answer, quotes
  conflicting figures, answers metadata questions and abstains.

The texts it compares with a question are computed when indexing (:mod:`index.texts`), and how
sure it is comes from :mod:`qa.confidence`.
"""
