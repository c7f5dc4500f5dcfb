"""A local fake of Discord's API on 127.0.0.1: REST routes plus a gateway websocket.

The unmodified discord.py client is pointed at it through `discord.http.Route.BASE`
and `DiscordWebSocket.DEFAULT_GATEWAY` (and the URL /gateway/bot returns). The fake
records every REST request so tests can assert on what the bot sent, and it can
dispatch gateway events (MESSAGE_CREATE, INTERACTION_CREATE, ...) to the bot.

Learned the hard way: responses must carry `Content-Type: application/json` with no
charset, and INTERACTION_CREATE needs `attachment_size_limit`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import discord
import yarl
from aiohttp import WSMsgType, web

APP_ID = 900000000000000001
BOT_ID = APP_ID
GUILD_ID = 900000000000000100
CHANNEL_ID = 900000000000000200
CHANNEL2_ID = 900000000000000201
USER_ID = 900000000000000300
ROLE_ID = 900000000000000400
_ids = itertools.count(910000000000000000)


def snowflake() -> str:
    return str(next(_ids))


BOT_USER = {
    "id": str(BOT_ID),
    "username": "paperbot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
    "flags": 0,
}
HUMAN = {"id": str(USER_ID), "username": "reader", "discriminator": "0", "global_name": "Reader", "avatar": None}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: Any
    at: float = field(default_factory=time.monotonic)


def _json(data: Any, status: int = 200) -> web.Response:
    # exactly "application/json": aiohttp's json_response would add "; charset=utf-8"
    return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})


def message_payload(channel_id: int | str, body: dict, author: dict = BOT_USER, message_id: str | None = None) -> dict:
    return {
        "id": message_id or snowflake(),
        "channel_id": str(channel_id),
        "guild_id": str(GUILD_ID),
        "author": author,
        "content": body.get("content") or "",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": body.get("mentions", []),
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds") or [],
        "pinned": False,
        "type": 0,
        "flags": body.get("flags", 0),
        "components": body.get("components") or [],
    }


class FakeDiscord:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self.ready = asyncio.Event()
        self.seq = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._new_request = asyncio.Condition()
        self.interaction_created: dict[str, float] = {}
        self.last_message_ids: dict[str, str] = {}
        self.member_permissions = 1071698660929 | 32  # includes Manage Server
        self.channel_messages: dict[str, list[dict]] = {}  # what the bot posted, per channel
        self.on_channel_post = None  # test hook: called with (channel_id, body) before answering

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = f"http://127.0.0.1:{self.port}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner:
            await self._runner.cleanup()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 40_000}, "s": None, "t": None})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif op == 2:
                self.identified.set()
                shard = payload["d"].get("shard", [0, 1])
                await self.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                        "session_id": "fake-session",
                        "resume_gateway_url": self.gateway_url,
                        "shard": shard,
                        "application": {"id": str(APP_ID), "flags": 0},
                    },
                    ws,
                )
                await self.dispatch("GUILD_CREATE", self.guild_payload(), ws)
                self.ready.set()
        return ws

    def guild_payload(self) -> dict:
        return {
            "id": str(GUILD_ID),
            "name": "Reading club",
            "icon": None,
            "owner_id": str(USER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(GUILD_ID),
                    "name": "@everyone",
                    "permissions": "1071698660929",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
                {
                    "id": str(ROLE_ID),
                    "name": "Readers",
                    "permissions": "0",
                    "position": 1,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": True,
                    "flags": 0,
                },
            ],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "unavailable": False,
            "member_count": 2,
            "large": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
            "members": [
                {
                    "user": BOT_USER,
                    "roles": [],
                    "joined_at": "2026-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "channels": [
                {
                    "id": str(cid),
                    "type": 0,
                    "name": name,
                    "position": i,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "last_message_id": None,
                    "rate_limit_per_user": 0,
                }
                for i, (cid, name) in enumerate([(CHANNEL_ID, "papers"), (CHANNEL2_ID, "reading-club")])
            ],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
        }

    async def dispatch(self, event: str, data: dict, ws: web.WebSocketResponse | None = None) -> None:
        self.seq += 1
        target = ws or self.sockets[-1]
        await target.send_json({"op": 0, "t": event, "s": self.seq, "d": data})

    # ------------------------------------------------------------------ events a test sends

    def member(self, user_id: int | None = None) -> dict:
        user = HUMAN if user_id is None else {**HUMAN, "id": str(user_id), "username": f"reader{user_id}"}
        return {
            "user": user,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(self.member_permissions),
        }

    async def send_mention(self, text: str) -> str:
        message_id = snowflake()
        body = {"content": f"<@{BOT_ID}> {text}", "mentions": [BOT_USER]}
        payload = message_payload(CHANNEL_ID, body, author=HUMAN, message_id=message_id)
        payload["member"] = {k: v for k, v in self.member().items() if k != "user"}
        await self.dispatch("MESSAGE_CREATE", payload)
        return message_id

    async def send_dm(self, text: str, channel_id: int = 900000000000000900) -> None:
        """A direct message to the bot: no guild, a DM channel it has not seen before."""
        payload = message_payload(channel_id, {"content": text}, author=HUMAN)
        payload.pop("guild_id")
        await self.dispatch("MESSAGE_CREATE", payload)

    async def send_command(self, name: str, options: dict[str, Any], user_id: int | None = None) -> str:
        """INTERACTION_CREATE for a slash command; returns the interaction token."""
        types = {str: 3, int: 4, bool: 5}
        data = {
            "id": snowflake(),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": types[type(v)], "value": v} for k, v in options.items()],
        }
        return await self._interaction(2, data, user_id=user_id)

    async def send_command_group(
        self, group: str, name: str, options: dict[str, Any], user_id: int | None = None
    ) -> str:
        """INTERACTION_CREATE for a subcommand such as /digest here."""
        types = {str: 3, int: 4, bool: 5}
        sub = {
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": types[type(v)], "value": v} for k, v in options.items()],
        }
        return await self._interaction(
            2, {"id": snowflake(), "name": group, "type": 1, "options": [sub]}, user_id=user_id
        )

    async def press_button(self, message: dict, custom_id: str) -> str:
        return await self._interaction(3, {"custom_id": custom_id, "component_type": 2}, message=message)

    async def _interaction(self, kind: int, data: dict, message: dict | None = None, user_id: int | None = None) -> str:
        token = f"tok{snowflake()}"
        payload = {
            "id": snowflake(),
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "guild_id": str(GUILD_ID),
            "channel_id": str(CHANNEL_ID),
            "channel": {"id": str(CHANNEL_ID), "type": 0, "name": "papers", "guild_id": str(GUILD_ID)},
            "member": self.member(user_id),
            "token": token,
            "version": 1,
            "app_permissions": "1071698660929",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 26214400,
        }
        if message is not None:
            payload["message"] = message
        self.interaction_created[token] = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)
        return token

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(form.get("payload_json", "{}"))
            else:
                text = await request.text()
                body = json.loads(text) if text else None
        async with self._new_request:
            self.requests.append(Recorded(request.method, path, dict(request.query), body))
            self._new_request.notify_all()
        return self._answer(request.method, path, request.query, body)

    def _answer(self, method: str, path: str, query, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return _json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return _json(
                {
                    "id": str(APP_ID),
                    "name": "paperbot",
                    "description": "",
                    "icon": None,
                    "bot_public": False,
                    "bot_require_code_grant": False,
                    "owner": HUMAN,
                    "verify_key": "0" * 64,
                    "flags": 0,
                }
            )
        if path == "/gateway/bot":
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
                }
            )
        if path == "/gateway":
            return _json({"url": self.gateway_url})
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            return _json(
                [{**command, "id": snowflake(), "application_id": str(APP_ID), "version": "1"} for command in body]
            )
        if parts[0] == "interactions" and parts[-1] == "callback":
            resource: dict = {"type": body["type"]}
            return _json({"interaction": {"id": parts[1], "type": 2}, "resource": resource})
        if parts[0] == "webhooks":
            message = message_payload(CHANNEL_ID, body or {}, message_id=parts[-1] if method == "PATCH" else None)
            self.last_message_ids[path] = message["id"]
            return _json(message)
        if parts[0] == "channels" and parts[-1] == "typing":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            message = message_payload(parts[1], body or {})
            self.channel_messages.setdefault(parts[1], []).append(message)
            if self.on_channel_post:
                self.on_channel_post(parts[1], body)
            return _json(message)
        if parts[0] == "channels" and parts[-1] == "messages" and method == "GET":
            return _json(list(reversed(self.channel_messages.get(parts[1], []))))
        if parts[0] == "channels" and "messages" in parts and method == "PATCH":
            return _json(message_payload(parts[1], body or {}, message_id=parts[-1]))
        return _json({"message": f"fake Discord has no route {method} {path}", "code": 0}, status=404)

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, predicate, timeout: float = 10.0, start: int = 0) -> Recorded:
        """The first recorded request (from index `start`) that satisfies `predicate`."""

        async def find() -> Recorded:
            async with self._new_request:
                while True:
                    for recorded in self.requests[start:]:
                        if predicate(recorded):
                            return recorded
                    await self._new_request.wait()

        return await asyncio.wait_for(find(), timeout)

    def for_token(self, token: str) -> list[Recorded]:
        return [r for r in self.requests if token in r.path]
