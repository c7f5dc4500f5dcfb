"""`paperbot eval feedback`: the questions people voted on, asked again of today's build."""

from __future__ import annotations

from pydantic import BaseModel, Field

from corpus.feedback import FeedbackSet
from retrieval.lexical.index import SearchIndex


class FeedbackScores(BaseModel):
    """How the current build answers the questions people voted on."""

    thumbs_up: int
    still_given: int = Field(description="👍 answers given again, sentence for sentence")
    same_first_paper: int = Field(description="👍 answers whose first citation is still the same paper")
    thumbs_down: int
    changed: int = Field(description="👎 answers that are now different (other sentences, or no answer)")


def eval_feedback(votes: FeedbackSet, index: SearchIndex, store, stage=None) -> FeedbackScores:
    """Re-ask every voted question with today's index and models (through the semantic `stage` when given),
    and compare with what was judged."""
    from retrieval.answers.answer import answer_question

    up = still = same_first = down = changed = 0
    for vote in votes.votes:
        now = answer_question(vote.question, index, store, stage=stage)
        before = [s["text"] for s in vote.answer.get("answer", [])]
        again = [s.text for s in now.answer]
        if vote.vote == 1:
            up += 1
            still += now.found and again == before
            before_first = (vote.answer.get("citations") or [{}])[0].get("paper_id")
            same_first += bool(now.citations) and now.citations[0].paper_id == before_first
        else:
            down += 1
            changed += again != before
    return FeedbackScores(
        thumbs_up=up, still_given=still, same_first_paper=same_first, thumbs_down=down, changed=changed
    )
