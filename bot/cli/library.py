"""`cite`, `related` and `feedback`: working with papers and answers beyond a single reply."""

from __future__ import annotations

import argparse

from pydantic import BaseModel

from bot.cli.common import EXIT_USAGE, Context, UserError, emit
from bot.cli.query import HitOut, find_paper


class CiteOut(BaseModel):
    paper_id: str
    bibtex: str
    plain: str


class RelatedOut(BaseModel):
    paper_id: str
    related: list[HitOut]


def cmd_cite(args: argparse.Namespace, ctx: Context) -> int:
    from corpus.cite import bibtex, plain_reference

    if not args.id:
        raise UserError("give a paper id, e.g. paperbot cite 2403.05530", EXIT_USAGE)
    paper = find_paper(ctx, args.id)
    out = CiteOut(paper_id=paper.id, bibtex=bibtex(paper), plain=plain_reference(paper))
    emit(args, out, lambda: out.bibtex if args.style == "bibtex" else out.plain)
    return 0


def cmd_related(args: argparse.Namespace, ctx: Context) -> int:
    from retrieval.lexical.related import related_papers

    if not args.id:
        raise UserError("give a paper id, e.g. paperbot related 2403.05530", EXIT_USAGE)
    paper = find_paper(ctx, args.id)
    hits = related_papers(paper, ctx.index, args.k)
    records = ctx.store.get_many([h.paper_id for h in hits])
    out = RelatedOut(
        paper_id=paper.id,
        related=[
            HitOut(
                paper_id=h.paper_id,
                score=round(h.score, 6),
                title=records[h.paper_id].title,
                url=records[h.paper_id].url,
                published=records[h.paper_id].published.isoformat() if records[h.paper_id].published else None,
            )
            for h in hits
            if h.paper_id in records
        ],
    )

    def text() -> str:
        if not out.related:
            return f"No papers like {paper.id} in the corpus."
        return "\n".join(f"{n:>2}. {h.title} ({h.paper_id})" for n, h in enumerate(out.related, 1))

    emit(args, out, text)
    return 0


def cmd_feedback(args: argparse.Namespace, ctx: Context) -> int:
    from corpus.feedback import Feedback

    votes = Feedback(ctx.store).export()
    up = sum(v.vote == 1 for v in votes.votes)

    def text() -> str:
        return (
            f"{len(votes.votes)} votes ({up} 👍, {len(votes.votes) - up} 👎)."
            " Add --json to write them as an evaluation set for `paperbot eval feedback FILE`."
        )

    emit(args, votes, text)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    cite = commands.add_parser("cite", parents=[common], help="a paper's citation: BibTeX (arXiv's form) or plain text")
    cite.add_argument("id", nargs="?")
    cite.add_argument("--style", choices=["bibtex", "plain"], default="bibtex", help="default: bibtex")
    cite.set_defaults(handler=cmd_cite)

    related = commands.add_parser("related", parents=[common], help="the papers most like this one")
    related.add_argument("id", nargs="?")
    related.add_argument("--k", type=int, default=5, choices=range(1, 26), metavar="1..25", help="how many (default 5)")
    related.set_defaults(handler=cmd_related)

    feedback = commands.add_parser("feedback", parents=[common], help="votes on the bot's answers")
    feedback.add_argument("action", choices=["export"], help="export: every vote (with --json, as an evaluation set)")
    feedback.set_defaults(handler=cmd_feedback)
