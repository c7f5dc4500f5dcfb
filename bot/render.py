"""Answers, search results and papers as Discord embeds, always inside Discord's limits.

discord.py does not check these limits; Discord rejects the whole message when one is
exceeded. So every renderer cuts at sentence boundaries and drops a reference only
together with the sentences that cite it (no orphaned `[n]`).
"""

from __future__ import annotations

import io
import urllib.parse

import discord
from discord.utils import escape_markdown

from corpus.cite import bibliography, bibtex, bibtex_key, plain_reference
from corpus.models import Paper
from retrieval.answers.answer import Answer, collection_line, unstated_line
from retrieval.answers.digest import Digest
from retrieval.answers.search import SearchHit
from retrieval.answers.tldr import PaperOut

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
URL_MAX = 2048
QUOTE_MAX = 200
COLOUR = discord.Colour.from_rgb(179, 27, 27)


def safe(text: str, limit: int | None = None) -> str:
    """User or corpus text shown literally: markdown and mentions escaped, cut with an ellipsis."""
    # a zero-width space after every "@" defuses @everyone, <@id>, <@&role> of any length;
    # allowed_mentions=none on every message is the second guard
    text = escape_markdown(text.replace("\x00", "")).replace("@", "@\u200b")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip("\\") + "…"
    return text


def cut(text: str, limit: int) -> str:
    """`text` if it fits, else its first `limit - 1` characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """A URL Discord accepts (http or https, a host, no whitespace, at most 2,048 characters), else None.

    Records ingested before URLs were validated can hold anything; Discord rejects the whole
    message for one bad embed URL, so a bad one is left out instead.
    """
    if not url or len(url) > URL_MAX or any(c.isspace() or ord(c) < 32 or c in '<>"' for c in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def link(text: str, url: str | None) -> str:
    """A markdown link when the URL is acceptable (parentheses encoded so they cannot end it early), else the text."""
    chosen = safe_url(url)
    return f"[{text}]({chosen.replace('(', '%28').replace(')', '%29')})" if chosen else text


def fit_content(text: str) -> str:
    """Message content within Discord's 2,000 characters."""
    return cut(text, CONTENT_MAX)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """The last guard before sending: every field of the embed within Discord's limits.

    Renderers already aim inside the limits; this makes it a guarantee. It cuts the title,
    description, fields, footer and author name to their limits, drops a URL Discord would
    reject, then brings the total to 6,000 by shortening the description and, if that is not
    enough, dropping fields from the end. The footer (the digest's resume marker) is kept.
    """
    data = embed.to_dict()
    if "title" in data:
        data["title"] = cut(data["title"], TITLE_MAX)
    if "url" in data and safe_url(data["url"]) is None:
        del data["url"]
    if "description" in data:
        data["description"] = cut(data["description"], DESCRIPTION_MAX)
    fields = data.get("fields", [])[:FIELDS_MAX]
    for item in fields:
        item["name"] = cut(item.get("name") or "\u200b", FIELD_NAME_MAX)
        item["value"] = cut(item.get("value") or "\u200b", FIELD_VALUE_MAX)
    if "fields" in data:
        data["fields"] = fields
    if data.get("footer", {}).get("text"):
        data["footer"]["text"] = cut(data["footer"]["text"], FOOTER_MAX)
    if data.get("author", {}).get("name"):
        data["author"]["name"] = cut(data["author"]["name"], AUTHOR_MAX)
    fitted = discord.Embed.from_dict(data)
    excess = embed_size(fitted) - EMBED_TOTAL_MAX
    if excess > 0 and fitted.description:
        keep = max(0, len(fitted.description) - excess)
        fitted.description = cut(fitted.description, keep) if keep > 1 else None
    while embed_size(fitted) > EMBED_TOTAL_MAX and fitted.fields:
        fitted.remove_field(len(fitted.fields) - 1)
    return fitted


def embed_size(embed: discord.Embed) -> int:
    """Characters that count toward Discord's 6,000 per-message embed total."""
    size = len(embed.title or "") + len(embed.description or "")
    size += len(embed.footer.text or "") if embed.footer else 0
    size += len(embed.author.name or "") if embed.author else 0
    return size + sum(len(f.name or "") + len(f.value or "") for f in embed.fields)


def answer_embed(answer: Answer) -> discord.Embed:
    embed = discord.Embed(title=safe(answer.question, TITLE_MAX), colour=COLOUR)
    if answer.read_as:  # misspelt words were corrected: say how the question was read
        embed.set_footer(text=read_as_note(answer))
    if answer.reply == "unstated" and answer.closest:  # the paper as context: nothing quoted as the answer
        c = answer.closest[0]
        title = f"**[1]** *{safe(c.title or c.paper_id, 300)}*"  # corpus and question text escaped, ours not
        embed.description = unstated_line(
            answer.model_copy(update={"unstated": safe(answer.unstated or "", 300)}), title
        )
        year = f" ({c.published.year})" if c.published else ""
        embed.add_field(
            name=safe(f"[1] {c.title or c.paper_id}", FIELD_NAME_MAX),
            value=f"{link(c.paper_id, c.url)}{year}"[:FIELD_VALUE_MAX],
            inline=False,
        )
        return embed
    if answer.reply == "collection":
        topic = safe(answer.topic, 200) if answer.topic else None
        embed.description = collection_line(answer.model_copy(update={"topic": topic}), "/search")
        return embed
    if not answer.found:
        embed.description = "I found nothing in the corpus that answers this."
        if answer.closest:
            lines = [
                safe(f"{c.title or c.paper_id} ({c.paper_id})", 300) for c in answer.closest
            ]  # titles only: nothing is quoted as an answer
            embed.add_field(name="Closest papers (they may not answer it)", value=_join_within(lines, FIELD_VALUE_MAX))
        embed.description += " Try `/search` with other words."
        return embed
    by_number = {c.n: c for c in answer.citations}
    kept: list[str] = []
    cited: list[int] = []
    for sentence in answer.answer:
        line = f"{safe(sentence.text)} **[{sentence.citation}]**"
        references = [*cited, sentence.citation] if sentence.citation not in cited else cited
        body = " ".join([*kept, line])
        if (
            len(body) > DESCRIPTION_MAX - 1
            or _references_size(references, by_number) + len(body) > EMBED_TOTAL_MAX - 300
        ):
            break
        kept.append(line)
        cited = references
    if not kept:  # even one sentence is too long: cut it, keeping its citation marker
        first = answer.answer[0]
        marker = f" **[{first.citation}]**"
        kept, cited = [safe(first.text, DESCRIPTION_MAX - len(marker) - 1) + marker], [first.citation]
    embed.description = " ".join(kept)
    for n in cited[:FIELDS_MAX]:
        citation = by_number[n]
        year = f" ({citation.published.year})" if citation.published else ""
        reference = link(citation.paper_id, citation.url)
        embed.add_field(
            name=safe(f"[{n}] {citation.title or citation.paper_id}", FIELD_NAME_MAX),
            value=f"{reference}{year}"[:FIELD_VALUE_MAX],
            inline=False,
        )
    return embed


IN_CONTEXT_NOTE = "Answered in the context of this conversation."
FELL_BACK_NOTE = "The conversation did not help with this one: this is the whole corpus's answer."


def read_as_note(answer: Answer) -> str:
    """The footer line for a question whose misspelt words were corrected (footers never ping; kept literal)."""
    return cut(f"Read as: {answer.read_as}", FOOTER_MAX)


def follow_up_embed(answer: Answer, in_context: bool, fell_back: bool) -> discord.Embed:
    """An answer to a follow-up, with a footer saying whether the conversation shaped it."""
    embed = answer_embed(answer)
    note = FELL_BACK_NOTE if fell_back else IN_CONTEXT_NOTE if in_context else None
    if note:
        embed.set_footer(text=cut(f"{note} {read_as_note(answer)}" if answer.read_as else note, FOOTER_MAX))
    return embed


def citation_embed(papers: list[Paper], style: str | None = None) -> discord.Embed:
    """BibTeX in a code block and/or plain references; whole entries only, the rest counted.

    A code block shows its text literally, so BibTeX is not markdown-escaped; a backtick in a
    record would end the block early, so backticks become apostrophes. `style`: "bibtex",
    "plain" or None (both).
    """
    embed = discord.Embed(title="Cite" if len(papers) == 1 else f"Cite ({len(papers)} papers)", colour=COLOUR)
    if not papers:
        embed.description = "None of these papers is in the corpus any more."
        return embed
    shown = 0
    if style in (None, "bibtex"):
        entries: list[str] = []
        for paper in papers:
            entry = bibtex(paper).replace("`", "'")
            if len("```bibtex\n" + "\n\n".join([*entries, entry]) + "\n```") > DESCRIPTION_MAX - 40:
                break
            entries.append(entry)
        shown = len(entries)
        if entries:
            embed.description = "```bibtex\n" + "\n\n".join(entries) + "\n```"
        if shown < len(papers):
            embed.description = (embed.description or "") + f"\n{len(papers) - shown} more not shown: use `/cite id`."
    if style in (None, "plain"):
        for paper in papers[: FIELDS_MAX - 1]:
            value = safe(plain_reference(paper), FIELD_VALUE_MAX)
            if embed_size(embed) + len(value) + 40 > EMBED_TOTAL_MAX:
                break
            embed.add_field(name=safe(f"Reference · {paper.id}", FIELD_NAME_MAX), value=value, inline=False)
    return embed


def citation_reply(papers: list[Paper], style: str | None = None) -> tuple[discord.Embed, discord.File | None]:
    """The Cite reply: `citation_embed`, or, when the BibTeX does not all fit, every entry in a .bib file.

    A paper with hundreds of authors (Gemini, 2312.11805: 669 names, some 20,000 characters of BibTeX)
    has no entry short enough for an embed, and an answer's ten citations may not fit together; no
    entry is dropped then: the embed says what is attached, and keeps the plain references it can.
    Send both: `followup.send(embed=fit_embed(embed), file=file)` when `file` is not None.
    """
    embed = citation_embed(papers, style)
    if style == "plain" or not papers:
        return embed, None
    entries = [bibtex(paper) for paper in papers]
    if len("```bibtex\n" + "\n\n".join(e.replace("`", "'") for e in entries) + "\n```") <= DESCRIPTION_MAX - 40:
        return embed, None  # every entry is in the embed
    name = f"{bibtex_key(papers[0])}.bib" if len(papers) == 1 else "citations.bib"
    what = "The BibTeX entry" if len(papers) == 1 else f"The BibTeX entries of all {len(papers)} papers"
    embed.description = (
        f"{what} {'is' if len(papers) == 1 else 'are'} in the attached `{name}` (too long to show here)."
    )
    attached = discord.File(io.BytesIO(bibliography(papers).encode("utf-8")), filename=name)
    return embed, attached


HELP_INTRO = "**paperbot** answers questions from a corpus of research-paper abstracts, quoting them word for word."
HELP_TAIL = (
    "You can also mention me with a question, or send me a DM. Reply to one of my answers (or use its"
    " *Ask a follow-up* thread) to ask a follow-up in its context."
)


def help_text(tree: discord.app_commands.CommandTree) -> str:
    """/help made from the commands registered on `tree`, so a new command (/digest) is listed by itself.

    One line a command: its name, its options (optional ones in brackets; a group's subcommands with
    `|`) and its description; then mentions, DMs and each message menu.
    """
    lines = [HELP_INTRO]
    for command in tree.get_commands(type=discord.AppCommandType.chat_input):
        if isinstance(command, discord.app_commands.Group):
            usage = f"/{command.name} {'|'.join(sub.name for sub in command.commands)}"
        else:
            options = [p.name if p.required else f"[{p.name}]" for p in command.parameters]
            usage = " ".join([f"/{command.name}", *options])
        lines.append(f"`{usage}` — {command.description}")
    tail = HELP_TAIL
    for menu in tree.get_commands(type=discord.AppCommandType.message):
        tail += f" Right-click a message → Apps → *{menu.name}*."
    lines.append(tail)
    return cut("\n".join(lines), CONTENT_MAX)


def related_embed(paper: Paper, related: list[tuple[Paper, float]]) -> discord.Embed:
    """The papers most like `paper`, each a linked title with its id and year."""
    embed = discord.Embed(title=safe(f"Related to: {paper.title or paper.id}", TITLE_MAX), colour=COLOUR)
    if not related:
        embed.description = "No other paper in the corpus shares enough of this one's terms."
        return embed
    lines = []
    for rank, (other, score) in enumerate(related, 1):
        year = f" ({other.published.year})" if other.published else ""
        title = link(safe(other.title or other.id, 200), other.url)
        lines.append(f"**{rank}.** {title}{year} · `{other.id}` · {score:.1f}")
    embed.description = _join_within(lines, DESCRIPTION_MAX)
    embed.set_footer(text="Ranked by the paper's most informative terms (the paper itself left out).")
    return embed


def _references_size(numbers: list[int], by_number: dict) -> int:
    return sum(min(len(by_number[n].title) + 16, FIELD_NAME_MAX) + 80 for n in numbers)


def search_embed(
    query: str, hits: list[SearchHit], page: int, per_page: int, read_as: str | None = None
) -> discord.Embed:
    embed = discord.Embed(title=safe(f"Search: {query}", TITLE_MAX), colour=COLOUR)
    shown = hits[page * per_page : (page + 1) * per_page]
    if not shown:
        embed.description = "No papers match. Try fewer or other words."
        if read_as:
            embed.set_footer(text=cut(f"Read as: {read_as}", FOOTER_MAX))
        return embed
    lines = []
    for rank, hit in enumerate(shown, page * per_page + 1):
        year = f" ({hit.published[:4]})" if hit.published else ""
        title = link(safe(hit.title or hit.paper_id, 200), hit.url)
        lines.append(f"**{rank}.** {title}{year} · `{hit.paper_id}` · {hit.score:.1f}")
    embed.description = _join_within(lines, DESCRIPTION_MAX)
    pages = (len(hits) + per_page - 1) // per_page
    read = f" · read as: {read_as}" if read_as else ""
    embed.set_footer(text=cut(f"Page {page + 1} of {pages} · {len(hits)} results{read}", FOOTER_MAX))
    return embed


def paper_embed(out: PaperOut) -> discord.Embed:
    paper = out.paper
    embed = discord.Embed(title=safe(paper.title or paper.id, TITLE_MAX), url=safe_url(paper.url), colour=COLOUR)
    if out.tldr:
        embed.add_field(name="TL;DR", value=safe(out.tldr, FIELD_VALUE_MAX), inline=False)
    authors = ", ".join(paper.authors[:8]) + (f" and {len(paper.authors) - 8} more" if len(paper.authors) > 8 else "")
    if authors:
        embed.add_field(name="Authors", value=safe(authors, FIELD_VALUE_MAX), inline=False)
    meta = f"`{paper.id}`" + (f" · {paper.published}" if paper.published else "")
    embed.add_field(name="Paper", value=cut(meta, FIELD_VALUE_MAX), inline=False)
    budget = min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - embed_size(embed) - 10)
    embed.description = _join_within([safe(s) for s in paper.sentences], budget, " ")
    return embed


def _join_within(parts: list[str], limit: int, sep: str = "\n") -> str:
    """Whole parts joined up to `limit` characters, with '…' when some were left out."""
    out: list[str] = []
    used = 0
    for part in parts:
        extra = len(part) + (len(sep) if out else 0)
        if used + extra > limit - 2:
            if not out:
                return part[: limit - 1] + "…"
            return sep.join(out) + sep + "…"
        out.append(part)
        used += extra
    return sep.join(out)


def quote(text: str) -> str:
    """A user's words quoted back in plain content: escaped, one line, cut to QUOTE_MAX."""
    return safe(" ".join(text.split()), QUOTE_MAX)


DIGEST_ITEMS_PER_MESSAGE = 8
DIGEST_MAX_MESSAGES = 5


def digest_marker(day, part: int, parts: int) -> str:
    """The footer that identifies a digest message; also how a resumed post recognises it in the channel."""
    return f"paperbot digest {day.isoformat()} · part {part}/{parts}"


def digest_messages(digest: Digest) -> list[discord.Embed]:
    """One embed per message, at most DIGEST_MAX_MESSAGES; what does not fit is counted in the last footer."""
    blocks = []
    for item in digest.papers:
        names = ", ".join(item.authors[:3]) + (" et al." if len(item.authors) > 3 else "")
        head = "**" + link(safe(item.title, 200), item.url) + "**"
        lines = [head + (f" — {safe(names, 200)}" if names else "")]
        if item.tldr:
            lines.append("> " + safe(item.tldr, 500))
        blocks.append("\n".join(lines))
    chunks: list[list[str]] = []
    for block in blocks:
        if (
            not chunks
            or len(chunks[-1]) >= DIGEST_ITEMS_PER_MESSAGE
            or sum(len(b) + 2 for b in chunks[-1]) + len(block) > 3500
        ):
            chunks.append([])
        chunks[-1].append(block)
    left_out = digest.left_out + sum(len(c) for c in chunks[DIGEST_MAX_MESSAGES:])
    chunks = chunks[:DIGEST_MAX_MESSAGES]
    total = sum(len(c) for c in chunks)
    embeds = []
    for number, chunk in enumerate(chunks, 1):
        embed = discord.Embed(
            title=f"New papers · {digest.date.isoformat()}" if number == 1 else None,
            description="\n\n".join(chunk),
            colour=COLOUR,
        )
        footer = digest_marker(digest.date, number, len(chunks))
        if number == len(chunks) and left_out:
            footer += f" · {left_out} more not shown (of {total + left_out})"
        embed.set_footer(text=footer)
        embeds.append(embed)
    return embeds
