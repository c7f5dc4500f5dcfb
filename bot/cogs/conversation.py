"""Beyond one answer: answers to mentions and DMs (follow-ups included), 👍/👎, Cite and follow-up buttons on
answers, Cite/Related on paper cards, `/cite`, `/related`, and the "Find papers about this" message menu.

A reply to a mention or DM is sent with a nonce derived from the question's message id and retried with
backoff after Discord's 5xx (`bot.delivery.REPLY_DELAYS`), so it is posted once; when every try failed, the
asker is told (a short reply, else a ⚠️ reaction on the question) and the log says why. The typing
indicator is cosmetic: it never delays or stops an answer.

Every button is a `discord.ui.DynamicItem`: what it needs travels in its custom_id (the
answer is found by the id of the message the button is on), so buttons keep working after
a restart without any view being kept in memory.

Each person may press these buttons PRESSES times per PRESS_WINDOW seconds (all of them together),
and use `/cite`, `/related` and the menu a few times per 30 s, as `/ask` and `/search`: a script or a
stuck mouse cannot keep the bot reading the store for one person.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import delivery
from bot.delivery import nonce_for, permanent, send_once, transient
from bot.intake import install_discord_intake
from bot.main import BUSY_REPLY, is_busy
from bot.render import (
    answer_embed,
    citation_reply,
    fit_content,
    fit_embed,
    follow_up_embed,
    help_text,
    quote,
    related_embed,
)
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
UNDELIVERED = "I had an answer for you, but Discord kept failing when I sent it. Please ask me again in a few minutes."
UNDELIVERED_REACTION = "\u26a0\ufe0f"  # ⚠️ on the question when not even that line could be sent
HELP_REQUEST = re.compile(r"/?help\W*", re.IGNORECASE)  # "@paperbot help": the help, not a search for "help"


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
        embed, file = citation_reply(papers)
        await interaction.followup.send(
            embed=fit_embed(embed), ephemeral=True, allowed_mentions=NONE, **({"file": file} if file else {})
        )


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
        embed, file = citation_reply([paper], style)  # BibTeX too long for an embed comes as a .bib file
        await interaction.followup.send(
            embed=fit_embed(embed), allowed_mentions=NONE, **({"file": file} if file else {})
        )

    @app_commands.command(name="related", description="The papers most like this one")
    @app_commands.checks.cooldown(5, 30.0, key=_user_key)
    @app_commands.describe(id="arXiv id such as 2403.05530, or the corpus id")
    async def related(self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 200]) -> None:
        await interaction.response.defer(thinking=True)
        await send_related(interaction, id, ephemeral=False)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A mention or a DM is a question: answered like /ask, as a reply (`answer_message`)."""
        await answer_message(self.bot, message)

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


async def answer_message(bot: PaperBot, message: discord.Message) -> None:
    """Answer a mention or a DM as a reply; a reply to one of the bot's answers, or a question in a thread
    opened from one, is a follow-up: answered in the context of that conversation, and kept with its key.

    The reply's nonce is derived from the question's message id, and it is retried with backoff after
    transient failures (5xx, a dropped connection), so a reply Discord stored before failing is not posted
    twice. When every try failed, the asker is told (`tell_undelivered`).
    """
    if message.author.bot or bot.user is None:
        return
    is_dm = message.guild is None
    if not is_dm and not any(user.id == bot.user.id for user in message.mentions):
        return
    # mentions of anyone (the bot, users, roles, channels, @everyone) are addressing, not the question
    question = MENTIONS.sub(" ", message.content).strip()

    async def reply(
        key: str,
        content: str | None = None,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        delays: tuple[float, ...] | None = None,
    ) -> discord.Message:
        nonce = nonce_for(key, message.channel.id, message.id)
        extra = {"view": view} if view else {}
        return await send_once(
            lambda: message.reply(
                content=content, embed=embed, nonce=nonce, allowed_mentions=NONE, mention_author=False, **extra
            ),
            f"the {key} to message {message.id}",
            delivery.REPLY_DELAYS if delays is None else delays,
        )

    if not question or HELP_REQUEST.fullmatch(question):  # the same text as /help, made from the commands
        await _delivered(message, reply("help", content=help_text(bot.tree)))
        return
    try:
        engine, feedback = bot.engine, bot.settings.feedback
        reply_to = message.reference.message_id if message.reference else None
        turns, conversation = (
            await engine.run(engine.conversation, str(reply_to) if reply_to else None, str(message.channel.id))
            if feedback
            else ([], None)
        )
        async with typing_shown(message.channel):
            if turns:
                follow = await engine.run(engine.follow_up, question[:1000], turns)
                answer = follow.answer
                embed = follow_up_embed(answer, follow.in_context, follow.fell_back)
            else:
                answer = await engine.ask_async(question[:1000])
                embed = answer_embed(answer)
    except Exception as exc:  # the asker hears that it failed; the log says why
        if is_busy(exc):
            log.warning("answering a mention: the store is busy (%s)", exc)
            text = BUSY_REPLY
        else:
            log.exception("answering a mention failed")
            text = "Something went wrong on my side; the error is logged. Please try again."
        await _delivered(message, reply("error", content=text))
        return
    sent = await _delivered(message, reply("answer", embed=fit_embed(embed), view=answer_view(answer, feedback)))
    if sent is not None and feedback:
        try:
            await engine.run(engine.remember, str(sent.id), answer, conversation)
        except Exception:  # the answer is out; only its buttons' record is missing
            log.exception("keeping answer %s for votes and follow-ups failed", sent.id)


async def _delivered(message: discord.Message, sending) -> discord.Message | None:
    """Await a reply; a refusal is logged, and when Discord kept failing the asker is told. None if not sent."""
    try:
        return await sending
    except discord.Forbidden:
        log.info("no permission to reply in channel %s", message.channel.id)
    except Exception as exc:
        if not transient(exc):
            log.error("Discord refused the reply to message %s (%s)", message.id, delivery._short(exc))
            if permanent(exc):
                await tell_undelivered(message, "refused")
            return None
        log.warning("the reply to message %s could not be sent (%s); telling the asker", message.id, exc)
        await tell_undelivered(message, "failed")
    return None


async def tell_undelivered(message: discord.Message, why: str) -> None:
    """Tell the asker their answer did not reach them: a short reply, else a ⚠️ reaction on their message."""
    text = UNDELIVERED if why == "failed" else "Discord refused my answer to this. Please try asking another way."
    nonce = nonce_for("undelivered", message.channel.id, message.id)
    try:
        await send_once(
            lambda: message.reply(content=text, nonce=nonce, allowed_mentions=NONE, mention_author=False),
            f"the note that the answer to message {message.id} was not delivered",
        )
        return
    except Exception as exc:
        log.warning("could not send the note either (%s); reacting on the question", delivery._short(exc))
    try:
        await message.add_reaction(UNDELIVERED_REACTION)
    except Exception as exc:
        log.error(
            "the asker of message %s in channel %s was not told that their answer failed (%s)",
            message.id,
            message.channel.id,
            delivery._short(exc),
        )


@contextlib.asynccontextmanager
async def typing_shown(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show "typing…" while the block runs, without waiting for it: a failure to show it is only logged."""

    async def show() -> None:
        try:
            await channel.typing()  # one indicator (10 s, or until the reply): answers take well under that
        except Exception as exc:
            log.info("could not show typing in channel %s (%s)", getattr(channel, "id", "?"), delivery._short(exc))

    task = asyncio.create_task(show())
    try:
        yield
    finally:
        task.cancel()


async def setup(bot: PaperBot) -> None:
    install_discord_intake()  # every payload Discord sends made valid Unicode before any cog reads it
    await bot.add_cog(Conversation(bot))
