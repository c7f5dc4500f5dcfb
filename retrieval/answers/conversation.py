"""Follow-up questions answered in the context of a conversation.

"Which datasets did they use?" after a question about Flamingo is about Flamingo. The
context changes what is *retrieved and preferred* — the papers the conversation already
cited, and the earlier questions' words — never what is quoted: the answer is still
sentences copied from an abstract, chosen and judged (answer or abstain) as any answer.

1. The cited papers first: ranked and judged (answer or abstain) by the follow-up together
   with the earlier questions, while the sentences are chosen by the follow-up's own words
   (so "which datasets" is answered by a sentence about datasets, not by re-quoting the
   first answer; a paper with no sentence sharing a word with the follow-up answers nothing).
2. When they do not answer it, the whole corpus with the same context words.
3. When that does not either, the follow-up alone against the whole corpus, and the
   reply says the conversation did not help (`fell_back`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from corpus.models import Paper
from corpus.store import Store
from retrieval.answers.answer import Answer, answer_from_ranked, answer_question
from retrieval.answers.answerability import paper_terms, question_weights
from retrieval.answers.retrieve import ranked_papers
from retrieval.answers.sentences import AnswerOptions
from retrieval.lexical.index import SearchIndex

if TYPE_CHECKING:
    from retrieval.semantic.stage import SemanticStage

CONTEXT_TURNS = 2  # earlier questions whose words join the follow-up's
# The context judges whether the conversation's papers answer; the follow-up's own words must still be
# there: "who won the world cup?" mid-conversation is not answered from a paper that mentions "world".
MIN_OWN_COVERAGE = 0.34


class Turn(BaseModel):
    """One earlier exchange: what was asked, and the papers the answer cited (or offered as closest)."""

    question: str
    cited: list[str] = Field(default_factory=list)


class ContextAnswer(BaseModel):
    answer: Answer
    in_context: bool = Field(description="answered from the conversation's papers or words")
    fell_back: bool = Field(description="the conversation did not help; this is the whole corpus's answer")


def answer_follow_up(
    question: str,
    turns: list[Turn],
    index: SearchIndex,
    store: Store,
    options: AnswerOptions | None = None,
    stage: SemanticStage | None = None,
) -> ContextAnswer:
    """A question answered in its conversation's context. The semantic `stage`, when given, serves the answers
    from the whole corpus (a first question, or a follow-up the context did not help); the in-context answers
    stay lexical: they are judged by the conversation's words."""
    options = options or AnswerOptions()
    if not turns:
        return ContextAnswer(
            answer=answer_question(question, index, store, options, stage), in_context=False, fell_back=False
        )
    recent = turns[-CONTEXT_TURNS:]
    context = " ".join([question, *(t.question for t in recent)])
    cited = list(dict.fromkeys(pid for t in reversed(turns) for pid in t.cited))
    rows = [index.rows[pid] for pid in cited if pid in index.rows]
    if rows:
        allowed = np.zeros(len(index.paper_ids), bool)
        allowed[rows] = True
        answer = _answer(question, context, index, store, options, allowed)
        if answer.found:
            return ContextAnswer(answer=answer, in_context=True, fell_back=False)
    answer = _answer(question, context, index, store, options, None)
    if answer.found:
        return ContextAnswer(answer=answer, in_context=True, fell_back=False)
    return ContextAnswer(
        answer=answer_question(question, index, store, options, stage), in_context=False, fell_back=True
    )


def _answer(
    question: str,
    context: str,
    index: SearchIndex,
    store: Store,
    options: AnswerOptions,
    allowed: np.ndarray | None,
) -> Answer:
    """Papers ranked and judged by the context words (within `allowed`), sentences chosen by the follow-up's."""
    ranked = ranked_papers(index.search(context, options.papers, allowed_rows=allowed), store.get_many)
    answer = answer_from_ranked(question, ranked, index, options, judged=context)
    if answer.found and _own_coverage(question, _by_id(ranked, answer.citations[0].paper_id), index) < MIN_OWN_COVERAGE:
        return answer.model_copy(update={"found": False, "answer": [], "citations": []})
    return answer


def _by_id(ranked: list[tuple[Paper, float]], paper_id: str) -> Paper:
    return next(paper for paper, _ in ranked if paper.id == paper_id)


def _own_coverage(question: str, paper: Paper, index: SearchIndex) -> float:
    """Share of the follow-up's own informative weight that the cited paper holds."""
    weights = question_weights(index.respell(question), index.analyzer)
    terms = paper_terms(paper, index.analyzer).terms
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0
