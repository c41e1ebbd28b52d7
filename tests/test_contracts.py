"""One contract, run over every answerer and every judge the registry offers (fast: an in-memory
library over two made-up documents, LangChain's ``DeterministicFakeEmbedding`` for the embedder and
``GenericFakeChatModel`` for the LLM). A component added to ``qa.registry`` is held to it at once.

What every answerer promises (:class:`qa.answer.Answerer`): it yields only text, sentences or a
refusal (how sure the answer is, is the pipeline's next step, :class:`qa.answer.Assessor`); every sentence it writes points at spans that exist in the documents it
was given, each within one passage's document; nothing follows a refusal. What every judge
promises (:class:`qa.verify.SupportJudge`): its name starts with its registry name, its threshold and its
scores lie in 0..1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from core.lexical import terms
from core.settings import Settings
from index.metadata import DocumentMetadata
from index.texts import describe
from qa.answer import AnswerBuilder, Described, DraftSentence, Refusal
from qa.extractive.answerer import ExtractiveAnswerer
from qa.followup import Resolved
from qa.pipeline import Pipeline
from qa.registry import ANSWERERS, JUDGES, Models, make_answerer, make_judge
from qa.schema import Passage
from tests.test_generative import fake_llm

DOCUMENTS = {
    "alpha.txt": "Alpha Report\nThe alpha convoy carried 40 trucks to the border. Officials confirmed the convoy arrived.\n",
    "beta.txt": "Beta Report\nThe beta battalion trained for six weeks near the coast. It then moved north.\n",
}
QUESTIONS = ["How many trucks did the alpha convoy carry?", "What is the capital of France?"]


class FakeLibrary:
    """:class:`qa.answer.Library` over :data:`DOCUMENTS`, with a deterministic fake embedder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder = DeterministicFakeEmbedding(size=32)

    def text(self, source: str) -> str:
        return DOCUMENTS[source]

    def metadata(self, source: str) -> DocumentMetadata:
        return DocumentMetadata()

    def sources(self) -> list[str]:
        return sorted(DOCUMENTS)

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = np.asarray(self._embedder.embed_documents(texts), dtype=np.float32)
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist()  # unit length, as MiniLM's

    def idf(self, term: str) -> float:
        holding = sum(term in terms(text) for text in DOCUMENTS.values())
        return math.log((len(DOCUMENTS) + 1) / (holding + 0.5))

    def mentions(self, word: str) -> bool:
        return any(re.search(rf"\b{re.escape(word)}\b", text, re.I) for text in DOCUMENTS.values())

    def described(self) -> Described:
        sources = self.sources()
        texts = [describe(s, self.metadata(s)) for s in sources]
        return Described(
            sources, np.asarray(self.embed(texts), dtype=np.float32), [frozenset(terms(t)) for t in texts]
        )


def passages() -> list[Passage]:
    return [
        Passage(id=f"{source}#0", source=source, text=text, start=0, end=len(text), rank=rank, score=1 / rank)
        for rank, (source, text) in enumerate(DOCUMENTS.items(), start=1)
    ]


class FakeReader:
    """:class:`qa.reader.Reader` by the share of the question's terms a sentence holds."""

    name = "fake-reader"

    def logits(self, question: str, candidates: list[tuple[str, str]]) -> list[float]:
        asked = set(terms(question))
        return [8 * len(asked & set(terms(s))) / (len(asked) or 1) - 4 for s, _ in candidates]


def models(settings: Settings, library: FakeLibrary, reply: str) -> Models:
    made = Models(settings, embed=library.embed)
    made.readers[settings.resolved_reader_model] = FakeReader()
    made.llms[settings.llm] = fake_llm(*[reply] * 4)  # the answerer's and, in-process, the judge's
    made.llms[f"{settings.llm}#judge"] = fake_llm(*["yes"] * 20)
    return made


def drafted(name: str, question: str) -> Iterator[object]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    library = FakeLibrary(settings)
    answerer = make_answerer(
        name, settings, models(settings, library, "The alpha convoy carried 40 trucks [1].")
    )
    assert answerer.name == name
    yield from answerer.stream(Resolved(question, question, False), passages(), library)


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("name", sorted(ANSWERERS))
def test_every_answerer_keeps_the_answerer_contract(name: str, question: str) -> None:
    events = list(drafted(name, question))
    assert events, "an answerer yields at least a sentence or a refusal"
    assert all(isinstance(e, str | DraftSentence | Refusal) for e in events), events
    refusals = [i for i, e in enumerate(events) if isinstance(e, Refusal)]
    assert refusals in ([], [len(events) - 1]), "nothing follows a refusal"
    sentences = [e for e in events if isinstance(e, DraftSentence)]
    assert sentences or refusals, "it answers or refuses"
    given = {p.source for p in passages()}
    for sentence in sentences:
        assert sentence.text.strip() and "[" not in sentence.text, sentence  # markers are the builder's
        for span in sentence.spans:
            assert span.source in given, span
            assert 0 <= span.start < span.end <= len(DOCUMENTS[span.source]), span
            assert DOCUMENTS[span.source][span.start : span.end].strip(), span


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("name", sorted(ANSWERERS))
def test_the_pipeline_assesses_every_answerers_answer(name: str, question: str) -> None:
    """The assessment is a pipeline step run for every answerer, after its stream ends; for the
    extractive answerer it is the one its own abstention rested on."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    library = FakeLibrary(settings)
    made = models(settings, library, "The alpha convoy carried 40 trucks [1].")
    answerer = make_answerer(name, settings, made)
    judge = make_judge("overlap", settings, made)
    pipeline = Pipeline(settings, answerers={name: answerer}, judge=judge)
    pipeline.models.readers.update(made.readers)  # the extractive assessor reads with the fake reader
    resolved = Resolved(question, question, False)
    builder = AnswerBuilder(question, passages(), library, judge, answerer=name)
    list(pipeline._run(answerer, resolved, passages(), builder))
    assessment = builder.assessment
    assert assessment is not None and 0.0 <= assessment.confidence <= 1.0, assessment
    if isinstance(answerer, ExtractiveAnswerer):
        assert assessment == answerer.draft(resolved, passages(), library).assessment


@pytest.mark.parametrize("name", sorted(JUDGES))
def test_every_judge_keeps_the_judge_contract(name: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    library = FakeLibrary(settings)
    judge = make_judge(name, settings, models(settings, library, "yes"))
    assert judge.name.split(":")[0] == name  # "llm:<model>" names the model too
    assert 0.0 < judge.threshold <= 1.0
    passage = DOCUMENTS["alpha.txt"]
    for claim in [
        "The alpha convoy carried 40 trucks to the border.",
        "The beta battalion flew to the moon.",
    ]:
        score = judge.score(claim, passage)
        assert isinstance(score, float) and 0.0 <= score <= 1.0, (claim, score)


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_extractive_assessment_is_reused_when_the_answer_resumes_on_another_thread(question: str) -> None:
    """Gradio runs each step of a streamed answer in its thread pool: the assessment asked for after
    the stream is the draft's own even when another thread asks (a metadata answer's differs from
    the one computed afresh from the passages)."""
    import threading

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    library = FakeLibrary(settings)
    answerer = ExtractiveAnswerer()
    resolved = Resolved(question, question, False)
    drafted: list[object] = []
    worker = threading.Thread(target=lambda: drafted.append(answerer.draft(resolved, passages(), library)))
    worker.start()
    worker.join()
    assessment = drafted[0].assessment  # type: ignore[attr-defined]
    assert assessment is not None and answerer.assess(resolved, passages(), library) is assessment
