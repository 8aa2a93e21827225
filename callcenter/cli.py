"""`callcenter` command line: one entry point, subcommands imported lazily so each starts fast."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

DEFAULT_CONFIG = "config/example.yaml"


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from callcenter.daemon import run_daemon

    return asyncio.run(run_daemon(args.config))


def _cmd_demo(args: argparse.Namespace) -> int:
    from callcenter.demo import demo_main

    return asyncio.run(demo_main(args))


def _cmd_sim(args: argparse.Namespace) -> int:
    from asterisk.sim.cli import main as sim_main

    return asyncio.run(sim_main(args))


def _cmd_check_config(args: argparse.Namespace) -> int:
    from config.loader import check_config_main

    return check_config_main(args.file)


def _cmd_shifts_check(args: argparse.Namespace) -> int:
    from callcenter.shiftcheck import shifts_check_main

    return shifts_check_main(args.config, args.week)


def _cmd_ivr_check(args: argparse.Namespace) -> int:
    from callcenter.ivrcli import ivr_check_main

    return ivr_check_main(args.file, args.config, sounds=args.sounds)


def _cmd_ivr_render(args: argparse.Namespace) -> int:
    from callcenter.ivrcli import ivr_render_main

    return ivr_render_main(args.file, args.output, args.config, args.engine)


def _cmd_prompts_build(args: argparse.Namespace) -> int:
    from callcenter.prompts import prompts_build_main

    return prompts_build_main(args.config, args.sounds, args.overrides)


def _cmd_tickets(args: argparse.Namespace) -> int:
    from callcenter.tickets_cli import main as tickets_main

    return tickets_main(args)


def _cmd_retention(args: argparse.Namespace) -> int:
    from callcenter.retention_cli import main as retention_main

    return retention_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="callcenter",
        description="Call-center bridge for 7x24 citizen-service hotlines (Asterisk AMI/FastAGI, ACD, tickets).",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon against Asterisk (or the simulator)")
    run.add_argument("--config", required=True, help="YAML config file (see config/example.yaml)")
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="daemon + built-in PBX simulator + web wallboard in one command")
    from callcenter.demo import add_arguments as demo_arguments

    demo_arguments(demo)
    demo.set_defaults(func=_cmd_demo, log_level_default="WARNING")

    sim = sub.add_parser("sim", help="run the PBX simulator (speaks AMI and FastAGI like Asterisk)")
    from asterisk.sim.cli import add_arguments as sim_arguments

    sim_arguments(sim)
    sim.set_defaults(func=_cmd_sim)

    chk = sub.add_parser("check-config", help="validate a config file; exits non-zero on errors")
    chk.add_argument("file")
    chk.set_defaults(func=_cmd_check_config)

    ivr = sub.add_parser("ivr", help="IVR menus: check, render").add_subparsers(dest="ivr_command", required=True)
    ic = ivr.add_parser("check", help="check a menu (a config file or a menu YAML); exits 1 on problems")
    ic.add_argument("file")
    ic.add_argument("--config", default=None, help="config whose queues and skills a menu file is checked against")
    ic.add_argument("--sounds", default=None,
                    help="Asterisk's sounds folder (astdatadir/sounds): warn about prompts with no file there")
    ic.set_defaults(func=_cmd_ivr_check)
    ir = ivr.add_parser("render", help="draw a menu as SVG (graphviz dot if installed)")
    ir.add_argument("file")
    ir.add_argument("-o", "--output", default=None, help="SVG file to write (default: FILE's name with .svg)")
    ir.add_argument("--config", default=None)
    ir.add_argument("--engine", choices=["auto", "dot", "builtin"], default="auto")
    ir.set_defaults(func=_cmd_ivr_render)

    pr = sub.add_parser("prompts", help="IVR prompts as sound files").add_subparsers(dest="prompts_command",
                                                                                    required=True)
    pb = pr.add_parser("build", help="speak the config's prompt texts into 8 kHz WAV files (espeak-ng, sox)")
    pb.add_argument("--config", required=True)
    pb.add_argument("--sounds", required=True,
                    help="Asterisk's sounds folder: /var/lib/asterisk/sounds (source install), "
                         "/usr/share/asterisk/sounds (Debian packages)")
    pb.add_argument("--overrides", default=None, help="folder of recorded prompts (same names) that win over speech")
    pb.set_defaults(func=_cmd_prompts_build)

    shifts = sub.add_parser("shifts", help="shift rules").add_subparsers(dest="shifts_command", required=True)
    sc = shifts.add_parser("check", help="intervals of a week where the roster leaves a queue under its minimum")
    sc.add_argument("--config", required=True)
    sc.add_argument("--week", required=True, help="ISO week, e.g. 2026-W48")
    sc.set_defaults(func=_cmd_shifts_check)

    tk = sub.add_parser("tickets", help="call records and tickets (工单): calls, list, show, due, migrate")
    from callcenter.tickets_cli import add_arguments as tickets_arguments

    tickets_arguments(tk)
    tk.set_defaults(func=_cmd_tickets)

    rt = sub.add_parser("retention", help="personal information: mask callers' numbers past security.retention_days")
    from callcenter.retention_cli import add_arguments as retention_arguments

    retention_arguments(rt)
    rt.set_defaults(func=_cmd_retention)

    from callcenter.reports.cli import add_report_commands  # report daily | departments | topics | seed-month

    add_report_commands(sub)
    from callcenter.staffing_cli import add_staffing_commands  # staffing seed | forecast | plan | roster

    add_staffing_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level
    if level == "INFO" and getattr(args, "log_level_default", None):
        level = args.log_level_default
    _setup_logging(level)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
