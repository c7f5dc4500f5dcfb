"""Load: N slash-command interactions fired at the real bot through the fake Discord.

    python bench/bot_load.py --n 500 --seconds 5

Every interaction must be acknowledged (deferred) within Discord's 3 s and answered;
reports p50/p95 time to acknowledge and to answer, and how many were lost.
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
from tests.bot.fake_discord import APP_ID, FakeDiscord  # noqa: E402

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
    rng = random.Random(7)
    tokens = []
    started = time.monotonic()
    for i in range(n):
        command = rng.choice(["ask", "ask", "search", "paper"])
        fake_user = 800000000000000000 + i  # one user each, so cooldowns do not refuse the load
        options = {
            "ask": {"question": rng.choice(QUESTIONS)},
            "search": {"query": rng.choice(QUESTIONS)},
            "paper": {"id": "2403.05530"},
        }[command]
        tokens.append(await fake.send_command(command, options, user_id=fake_user))
        await asyncio.sleep(max(0.0, started + seconds * (i + 1) / n - time.monotonic()))
    fired = time.monotonic() - started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answered = {
            t
            for t in tokens
            if any(r.method == "POST" and r.path.startswith(f"/webhooks/{APP_ID}/{t}") for r in fake.for_token(t))
        }
        if len(answered) == n:
            break
        await asyncio.sleep(0.5)
    ack, done = [], []
    for t in tokens:
        records = fake.for_token(t)
        callback = next((r for r in records if r.path.endswith("/callback")), None)
        follow = next((r for r in records if r.path.startswith(f"/webhooks/{APP_ID}/{t}")), None)
        if callback:
            ack.append(callback.at - fake.interaction_created[t])
        if follow:
            done.append(follow.at - fake.interaction_created[t])
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
