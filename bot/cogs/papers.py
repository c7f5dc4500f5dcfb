"""/ask, /search, /paper and /help (answers to mentions and DMs are in conversation.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cli.query import year_range_problem
from bot.cogs.conversation import paper_view, send_answer
from bot.render import fit_content, fit_embed, help_text, paper_embed, quote, search_embed
from retrieval.answers.search import MAX_K, SearchHit, SearchRequest

if TYPE_CHECKING:
    from bot.main import PaperBot

log = logging.getLogger(__name__)
NONE = discord.AllowedMentions.none()
PER_PAGE = 5
VIEW_TIMEOUT = 180


def _user_key(interaction: discord.Interaction) -> int:
    return interaction.user.id


class SearchView(discord.ui.View):
    """Pages through search hits and opens one as a paper card; disables itself when it times out."""

    def __init__(self, bot: PaperBot, query: str, hits: list[SearchHit], owner_id: int, read_as: str | None = None):
        super().__init__(timeout=VIEW_TIMEOUT)
        self.bot, self.query, self.hits, self.owner_id = bot, query, hits, owner_id
        self.read_as = read_as
        self.page = 0
        self.message: discord.Message | discord.InteractionMessage | None = None
        self._refresh()

    @property
    def pages(self) -> int:
        return max(1, (len(self.hits) + PER_PAGE - 1) // PER_PAGE)

    def _refresh(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        for child in list(self.children):
            if isinstance(child, discord.ui.Button) and (child.custom_id or "").startswith("open:"):
                self.remove_item(child)
        for rank, hit in enumerate(
            self.hits[self.page * PER_PAGE : (self.page + 1) * PER_PAGE], self.page * PER_PAGE + 1
        ):
            button = discord.ui.Button(
                label=f"Open {rank}", style=discord.ButtonStyle.secondary, custom_id=f"open:{hit.paper_id}", row=1
            )
            button.callback = self._opener(hit.paper_id)
            self.add_item(button)

    def embed(self) -> discord.Embed:
        return fit_embed(search_embed(self.query, self.hits, self.page, PER_PAGE, self.read_as))

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = min(max(0, self.page + step), self.pages - 1)
        self._refresh()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.primary, row=0)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.primary, row=0)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, +1)

    def _opener(self, paper_id: str):
        async def open_paper(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            out = await self.bot.engine.paper_async(paper_id)
            if out is None:
                await interaction.followup.send(
                    "That paper is no longer in the corpus.", ephemeral=True, allowed_mentions=NONE
                )
                return
            await interaction.followup.send(
                embed=fit_embed(paper_embed(out)), view=paper_view(out.paper.id), ephemeral=True, allowed_mentions=NONE
            )

        return open_paper

    async def on_timeout(self) -> None:
        for child in self.children:
            if isinstance(child, discord.ui.Button):
                child.disabled = True
        if self.message is not None:
            try:
                await self.message.edit(view=self)
            except discord.HTTPException:
                log.info("could not disable an expired search view")


class Papers(commands.Cog):
    def __init__(self, bot: PaperBot):
        self.bot = bot

    @app_commands.command(name="ask", description="Answer a question with cited sentences from the papers")
    @app_commands.describe(question="What do you want to know?")
    @app_commands.checks.cooldown(3, 30.0, key=_user_key)
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 1000]) -> None:
        await interaction.response.defer(thinking=True)
        await send_answer(interaction, await self.bot.engine.ask_async(question))

    @app_commands.command(name="search", description="Find papers by keywords")
    @app_commands.describe(
        query="Keywords",
        k="How many results (1-50)",
        year_from="Earliest year",
        year_to="Latest year",
        author="Part of an author's name",
    )
    @app_commands.checks.cooldown(5, 30.0, key=_user_key)
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 500],
        k: app_commands.Range[int, 1, 50] = 10,
        year_from: app_commands.Range[int, 1900, 2100] | None = None,
        year_to: app_commands.Range[int, 1900, 2100] | None = None,
        author: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        problem = year_range_problem(year_from, year_to, ("year_from", "year_to"))
        if problem:  # the same refusal as the CLI's, not "no papers match"
            await interaction.response.send_message(
                problem[0].upper() + problem[1:], ephemeral=True, allowed_mentions=NONE
            )
            return
        await interaction.response.defer(thinking=True)
        request = SearchRequest(query=query, k=min(k, MAX_K), year_from=year_from, year_to=year_to, author=author)
        hits = await self.bot.engine.search_async(request)
        read_as = await self.bot.engine.run(self.bot.engine.read_as, query)
        view = SearchView(self.bot, query, hits, interaction.user.id, read_as)
        view.message = await interaction.followup.send(embed=view.embed(), view=view, allowed_mentions=NONE, wait=True)

    @app_commands.command(name="paper", description="A paper's TL;DR and abstract")
    @app_commands.describe(id="arXiv id such as 2403.05530, or the corpus id")
    async def paper(self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 200]) -> None:
        await interaction.response.defer(thinking=True)
        out = await self.bot.engine.paper_async(id)
        if out is None:
            await interaction.followup.send(
                fit_content(f"No paper `{quote(id)}` in the corpus. Try `/search`."), allowed_mentions=NONE
            )
            return
        await interaction.followup.send(
            embed=fit_embed(paper_embed(out)), view=paper_view(out.paper.id), allowed_mentions=NONE
        )

    @app_commands.command(name="help", description="What paperbot can do")
    async def help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(help_text(self.bot.tree), ephemeral=True, allowed_mentions=NONE)


async def setup(bot: PaperBot) -> None:
    await bot.add_cog(Papers(bot))
