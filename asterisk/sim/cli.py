"""``callcenter sim``: run the PBX simulator from the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections import Counter

from pydantic import SecretStr, ValidationError

from asterisk.sim.config import AmiUser, SimConfig
from asterisk.sim.simulator import PbxSimulator

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ami-host", default="127.0.0.1", help="address the AMI server binds (default 127.0.0.1)"
    )
    parser.add_argument("--ami-port", type=int, default=5038, help="AMI port (0 = any free port)")
    parser.add_argument("--ami-user", default="cc", help="AMI username (default cc)")
    parser.add_argument("--ami-secret", default="ccsecret", help="AMI secret (default ccsecret)")
    parser.add_argument("--agi-url", default="agi://127.0.0.1:4573/ivr", help="the daemon's FastAGI IVR")
    parser.add_argument("--calls", type=int, default=0, help="synthetic calls to place (0 = serve AMI only)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same calls)")
    parser.add_argument(
        "--hold", action="store_true", help="keep serving AMI after the calls ended (Ctrl-C stops)"
    )


def build_config(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        ami_host=args.ami_host,
        ami_port=args.ami_port,
        users=(AmiUser(username=args.ami_user, secret=SecretStr(args.ami_secret)),),
        agi_url=args.agi_url,
        speed=args.speed,
        seed=args.seed,
    )


async def main(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except ValidationError as exc:
        log.error("invalid simulator options: %s", exc)
        return 2
    async with PbxSimulator(config) as sim:
        log.info(
            "PBX simulator: AMI on %s:%d, FastAGI to %s, speed %gx",
            config.ami_host,
            sim.ami_port,
            config.agi_url,
            config.speed,
        )
        if args.calls > 0:

            def progress(done: int, total: int) -> None:
                if done % 10 == 0 or done == total:
                    log.info("%d/%d calls ended", done, total)

            await sim.run_load(calls=args.calls, progress=progress)
            outcomes = Counter(t.outcome for t in sim.ledger.values())
            log.info("outcomes: %s", ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items(), key=str)))
        if args.calls <= 0 or args.hold:
            await asyncio.Event().wait()  # serve until cancelled (Ctrl-C)
    return 0
