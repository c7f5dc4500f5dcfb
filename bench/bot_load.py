"""Load: N interactions fired at the real bot through the fake Discord.

    python bench/bot_load.py --n 500 --seconds 5

The mix: /ask, /search, /paper, /cite, /related, and button presses on an answer (👍/👎 by
distinct users, Cite). Every interaction must be acknowledged (deferred or answered) within
Discord's 3 s and answered; reports p50/p95 time to acknowledge and to answer, overall and
per kind, and how many were lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.main import make_bot  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.bot.fake_discord import APP_ID, CHANNEL_ID, FakeDiscord, message_payload  # noqa: E402

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.GabcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
QUESTIONS = [
    "how do you train transformers without normalisation?",
    "long context multimodal models",
    "precipitation nowcasting",
    "distributed training framework",
    "audio representations",
    "data augmentation samples per image",
    "vision transformers versus convnets",
    "few-shot visual language model",
    "perceiver attention",
    "batch normalization",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1)


async def run(n: int, seconds: float, home: Path) -> dict:
    fake = FakeDiscord()
    await fake.start()
    bot = make_bot(Settings(_env_file=None, DISCORD_TOKEN=TOKEN), home)
    # the per-user cooldown is part of the product; the load comes from many users
    runner = asyncio.create_task(bot.start(TOKEN))
    await asyncio.wait_for(bot.wait_until_ready(), 60)
    # an answer to press buttons on (its message as Discord would send it with the interaction)
    token = await fake.send_command("ask", {"question": "Does Flamingo use few-shot learning?"}, user_id=1)
    follow = await fake.wait_for(lambda r: r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{token}"))
    answer = message_payload(CHANNEL_ID, follow.body, message_id=fake.last_message_ids[follow.path])
    await asyncio.sleep(0.5)  # the bot keeps the answer just after sending it
    buttons = {
        b.get("label") or b["emoji"]["name"]: b["custom_id"]
        for row in follow.body["components"]
        for b in row["components"]
    }
    rng = random.Random(7)
    tokens: list[tuple[str, str]] = []
    kinds = ["ask", "ask", "search", "paper", "cite", "related", "vote", "cite-button"]
    started = time.monotonic()
    for i in range(n):
        command = rng.choice(kinds)
        fake_user = 800000000000000000 + i  # one user each, so cooldowns do not refuse the load
        if command == "vote":
            token = await fake.press_button(answer, buttons[rng.choice(["👍", "👎"])], user_id=fake_user)
        elif command == "cite-button":
            token = await fake.press_button(answer, buttons["Cite"], user_id=fake_user)
        else:
            options = {
                "ask": {"question": rng.choice(QUESTIONS)},
                "search": {"query": rng.choice(QUESTIONS)},
                "paper": {"id": "2403.05530"},
                "cite": {"id": "2204.14198"},
                "related": {"id": "2107.14795"},
            }[command]
            token = await fake.send_command(command, options, user_id=fake_user)
        tokens.append((command, token))
        await asyncio.sleep(max(0.0, started + seconds * (i + 1) / n - time.monotonic()))
    fired = time.monotonic() - started

    def answered_at(t: str) -> float | None:
        """When the answer went out: a follow-up after a defer, or a message in the callback itself."""
        for r in fake.for_token(t):
            if r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{t}"):
                return r.at
            if r.path.endswith("/callback") and r.body.get("type") == 4:
                return r.at
        return None

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(answered_at(t) is not None for _, t in tokens):
            break
        await asyncio.sleep(0.5)
    ack, done = [], []
    by_kind: dict[str, list[float]] = {}
    for kind, t in tokens:
        callback = next((r for r in fake.for_token(t) if r.path.endswith("/callback")), None)
        finished = answered_at(t)
        if callback:
            ack.append(callback.at - fake.interaction_created[t])
            by_kind.setdefault(kind, []).append(ack[-1])
        if finished is not None:
            done.append(finished - fake.interaction_created[t])
    await bot.close()
    await runner
    await fake.stop()
    return {
        "interactions": n,
        "fired_in_s": round(fired, 2),
        "acknowledged": len(ack),
        "answered": len(done),
        "lost": n - len(done),
        "ack_over_3s": sum(a > 3 for a in ack),
        "ack_p50_ms": pct(ack, 0.5),
        "ack_p95_ms": pct(ack, 0.95),
        "answer_p50_ms": pct(done, 0.5),
        "answer_p95_ms": pct(done, 0.95),
        "ack_by_kind": {
            kind: {"n": len(v), "over_3s": sum(a > 3 for a in v), "p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95)}
            for kind, v in sorted(by_kind.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        print(json.dumps(asyncio.run(run(args.n, args.seconds, Path(home))), indent=2))


if __name__ == "__main__":
    main()
