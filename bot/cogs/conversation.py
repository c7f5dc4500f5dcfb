"""Beyond one answer: 👍/👎, Cite and follow-up buttons on answers, Cite/Related on paper cards,
`/cite`, `/related`, and the "Find papers about this" message menu.

Every button is a `discord.ui.DynamicItem`: what it needs travels in its custom_id (the
answer is found by the id of the message the button is on), so buttons keep working after
a restart without any view being kept in memory.

Each person may press these buttons PRESSES times per PRESS_WINDOW seconds (all of them together),
and use `/cite`, `/related` and the menu a few times per 30 s, as `/ask` and `/search`: a script or a
stuck mouse cannot keep the bot reading the store for one person.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.intake import install_discord_intake
from bot.render import answer_embed, citation_embed, fit_content, fit_embed, quote, related_embed
from retrieval.answers.answer import Answer

if TYPE_CHECKING:
    from bot.main import PaperBot

log = logging.getLogger(__name__)
NONE = discord.AllowedMentions.none()
CUSTOM_ID_MAX = 100
THREAD_NAME_MAX = 100
MENU_NAME = "Find papers about this"
PRESSES = 10
PRESS_WINDOW = 30.0


class PressLimit:
    """Per-person rate limit shared by the buttons: `retry_after(user)` is None while under it."""

    def __init__(self, rate: int = PRESSES, per: float = PRESS_WINDOW):
        self.rate, self.per = rate, per
        self._buckets: dict[int, tuple[app_commands.Cooldown, float]] = {}  # person -> (bucket, last press)

    def retry_after(self, user_id: int) -> float | None:
        now = time.monotonic()
        if len(self._buckets) > 10_000:  # forget people whose window has passed
            self._buckets = {u: (b, at) for u, (b, at) in self._buckets.items() if now - at < self.per}
        bucket = self._buckets.get(user_id, (app_commands.Cooldown(self.rate, self.per), now))[0]
        self._buckets[user_id] = (bucket, now)
        return bucket.update_rate_limit()


class Limited:
    """Mixin for the buttons: over the limit, an ephemeral "slow down" instead of the button's work."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        cog = _bot(interaction).get_cog("Conversation")  # the cog that registered the buttons holds the limit
        presses = getattr(cog, "presses", None)
        retry = presses.retry_after(interaction.user.id) if presses is not None else None
        if retry is None:
            return True
        await _tell(interaction, f"Slow down a little: try again in {retry:.0f} s.")
        return False


def _user_key(interaction: discord.Interaction) -> int:
    return interaction.user.id


MENTIONS = re.compile(r"<(?:@[!&]?|#)\d+>|@(?:everyone|here)\b")


def _bot(interaction: discord.Interaction) -> PaperBot:
    return interaction.client  # type: ignore[return-value]


async def _tell(interaction: discord.Interaction, text: str) -> None:
    """A short ephemeral line, as the first response or as a follow-up after a defer."""
    if interaction.response.is_done():
        await interaction.followup.send(fit_content(text), ephemeral=True, allowed_mentions=NONE)
    else:
        await interaction.response.send_message(fit_content(text), ephemeral=True, allowed_mentions=NONE)


class VoteButton(Limited, discord.ui.DynamicItem[discord.ui.Button], template=r"pb:vote:(?P<vote>up|down)"):
    """👍 / 👎 on an answer: one vote per person per answer, recorded against the message's id."""

    def __init__(self, vote: str) -> None:
        up = vote == "up"
        super().__init__(
            discord.ui.Button(
                emoji="👍" if up else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"pb:vote:{vote}",
            )
        )
        self.vote = vote

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        return cls(match["vote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        if not bot.settings.feedback or interaction.message is None:
            await _tell(interaction, "Feedback is turned off on this bot.")
            return
        result = await bot.engine.run(
            bot.engine.vote, str(interaction.message.id), str(interaction.user.id), 1 if self.vote == "up" else -1
        )
        text = {
            "recorded": "Thanks: your vote is recorded.",
            "again": "You already voted on this answer.",
            "unknown": "This answer is not on record, so the vote was not kept.",
        }[result]
        await _tell(interaction, text)


class CiteButton(Limited, discord.ui.DynamicItem[discord.ui.Button], template=r"pb:cite:(?P<ids>[^\s]*)"):
    """Cite on an answer (the cited papers) or on a paper card (that paper): ephemeral BibTeX and references."""

    def __init__(self, paper_ids: list[str]) -> None:
        ids: list[str] = []
        for pid in paper_ids:  # as many whole ids as fit Discord's 100-character custom_id
            if len("pb:cite:" + ",".join([*ids, pid])) > CUSTOM_ID_MAX:
                break
            ids.append(pid)
        super().__init__(
            discord.ui.Button(label="Cite", style=discord.ButtonStyle.secondary, custom_id="pb:cite:" + ",".join(ids))
        )
        self.paper_ids = ids

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        return cls([pid for pid in match["ids"].split(",") if pid])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        papers = await bot.engine.run(bot.engine.papers, self.paper_ids)
        await interaction.followup.send(embed=fit_embed(citation_embed(papers)), ephemeral=True, allowed_mentions=NONE)


class RelatedButton(Limited, discord.ui.DynamicItem[discord.ui.Button], template=r"pb:rel:(?P<id>\S+)"):
    """Related papers on a paper card."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Related papers", style=discord.ButtonStyle.secondary, custom_id=f"pb:rel:{paper_id}"[:100]
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_related(interaction, self.paper_id, ephemeral=True)


class FollowUpButton(Limited, discord.ui.DynamicItem[discord.ui.Button], template=r"pb:thread"):
    """Ask a follow-up: opens (or reuses) a thread on the answer; a mention there continues the conversation."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(label="Ask a follow-up", style=discord.ButtonStyle.primary, custom_id="pb:thread")
        )

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        message = interaction.message
        if message is None or interaction.guild is None:
            await _tell(interaction, "Reply to the answer with your follow-up question: I will answer in its context.")
            return
        if isinstance(interaction.channel, discord.Thread):  # no thread inside a thread: this one is the place
            await _tell(interaction, "Mention me here with your follow-up: I will answer in this thread's context.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        thread_id = message.id  # Discord gives a thread started from a message that message's id
        if interaction.guild.get_thread(message.id) is None:
            question = await bot.engine.run(bot.engine.stored_question, str(message.id))
            name = " ".join((question or "Follow-ups").split())[:THREAD_NAME_MAX]
            try:
                thread = await message.create_thread(name=name)
                thread_id = thread.id
            except discord.Forbidden:
                log.info("no permission to create a thread in channel %s", message.channel.id)
                await _tell(interaction, "I may not open threads here: reply to the answer and mention me instead.")
                return
            except discord.HTTPException as exc:
                if exc.code != 160004:  # "A thread has already been created for this message": reuse it
                    raise
        await _tell(
            interaction, f"Ask your follow-up in <#{thread_id}> and mention me there: I will answer in this context."
        )


def answer_view(answer: Answer, feedback: bool) -> discord.ui.View | None:
    """The buttons under an answer: 👍 👎 and Ask a follow-up when feedback is on, Cite when it cites papers."""
    view = discord.ui.View(timeout=None)
    if feedback:
        view.add_item(VoteButton("up"))
        view.add_item(VoteButton("down"))
    if answer.found and answer.citations:
        view.add_item(CiteButton([c.paper_id for c in answer.citations]))
    if feedback:
        view.add_item(FollowUpButton())
    return view if view.children else None


def paper_view(paper_id: str) -> discord.ui.View:
    """Cite and Related papers under a paper card."""
    view = discord.ui.View(timeout=None)
    view.add_item(CiteButton([paper_id]))
    view.add_item(RelatedButton(paper_id))
    return view


async def send_related(interaction: discord.Interaction, raw_id: str, ephemeral: bool) -> None:
    bot = _bot(interaction)
    paper, related = await bot.engine.run(bot.engine.related, raw_id)
    if paper is None:
        text = f"No paper `{quote(raw_id)}` in the corpus. Try `/search`."
        await interaction.followup.send(fit_content(text), ephemeral=ephemeral, allowed_mentions=NONE)
        return
    await interaction.followup.send(
        embed=fit_embed(related_embed(paper, related)), ephemeral=ephemeral, allowed_mentions=NONE
    )


def message_text(message: discord.Message) -> str:
    """What a message says, as a question: its content without mentions, else its first embed's title and text."""
    text = message.content or ""
    if not text.strip() and message.embeds:
        embed = message.embeds[0]
        text = " ".join(part for part in (embed.title, embed.description) if part)
    return " ".join(MENTIONS.sub(" ", text).split())


class Conversation(commands.Cog):
    """/cite, /related and the message menu; registers the persistent buttons."""

    def __init__(self, bot: PaperBot):
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.find_papers)
        self.presses = PressLimit()  # per bot, shared by all its buttons
        app_commands.checks.cooldown(3, 30.0, key=_user_key)(self.menu)  # an ask, limited as /ask is

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(VoteButton, CiteButton, RelatedButton, FollowUpButton)
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VoteButton, CiteButton, RelatedButton, FollowUpButton)
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="cite", description="BibTeX and a plain reference for a paper")
    @app_commands.checks.cooldown(5, 30.0, key=_user_key)
    @app_commands.describe(id="arXiv id such as 2403.05530, or the corpus id", style="Only one of the two forms")
    async def cite(
        self,
        interaction: discord.Interaction,
        id: app_commands.Range[str, 1, 200],
        style: Literal["bibtex", "plain"] | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        paper = await self.bot.engine.run(self.bot.engine.find_paper, id)
        if paper is None:
            await interaction.followup.send(
                fit_content(f"No paper `{quote(id)}` in the corpus. Try `/search`."), allowed_mentions=NONE
            )
            return
        await interaction.followup.send(embed=fit_embed(citation_embed([paper], style)), allowed_mentions=NONE)

    @app_commands.command(name="related", description="The papers most like this one")
    @app_commands.checks.cooldown(5, 30.0, key=_user_key)
    @app_commands.describe(id="arXiv id such as 2403.05530, or the corpus id")
    async def related(self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 200]) -> None:
        await interaction.response.defer(thinking=True)
        await send_related(interaction, id, ephemeral=False)

    async def find_papers(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The message's text answered as a question, publicly (with the answer's buttons); nobody is pinged."""
        question = message_text(message)[:1000]
        if not question:
            await _tell(interaction, "That message has no text to look up.")
            return
        await interaction.response.defer(thinking=True)
        await send_answer(interaction, await self.bot.engine.ask_async(question))


async def send_answer(interaction: discord.Interaction, answer: Answer) -> None:
    """An answer as the interaction's follow-up, with its buttons, kept for votes and follow-ups."""
    bot = _bot(interaction)
    feedback = bot.settings.feedback
    view = answer_view(answer, feedback)
    sent = await interaction.followup.send(
        embed=fit_embed(answer_embed(answer)),
        allowed_mentions=NONE,
        wait=True,
        **({"view": view} if view else {}),
    )
    if feedback:
        await bot.engine.run(bot.engine.remember, str(sent.id), answer, None)


async def setup(bot: PaperBot) -> None:
    install_discord_intake()  # every payload Discord sends made valid Unicode before any cog reads it
    await bot.add_cog(Conversation(bot))
