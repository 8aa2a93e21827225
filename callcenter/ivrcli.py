"""`callcenter ivr check FILE` and `callcenter ivr render FILE [-o menu.svg]`.

FILE is a config file (its ``ivr`` section is taken, checked against its queues and agents' skills) or a
menu YAML on its own (``--config`` gives the queues and skills to check it against). ``check`` prints every
problem as ``FILE:LINE: KEY: message; fix: ...`` and exits 1 when there is any. ``render`` draws the menu
(and its survey) as SVG: with graphviz's ``dot`` when it is installed, else with a simple layered layout
of our own; labels are in the centre's language (Chinese fonts: Noto Sans CJK SC / WenQuanYi).
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

from config.menu import MenuSource, load_menu_file
from ivr.model import (
    CallbackNode,
    CollectNode,
    EnqueueNode,
    LanguageNode,
    Menu,
    MessageNode,
    Node,
    RateNode,
    SetNode,
    TimeNode,
    TransferNode,
    kind_of,
    successors,
)
from ivr.validate import warnings as ivr_warnings

FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif"
_COLOURS = {"enqueue": "#d8f0d8", "hangup": "#f4d6d6", "transfer": "#f9e0b8", "menu": "#dbe8fb",
            "language": "#dbe8fb", "collect": "#e7dcfa", "rate": "#e7dcfa", "time": "#fff4c2"}
_KIND_ZH = {"play": "放音", "menu": "菜单", "set": "设置", "enqueue": "进入队列", "hangup": "挂机", "collect": "收号",
            "language": "语言选择", "time": "时间分支", "callback": "预约回电", "transfer": "转接", "message": "留言",
            "rate": "满意度评价"}


def ivr_check_main(file: str, config: str | None = None, sounds: str | None = None) -> int:
    source = load_menu_file(file, config=config)
    if source.issues:
        count = len(source.issues)
        print(f"{file}: {count} IVR problem{'s' if count != 1 else ''}", file=sys.stderr)
        for line in source.messages():
            print(f"  {line}", file=sys.stderr)
        return 1
    menu = source.menu()
    survey = source.survey()
    for issue in ivr_warnings(menu, source.queues):  # legal, but likely a mistake: said, not refused
        print(f"{file}: warning: {issue}; fix: {issue.fix}", file=sys.stderr)
    if sounds is not None:
        _check_sounds(file, menu, survey, Path(sounds))
    checked = "queues and skills checked" if source.queues is not None else "queues not checked (no --config)"
    print(f"OK {file}: {'flat' if _is_flat(source) else 'menu'} with {len(menu.nodes)} nodes, start "
          f"{menu.start!r}, languages {', '.join(menu.languages) or '-'}, "
          f"survey {'yes' if survey else 'no'}; {checked}")
    return 0


def _check_sounds(file: str, menu: Menu, survey: Menu | None, sounds: Path) -> None:
    """Warn (not fail: the IVR plays on without them) about prompts Asterisk would not find."""
    from callcenter.prompts import menu_specs, missing_prompts

    specs = menu_specs(menu) + (menu_specs(survey, "survey") if survey is not None else [])
    missing = missing_prompts(list({s.file: s for s in specs}.values()), sounds)
    for spec in missing:
        print(f"{file}: warning: {spec.where} ({spec.language}): no sound file {spec.file}.* in {sounds}; fix: "
              f"callcenter prompts build --config CONFIG --sounds {sounds}, or record it", file=sys.stderr)
    if not missing:
        print(f"{file}: every prompt has a sound file in {sounds}")


def ivr_render_main(file: str, out: str | None, config: str | None = None, engine: str = "auto") -> int:
    source = load_menu_file(file, config=config)
    if source.ivr is None:
        for line in source.messages():
            print(line, file=sys.stderr)
        return 1
    for line in source.messages():  # draw a menu with problems too: the picture helps to fix them
        print(f"warning: {line}", file=sys.stderr)
    language = source.languages[0] if source.languages else "zh"
    if engine == "dot" and shutil.which("dot") is None:
        print("graphviz 'dot' is not installed (apt-get install graphviz)", file=sys.stderr)
        return 1
    svg, how = render_svg(source_menus(source), Path(file).name, language, engine)
    target = Path(out or Path(file).with_suffix(".svg").name)
    target.write_text(svg, encoding="utf-8")
    print(f"wrote {target} ({how})")
    return 0


def source_menus(source: MenuSource) -> list[tuple[str, Menu]]:
    """The menu and its survey, as drawn."""
    menus = [("menu", source.menu())]
    survey = source.survey()
    if survey is not None:
        menus.append(("survey", survey))
    return menus


def render_svg(menus: list[tuple[str, Menu]], title: str, language: str, engine: str = "auto") -> tuple[str, str]:
    """The drawing as SVG and what laid it out: graphviz's dot when installed (unless ``engine`` is
    'builtin'), else the built-in layout. The IVR editor page shows this same picture."""
    dot_path = shutil.which("dot")
    if dot_path is not None and engine != "builtin":
        svg = subprocess.run([dot_path, "-Tsvg"], input=menu_dot(menus, title, language).encode(),
                             capture_output=True, check=True, timeout=60).stdout.decode("utf-8")
        return svg, "graphviz dot"
    return menu_svg(menus, title, language), "built-in layout"


def _is_flat(source: MenuSource) -> bool:
    return source.ivr is not None and source.ivr.mode == "flat"


# --- labels -------------------------------------------------------------------------------------------


def node_label(name: str, node: Node, language: str) -> list[str]:
    """Lines of a node's box: name and kind, then what it says or does."""
    kind = kind_of(node)
    lines = [f"{name} · {_KIND_ZH[kind] if language == 'zh' else kind}"]
    prompt = getattr(node, "prompt", None)
    if prompt is not None:
        text = prompt.for_language(language).text or prompt.for_language(language).file
        lines += _wrap(text, 18 if language == "zh" else 34)
    if isinstance(node, SetNode):
        parts = [f"queue={node.queue}" if node.queue else "", f"topic={node.topic}" if node.topic else "",
                 f"priority={node.priority}" if node.priority is not None else "",
                 f"language={node.language}" if node.language else "",
                 " ".join(f"{k}≥{v}" for k, v in node.skills.items()),
                 " ".join(f"{k}={v}" for k, v in node.data.items())]
        lines += [p for p in parts if p]
    elif isinstance(node, EnqueueNode):
        lines.append(f"queue={node.queue or '(set above)'}")
    elif isinstance(node, TransferNode):
        lines.append(f"→ {node.number}")
    elif isinstance(node, CollectNode):
        lines.append(f"{node.kind}: {node.min_digits}-{node.max_digits} → {node.var}")
    elif isinstance(node, CallbackNode):
        lines.append(f"number: {node.number_var or 'caller'}")
    elif isinstance(node, MessageNode):
        lines.append(f"≤ {node.max_seconds} s")
    return lines


def _wrap(text: str, width: int) -> list[str]:
    lines = [text[i : i + width] for i in range(0, len(text), width)][:3]
    if len(text) > 3 * width:
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def edge_label(node: Node, where: str, language: str) -> str:
    if where.startswith("choices."):
        digits = where.removeprefix("choices.")
        return f"按{digits}" if language == "zh" else f"key {digits}"
    if where.startswith("rules.") and isinstance(node, TimeNode):
        return node.rules[int(where.removeprefix("rules."))].label()
    if where == "fallback":
        return "超时/错误" if language == "zh" else "no/bad input"
    if where == "default":
        return "其他时间" if language == "zh" else "otherwise"
    if isinstance(node, LanguageNode):
        return " ".join(f"{c.digits}:{c.language}" for c in node.choices)
    if isinstance(node, RateNode):
        return " ".join(f"{r.digits}:{r.score}" for r in node.scale)
    return ""


def _edges(menu: Menu) -> list[tuple[str, str, str, Node]]:
    return [(name, where, target, node) for name, node in menu.nodes.items() for where, target in successors(node)]


# --- graphviz -----------------------------------------------------------------------------------------


def menu_dot(menus: list[tuple[str, Menu]], title: str, language: str) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = ["digraph ivr {", f"  graph [rankdir=TB, fontname={q(FONT)}, label={q(title)}, labelloc=t, fontsize=18];",
           f"  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname={q(FONT)}, fontsize=11];",
           f"  edge [fontname={q(FONT)}, fontsize=10];"]
    for prefix, menu in menus:
        out.append(f"  subgraph cluster_{prefix} {{ label={q(prefix)}; style=dashed;")
        for name, node in menu.nodes.items():
            label = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in node_label(name, node,
                                                                                                    language))
            colour = _COLOURS.get(kind_of(node), "#ffffff")
            bold = ", penwidth=2" if name == menu.start else ""
            out.append(f'    {q(prefix + ":" + name)} [label="{label}", fillcolor="{colour}"{bold}];')
        out.append("  }")
        for name, where, target, node in _edges(menu):
            if target in menu.nodes:
                out.append(f"  {q(prefix + ':' + name)} -> {q(prefix + ':' + target)} "
                           f"[label={q(edge_label(node, where, language))}];")
    out.append("}")
    return "\n".join(out) + "\n"


# --- built-in layout (no graphviz) ---------------------------------------------------------------------

_BOX_W, _LINE_H, _GAP_X, _GAP_Y = 230, 16, 30, 70


def menu_svg(menus: list[tuple[str, Menu]], title: str, language: str) -> str:
    """Layers by shortest distance from the start; boxes left to right in each layer; straight edges."""
    boxes: dict[str, tuple[float, float, float, list[str], str]] = {}  # id -> x, y, h, lines, colour
    y = 50.0
    width = 400.0
    edges: list[tuple[str, str, str]] = []
    for prefix, menu in menus:
        layers = _layers(menu)
        for layer in layers:
            heights = [len(node_label(n, menu.nodes[n], language)) * _LINE_H + 14 for n in layer]
            for i, name in enumerate(layer):
                node = menu.nodes[name]
                boxes[f"{prefix}:{name}"] = (20 + i * (_BOX_W + _GAP_X), y, heights[i],
                                             node_label(name, node, language), _COLOURS.get(kind_of(node), "#fff"))
            width = max(width, 40 + len(layer) * (_BOX_W + _GAP_X))
            y += max(heights) + _GAP_Y
        edges += [(f"{prefix}:{a}", f"{prefix}:{b}", edge_label(n, w, language)) for a, w, b, n in _edges(menu)
                  if b in menu.nodes]
        y += 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{y:.0f}" '
             f'viewBox="0 0 {width:.0f} {y:.0f}" font-family="{FONT}">',
             '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
             'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
             '<rect width="100%" height="100%" fill="#fff"/>',
             f'<text x="20" y="28" font-size="18" font-weight="bold">{html.escape(title)}</text>']
    for a, b, label in edges:
        ax, ay, ah, _, _ = boxes[a]
        bx, by, bh, _, _ = boxes[b]
        x1, y1 = ax + _BOX_W / 2, ay + ah
        x2, y2 = bx + _BOX_W / 2, by
        if by <= ay:  # an edge back up: leave from the side
            x1, y1, y2 = ax + _BOX_W, ay + ah / 2, by + bh / 2
            x2 = bx + _BOX_W
        parts.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#555" '
                     f'marker-end="url(#a)"/>')
        if label:
            parts.append(f'<text x="{(x1 + x2) / 2 + 4:.0f}" y="{(y1 + y2) / 2:.0f}" font-size="11" '
                         f'fill="#1a4c99">{html.escape(label)}</text>')
    for x, top, h, lines, colour in boxes.values():
        parts.append(f'<rect x="{x:.0f}" y="{top:.0f}" width="{_BOX_W}" height="{h:.0f}" rx="8" fill="{colour}" '
                     'stroke="#333"/>')
        for i, line in enumerate(lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            parts.append(f'<text x="{x + 8:.0f}" y="{top + 18 + i * _LINE_H:.0f}" font-size="12"{weight}>'
                         f"{html.escape(line)}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _layers(menu: Menu) -> list[list[str]]:
    depth: dict[str, int] = {}
    if menu.start in menu.nodes:
        depth[menu.start] = 0
        todo = deque([menu.start])
        while todo:
            name = todo.popleft()
            for _, target in successors(menu.nodes[name]):
                if target in menu.nodes and target not in depth:
                    depth[target] = depth[name] + 1
                    todo.append(target)
    last = max(depth.values(), default=-1)
    for name in menu.nodes:  # unreachable nodes: a layer of their own at the bottom
        depth.setdefault(name, last + 1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name, d in depth.items():
        layers[d].append(name)
    return layers

