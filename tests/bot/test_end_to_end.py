"""The real discord.py client stack (bot.start()) against a fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re

from bot.main import PaperBot, make_bot
from bot.render import DESCRIPTION_MAX, EMBED_TOTAL_MAX, FIELD_VALUE_MAX, FIELDS_MAX, TITLE_MAX
from bot.settings import Settings
from tests.bot.fake_discord import APP_ID, CHANNEL_ID, ROLE_ID, FakeDiscord, message_payload

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
NAME_RULE = re.compile(r"^[-_\w]{1,32}$", re.UNICODE)


def check_command_payload(commands: list[dict]) -> None:
    """Discord's rules for application commands, checked on what the bot synced."""
    assert commands and len(commands) <= 100
    for command in commands:
        if command.get("type", 1) == 1:
            check_named(command)
        else:  # a context-menu command: 1-32 characters, any case and spaces, no description, no options
            assert 1 <= len(command["name"]) <= 32 and not command.get("description") and not command.get("options")
    assert sum(c.get("type") == 3 for c in commands) <= 5  # Discord allows 5 message commands


def check_named(item: dict) -> None:
    assert NAME_RULE.match(item["name"]) and item["name"] == item["name"].lower()
    assert 1 <= len(item["description"]) <= 100
    options = item.get("options", [])
    assert len(options) <= 25
    for option in options:
        check_named(option)  # options, and subcommands (type 1) with their own options
    required = [o.get("required", False) for o in options]
    assert required == sorted(required, reverse=True), "required options must come first"


def check_message(body: dict) -> None:
    """Within Discord's limits, and pinging nobody."""
    assert body["allowed_mentions"]["parse"] == []
    assert not body["allowed_mentions"].get("users") and not body["allowed_mentions"].get("roles")
    assert len(body.get("content") or "") <= 2000
    embeds = body.get("embeds") or []
    assert len(embeds) <= 10
    total = 0
    for embed in embeds:
        assert len(embed.get("title", "")) <= TITLE_MAX
        assert len(embed.get("description", "")) <= DESCRIPTION_MAX
        assert len(embed.get("fields", [])) <= FIELDS_MAX
        for f in embed.get("fields", []):
            assert len(f["value"]) <= FIELD_VALUE_MAX
        total += len(embed.get("title", "")) + len(embed.get("description", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
        total += len((embed.get("footer") or {}).get("text", ""))
    assert total <= EMBED_TOTAL_MAX


async def scenario(home) -> None:
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(DISCORD_TOKEN=TOKEN), home)
    assert type(bot) is PaperBot
    runner = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(fake.ready.wait(), 30)
        await asyncio.wait_for(bot.wait_until_ready(), 30)

        # the command tree was synced once, and it follows Discord's rules
        sync = await fake.wait_for(lambda r: r.method == "PUT" and r.path == f"/applications/{APP_ID}/commands")
        check_command_payload(sync.body)
        assert {c["name"] for c in sync.body} == {
            "ask",
            "search",
            "paper",
            "help",
            "digest",
            "cite",
            "related",
            "Find papers about this",
        }
        digest_group = next(c for c in sync.body if c["name"] == "digest")
        assert {o["name"] for o in digest_group["options"]} == {
            "here",
            "off",
            "subscribe",
            "unsubscribe",
            "list",
            "preview",
        }
        assert str(digest_group["default_member_permissions"]) == "32"  # Manage Server

        # a mention is answered like /ask, as a reply that pings nobody
        start = len(fake.requests)
        await fake.send_mention(f"how do you train transformers without normalisation? @everyone <@&{ROLE_ID}>")
        reply = await fake.wait_for(
            lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages", start=start
        )
        check_message(reply.body)
        [embed] = reply.body["embeds"]
        assert "[1]" in embed["description"] and "arxiv.org/abs/2302.10322" in embed["fields"][0]["value"]
        assert "@everyone" not in embed["title"] and f"<@&{ROLE_ID}>" not in embed["title"]

        # a DM is answered too, and text it quotes back cannot ping
        start = len(fake.requests)
        await fake.send_dm("@here what is Perceiver IO?")
        dm = await fake.wait_for(
            lambda r: r.method == "POST" and r.path == "/channels/900000000000000900/messages", start=start
        )
        check_message(dm.body)
        assert (
            "2107.14795" in dm.body["embeds"][0]["fields"][0]["value"] and "@here" not in dm.body["embeds"][0]["title"]
        )

        # a failure inside a command or a mention: the user is told briefly, the bot keeps running
        async def broken(question: str):
            raise RuntimeError("index file vanished")

        working, bot.engine.ask_async = bot.engine.ask_async, broken
        try:
            token = await fake.send_command("ask", {"question": "anything"}, user_id=1234)
            failed = await fake.wait_for(
                lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}")
            )
            assert "went wrong" in failed.body["content"] and failed.body["flags"] & 64
            start = len(fake.requests)
            await fake.send_mention("anything")
            reply = await fake.wait_for(
                lambda r: r.method == "POST" and r.path == f"/channels/{CHANNEL_ID}/messages", start=start
            )
            assert "went wrong" in reply.body["content"]
        finally:
            bot.engine.ask_async = working

        # /ask: deferred within 3 s, then a follow-up with the cited answer
        token = await fake.send_command(
            "ask", {"question": "Which model recalls facts over millions of tokens of context?"}
        )
        defer = await fake.wait_for(lambda r: r.path.endswith("/callback") and token in r.path)
        assert defer.body["type"] == 5
        assert defer.at - fake.interaction_created[token] < 3.0
        follow = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
        check_message(follow.body)
        answer = follow.body["embeds"][0]
        assert "2403.05530" in answer["fields"][0]["value"]

        # /ask with nothing to find says so
        token = await fake.send_command("ask", {"question": "What is the recipe for banana bread?"})
        follow = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
        assert "found nothing" in follow.body["embeds"][0]["description"]

        # per-user cooldown on /ask (3 per 30 s): the fourth in a row is told to wait, ephemerally
        token = await fake.send_command("ask", {"question": "perceiver architecture"})
        await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
        token = await fake.send_command("ask", {"question": "perceiver architecture"})
        refusal = await fake.wait_for(lambda r: r.path.endswith("/callback") and token in r.path)
        assert refusal.body["type"] == 4 and refusal.body["data"]["flags"] & 64
        assert re.search(r"try again in \d+ s", refusal.body["data"]["content"])

        # /search: a ranked page with buttons; Next turns the page
        token = await fake.send_command("search", {"query": "model", "k": 12})
        follow = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
        check_message(follow.body)
        assert follow.query.get("wait") in {"true", "1", "True"}
        page = follow.body["embeds"][0]
        assert page["description"].startswith("**1.**") and "Page 1 of 3" in page["footer"]["text"]
        buttons = [c for row in follow.body["components"] for c in row["components"]]
        next_button = next(b for b in buttons if "Next" in b["label"])
        # the button press refers to the message the fake created for the follow-up (the view is bound to it)
        message = message_payload(CHANNEL_ID, follow.body, message_id=fake.last_message_ids[follow.path])
        press = await fake.press_button(message, next_button["custom_id"])
        edit = await fake.wait_for(lambda r: r.path.endswith("/callback") and press in r.path)
        assert edit.body["type"] == 7  # UPDATE_MESSAGE
        assert "**6.**" in edit.body["data"]["embeds"][0]["description"]
        assert "Page 2 of 3" in edit.body["data"]["embeds"][0]["footer"]["text"]

        # /paper: a card with the TL;DR
        token = await fake.send_command("paper", {"id": "arXiv:2403.05530v2"})
        follow = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
        check_message(follow.body)
        card = follow.body["embeds"][0]
        assert card["title"].startswith("Gemini 1.5") and card["fields"][0]["name"] == "TL;DR"

        # an unknown paper is a polite message, not an error
        token = await fake.send_command("paper", {"id": "9999.99999"})
        follow = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
        assert "No paper" in follow.body["content"]
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
        await fake.stop()


def test_bot_end_to_end(tmp_path):
    asyncio.run(scenario(tmp_path / "home"))
