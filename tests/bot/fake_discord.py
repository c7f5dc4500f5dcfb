"""A local fake of Discord's API on 127.0.0.1: REST routes plus a gateway websocket.

The unmodified discord.py client is pointed at it through `discord.http.Route.BASE`
and `DiscordWebSocket.DEFAULT_GATEWAY` (and the URL /gateway/bot returns). The fake
records every REST request so tests can assert on what the bot sent, and it can
dispatch gateway events (MESSAGE_CREATE, INTERACTION_CREATE, ...) to the bot.

It behaves like Discord where the bot's reliability depends on it:
- it rejects with 400 (code 50035, Invalid Form Body) any message over Discord's limits
  (content, embed title/description/fields/footer/author, 6,000 per message, embed URL),
  as Discord does, and lists what it rejected in `rejected`;
- `fail(...)` makes the next matching requests answer 429 (with `retry_after`, which
  discord.py must honour), a 5xx, or store the message first and then answer 5xx or drop
  the connection (the case that duplicates messages);
- a message sent with `nonce` and `enforce_nonce` repeats the message already created with
  that nonce in the channel within `nonce_window` seconds instead of creating another;
- message ids are time-based snowflakes, and history honours `limit`, `before`, `after`.

Learned the hard way: responses must carry `Content-Type: application/json` with no
charset, and INTERACTION_CREATE needs `attachment_size_limit`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
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
DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count()
_last_id = 0

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
URL_MAX = 2048
NONCE_MAX = 25


def snowflake() -> str:
    """A time-based id like Discord's (so `history(after=datetime)` works), strictly increasing."""
    global _last_id
    stamp = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0xFFF)
    _last_id = max(_last_id + 1, stamp)
    return str(_last_id)


def bad_url(url: Any) -> bool:
    """What Discord refuses as an embed URL: not http(s) with a host, whitespace, over 2,048 characters."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX or any(c.isspace() for c in url):
        return True
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return True
    return parts.scheme not in ("http", "https") or not parts.netloc


def violations(body: dict | None) -> list[str]:
    """Every Discord limit this message body breaks (empty when Discord would accept it)."""
    if not body:
        return []
    found = []
    if len(body.get("content") or "") > CONTENT_MAX:
        found.append(f"content: {len(body['content'])} > {CONTENT_MAX}")
    nonce = body.get("nonce")
    if nonce is not None and len(str(nonce)) > NONCE_MAX:
        found.append(f"nonce: {len(str(nonce))} > {NONCE_MAX}")
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        found.append(f"embeds: {len(embeds)} > {EMBEDS_MAX}")
    total = 0
    for n, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            size = len(embed.get(key) or "")
            total += size
            if size > limit:
                found.append(f"embeds.{n}.{key}: {size} > {limit}")
        if "url" in embed and bad_url(embed["url"]):
            found.append(f"embeds.{n}.url: not a well formed http(s) URL of at most {URL_MAX} characters")
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            found.append(f"embeds.{n}.fields: {len(fields)} > {FIELDS_MAX}")
        for i, item in enumerate(fields):
            name, value = item.get("name") or "", item.get("value") or ""
            total += len(name) + len(value)
            if not name or len(name) > FIELD_NAME_MAX:
                found.append(f"embeds.{n}.fields.{i}.name: {len(name)} not in 1..{FIELD_NAME_MAX}")
            if not value or len(value) > FIELD_VALUE_MAX:
                found.append(f"embeds.{n}.fields.{i}.value: {len(value)} not in 1..{FIELD_VALUE_MAX}")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > FOOTER_MAX:
            found.append(f"embeds.{n}.footer.text: {len(footer)} > {FOOTER_MAX}")
        if len(author) > AUTHOR_MAX:
            found.append(f"embeds.{n}.author.name: {len(author)} > {AUTHOR_MAX}")
    if total > EMBED_TOTAL_MAX:
        found.append(f"embeds: {total} characters in total > {EMBED_TOTAL_MAX}")
    return found


@dataclass
class Fault:
    """The next `times` requests whose method matches and whose path contains `path` fail this way."""

    status: int | str  # 429, a 5xx, or "drop" (close the connection without an answer)
    method: str
    path: str
    store: bool  # perform the request (store the message) before failing
    retry_after: float
    times: int


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
    files: dict[str, bytes] = field(default_factory=dict)  # a multipart request's attachments: filename -> bytes


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
        **({"nonce": body["nonce"]} if body.get("nonce") is not None else {}),
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
        self.channel_messages: dict[str, list[dict]] = {}  # every message in a channel, oldest first
        self.on_channel_post = None  # test hook: called with (channel_id, body) before answering
        self.rejected: list[tuple[str, list[str]]] = []  # (path, what broke Discord's limits)
        self.faults: list[Fault] = []
        self.nonce_window = 300.0  # Discord: "the past few minutes"
        self._nonces: dict[tuple[str, str], tuple[dict, float]] = {}
        self.threads: dict[str, dict] = {}  # thread id (= the message it was started from) -> channel payload

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

    async def send_mention(self, text: str, channel_id: int | str = CHANNEL_ID, reply_to: dict | None = None) -> str:
        """A message mentioning the bot, in a channel or thread; with `reply_to`, a reply to that message."""
        message_id = snowflake()
        body = {"content": f"<@{BOT_ID}> {text}", "mentions": [BOT_USER]}
        payload = message_payload(channel_id, body, author=HUMAN, message_id=message_id)
        payload["member"] = {k: v for k, v in self.member().items() if k != "user"}
        if reply_to is not None:
            payload["type"] = 19  # REPLY
            payload["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                "guild_id": str(GUILD_ID),
            }
            payload["referenced_message"] = reply_to
        await self.dispatch("MESSAGE_CREATE", payload)
        return message_id

    async def send_message_command(self, name: str, target: dict, user_id: int | None = None) -> str:
        """INTERACTION_CREATE for a message context-menu command (right-click → Apps) on `target`."""
        data = {
            "id": snowflake(),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return await self._interaction(2, data, user_id=user_id)

    async def send_dm(self, text: str, channel_id: int = 900000000000000900, reply_to: dict | None = None) -> None:
        """A direct message to the bot: no guild, a DM channel it has not seen before; with `reply_to`, a reply."""
        payload = message_payload(channel_id, {"content": text}, author=HUMAN)
        payload.pop("guild_id")
        if reply_to is not None:
            payload["type"] = 19  # REPLY
            payload["message_reference"] = {"type": 0, "message_id": reply_to["id"], "channel_id": str(channel_id)}
            payload["referenced_message"] = {k: v for k, v in reply_to.items() if k != "guild_id"}
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

    async def press_button(self, message: dict, custom_id: str, user_id: int | None = None) -> str:
        """A button press on `message` (any message: a reply, a follow-up, one sent before a restart)."""
        return await self._interaction(
            3, {"custom_id": custom_id, "component_type": 2}, message=message, user_id=user_id
        )

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
        files: dict[str, bytes] = {}
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(form.get("payload_json", "{}"))
                files = {part.filename: part.file.read() for part in form.values() if isinstance(part, web.FileField)}
            else:
                text = await request.text()
                body = json.loads(text) if text else None
        async with self._new_request:
            self.requests.append(Recorded(request.method, path, dict(request.query), body, files=files))
            self._new_request.notify_all()
        fault = self._take_fault(request.method, path)
        if fault is not None and not fault.store:
            return self._failure(fault, request)
        answer = self._answer(request.method, path, request.query, body)
        if fault is not None:
            return self._failure(fault, request)
        return answer

    # ------------------------------------------------------------------ failures on demand

    def fail(
        self,
        status: int | str,
        path: str = "/messages",
        method: str = "POST",
        store: bool = False,
        times: int = 1,
        retry_after: float = 0.25,
    ) -> None:
        """Make the next `times` matching requests fail: 429, a 5xx, or "drop"; with `store`, after doing them."""
        self.faults.append(Fault(status, method, path, store, retry_after, times))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.path in path:
                fault.times -= 1
                return fault
        return None

    def _failure(self, fault: Fault, request: web.Request) -> web.Response:
        if fault.status == "drop":  # the request was handled; the answer never arrives
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)
        if fault.status == 429:
            body = {"message": "You are being rate limited.", "retry_after": fault.retry_after, "global": False}
            response = _json(body, status=429)
            response.headers["Via"] = "1.1 google"  # discord.py treats a 429 without it as a Cloudflare ban
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        return _json({"message": f"{fault.status}: fake failure", "code": 0}, status=int(fault.status))

    def _rejection(self, path: str, body: Any) -> web.Response | None:
        """400 Invalid Form Body when the message breaks a limit, as Discord answers; None when it is fine."""
        broken = violations(body if isinstance(body, dict) else None)
        if not broken:
            return None
        self.rejected.append((path, broken))
        errors = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": reason} for reason in broken]}
        return _json({"code": 50035, "message": "Invalid Form Body", "errors": errors}, status=400)

    # ------------------------------------------------------------------ channels as a test sees them

    def add_message(self, channel_id: int, content: str, author: dict = HUMAN) -> dict:
        """A message someone else posted in the channel (it only shows in history)."""
        message = message_payload(channel_id, {"content": content}, author=author)
        self.channel_messages.setdefault(str(channel_id), []).append(message)
        return message

    def posted(self, channel_id: int) -> list[dict]:
        """What the bot posted in the channel, oldest first."""
        return [m for m in self.channel_messages.get(str(channel_id), []) if m["author"]["id"] == str(BOT_ID)]

    def _history(self, channel_id: str, query) -> list[dict]:
        """GET /channels/{id}/messages: newest first, like Discord, for `before`, `after` or neither."""
        messages = sorted(self.channel_messages.get(channel_id, []), key=lambda m: int(m["id"]))
        limit = max(1, min(int(query.get("limit", 50)), 100))
        if "after" in query:
            chosen = [m for m in messages if int(m["id"]) > int(query["after"])][:limit]
        else:
            if "before" in query:
                messages = [m for m in messages if int(m["id"]) < int(query["before"])]
            chosen = messages[-limit:]
        return list(reversed(chosen))

    def _create_message(self, channel_id: str, body: dict) -> web.Response:
        nonce = body.get("nonce")
        key = (channel_id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[1] < self.nonce_window:
                return _json(seen[0])  # Discord returns the message it already created
        message = message_payload(channel_id, body)
        self.channel_messages.setdefault(channel_id, []).append(message)
        if nonce is not None:
            self._nonces[key] = (message, time.monotonic())
        if self.on_channel_post:
            self.on_channel_post(channel_id, body)
        return _json(message)

    def _create_thread(self, channel_id: str, message_id: str, body: dict) -> web.Response:
        """POST /channels/{id}/messages/{id}/threads: a public thread with the message's id, as Discord does.

        A second thread on the same message is refused with code 160004, as Discord refuses it.
        """
        if message_id in self.threads:
            return _json({"message": "A thread has already been created for this message", "code": 160004}, 400)
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return _json({"message": "Invalid Form Body", "code": 50035}, status=400)
        thread = {
            "id": message_id,
            "type": 11,
            "guild_id": str(GUILD_ID),
            "parent_id": channel_id,
            "owner_id": str(BOT_ID),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": "2026-01-01T00:00:00+00:00",
                "locked": False,
            },
        }
        self.threads[message_id] = thread
        asyncio.get_running_loop().create_task(self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}))
        return _json(thread, status=201)

    # ------------------------------------------------------------------ answers

    def _answer(self, method: str, path: str, query, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        sends_message = parts[0] == "webhooks" or (parts[0] == "channels" and "messages" in parts)
        if method in ("POST", "PATCH") and sends_message and (rejected := self._rejection(path, body)):
            return rejected
        if parts[0] == "interactions" and parts[-1] == "callback" and isinstance(body, dict):
            if rejected := self._rejection(path, body.get("data")):
                return rejected
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
                # Discord answers context-menu commands (types 2 and 3) with an empty description
                [
                    {"description": "", **command, "id": snowflake(), "application_id": str(APP_ID), "version": "1"}
                    for command in body
                ]
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
            return self._create_message(parts[1], body or {})
        if parts[0] == "channels" and parts[-1] == "messages" and method == "GET":
            return _json(self._history(parts[1], query))
        if parts[0] == "channels" and len(parts) == 4 and parts[2] == "messages" and method == "GET":
            for message in self.channel_messages.get(parts[1], []):
                if message["id"] == parts[3]:
                    return _json(message)
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        if parts[0] == "channels" and len(parts) == 5 and parts[-1] == "threads" and method == "POST":
            return self._create_thread(parts[1], parts[3], body or {})
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

    async def reply_for(self, token: str, timeout: float = 10.0) -> dict:
        """The message body the bot answered an interaction with: the callback's, or the first follow-up after a defer."""

        def carries_message(r: Recorded) -> bool:
            if token not in r.path:
                return False
            if r.path.endswith("/callback"):
                return r.body.get("type") in (4, 7)
            return r.method in ("POST", "PATCH") and r.path.startswith("/webhooks/")

        found = await self.wait_for(carries_message, timeout)
        return found.body["data"] if found.path.endswith("/callback") else found.body

    def for_token(self, token: str) -> list[Recorded]:
        return [r for r in self.requests if token in r.path]
