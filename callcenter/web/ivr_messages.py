"""The menu checks' messages in the centre's language, for the IVR editor page.

The checks (config loader, pydantic, ``ivr.validate``) speak English, and the CLI keeps it; the page shows
each message in Chinese when the centre's language is zh. A message is ``what; fix: how``: each half is
matched against the patterns below; a message no pattern knows is shown as it is (rather than hidden).
"""

from __future__ import annotations

import re

_GOT = re.compile(r" \(got (.+)\)$")

#: (pattern, zh) for the "what" half; groups are filled in as \1, \2
_WHAT: list[tuple[str, str]] = [
    (r"YAML syntax error: (.*)", r"YAML 格式错误：\1"),
    (r"YAML error: (.*)", r"YAML 错误：\1"),
    (r"YAML document (.*)", r"YAML 文档过大或嵌套过深：\1"),
    (r"duplicate key '(.+)' \(first given on line (\d+)\)", r"键“\1”重复（第 \2 行已有）"),
    (r"required key is missing", "缺少必填项"),
    (r"unknown key \(did you mean '(.+)'\?\); expected one of: (.*)", r"未知的键（是否想写“\1”？）；可用的键：\2"),
    (r"unknown key; expected one of: (.*)", r"未知的键；可用的键：\1"),
    (r"unknown key", "未知的键"),
    (r"bad key: (.*)", r"键不正确：\1"),
    (r"Input tag '(.+)' found using '(?:kind|mode)' does not match any of the expected tags: (.*)",
     r"未知的类型“\1”；可用类型：\2"),
    (r"Input should be a valid integer.*", "应为整数"),
    (r"Input should be a valid number.*", "应为数字"),
    (r"Input should be a valid string.*", "应为文字"),
    (r"Input should be a valid boolean.*", "应为 true 或 false"),
    (r"Input should be a valid (?:dictionary|mapping).*", "应为“键: 值”的映射"),
    (r"Input should be a valid list.*", "应为列表"),
    (r"Input should be greater than or equal to (\S+)", r"应不小于 \1"),
    (r"Input should be greater than (\S+)", r"应大于 \1"),
    (r"Input should be less than or equal to (\S+)", r"应不大于 \1"),
    (r"Input should be less than (\S+)", r"应小于 \1"),
    (r"Input should be (.+)", r"应为 \1"),
    (r"String should have at least (\d+) characters?", r"至少 \1 个字符"),
    (r"String should have at most (\d+) characters?", r"至多 \1 个字符"),
    (r"expected a mapping.*", "应为“键: 值”的映射（mode、start、nodes……）"),
    (r"environment variable (\S+) is not set.*", r"环境变量 \1 未设置"),
    (r"min_digits must not exceed max_digits", "最少位数不能大于最多位数"),
    (r"unknown node '(.+)'", r"未知节点“\1”"),
    (r"unreachable from the start node '(.+)'", r"从起始节点“\1”到不了这里"),
    (r"loop with no exit \(reached by (.+)\): never gets to an enqueue or a hangup",
     r"死循环（经 \1 到达）：永远到不了排队或挂机"),
    (r"loop with no exit when the time matches '(.+)': (\S+) > (\S+) leads back to .*",
     r"时间为“\1”时成死循环：\2 → \3 又回到 \2，每次都走同一分支（唯一出路是另一个时间分支）"),
    (r"unknown queue '(.+)'", r"未知队列“\1”"),
    (r"no agent has skill '(.+)'", r"没有坐席具备技能“\1”"),
    (r"no '(.+)' prompt", r"缺少“\1”语言的提示语"),
    (r"a menu needs at least one choice", "菜单至少需要一个按键选项"),
    (r"a language choice needs at least one key", "语言选择至少需要一个按键"),
    (r"language '(.+)' is not configured", r"未配置语言“\1”"),
    (r"a survey needs a scale", "满意度评价需要评分表"),
    (r"no collect node fills '(.+)'", r"没有收号节点填写“\1”"),
    (r"duplicate digits '(.+)'", r"按键“\1”重复"),
    (r"digits '(.+)' start with the choice '(.+)'", r"按键“\1”以选项“\2”开头，永远选不到"),
    (r"(\d+) menu levels deep \(limit (\d+)\)", r"菜单有 \1 层（上限 \2 层）"),
    (r"no queue chosen on the way here \((.+)\)", r"到这里之前没有选定队列（路径 \1）"),
    (r"no IVR path reaches queue '(.+)': it gets no caller from the menu",
     r"没有任何导航路径通往队列“\1”：该队列不会从菜单接到来电"),
    (r"a version needs its author", "新版本需要作者"),
    (r"the menu did not load", "菜单无法加载"),
]

#: the "how to fix" half
_FIX: list[tuple[str, str]] = [
    (r"name one of the nodes: (.*)", r"改为已有节点之一：\1"),
    (r"point a choice, next or fallback at it, or delete it", "让某个按键、next 或 fallback 指向它，或删除它"),
    (r"give one node of the loop a way out.*", "给循环中的某个节点加一条出路（按键或 fallback 指向排队或挂机节点）"),
    (r"give the loop its own way out.*", "给这个循环自己的出路（例如播报后进入菜单或排队，而不是回到时间分支节点）"),
    (r"use one of the configured queues: (.*)", r"改用已配置的队列：\1"),
    (r"use a skill some agent has \((.*)\) or give it to an agent", r"改用坐席已有的技能（\1），或给坐席加上该技能"),
    (r"add (\S+): \{file: \.\.\., text: \.\.\.\} to the prompt", r"在提示语下添加 \1: {file: ..., text: ...}"),
    (r"add a choice such as '1': <node>", "添加一个选项，例如 '1': 节点名"),
    (r"add e\.g\. (.+)", r"添加，例如 \1"),
    (r"use one of (.*) or add it to ivr\.languages", r"改用 \1，或把它加入 ivr.languages"),
    (r"collect the number first.*", "先收号（kind: collect, var: ...），或去掉 number_var"),
    (r"give each choice its own key", "每个选项用不同的按键"),
    (r"end longer choices with # or use keys that do not overlap", "较长的按键以 # 结束，或改用不重叠的按键"),
    (r"merge menus or send callers to an agent sooner.*", "合并菜单或尽早转人工；热线国家标准建议菜单层级不宜过深"),
    (r"give this enqueue a queue, or set one.*", "给这个排队节点指定队列，或在它之前用 set 节点设定队列"),
    (r"send callers to it \(a choice to a set node with queue: (\S+)\) or remove the queue",
     r"让来电能到达它（某个按键指向 queue: \1 的 set 节点），或删除该队列"),
]

#: what PyYAML says about a syntax error, as a person would fix it
_YAML: list[tuple[str, str]] = [
    ("mapping values are not allowed here",
     "此处不能出现“冒号+空格”；文字中有英文冒号时请给整段文字加引号，或改用中文冒号"),
    ("found character '\\t' that cannot start any token", "不能用制表符（Tab）缩进，请改用空格"),
    ("expected <block end>, but found", "缩进不一致：同一层的键要对齐"),
    ("could not find expected ':'", "缺少“:”"),
    ("found unexpected end of stream", "引号没有闭合"),
    ("did not find expected key", "缩进不一致或缺少“键:”"),
    ("did not find expected '-' indicator", "列表项缩进不一致"),
]

_COMPILED = [(re.compile(p + "$"), r) for p, r in _WHAT]
_COMPILED_FIX = [(re.compile(p + "$"), r) for p, r in _FIX]


def localise(message: str, language: str) -> str:
    """``message`` in ``language`` (zh or en); unknown wordings stay as they are."""
    if language != "zh":
        return message
    what, sep, fix = message.partition("; fix: ")
    out = _what(what)
    if sep:
        out += "；修改：" + _one(fix, _COMPILED_FIX)
    return out


def _what(text: str) -> str:
    got = _GOT.search(text)
    core = text[: got.start()] if got else text
    if core.startswith("YAML syntax error: "):
        detail = core.removeprefix("YAML syntax error: ")
        for needle, plain in _YAML:
            if needle in detail:
                return "YAML 格式错误：" + plain
    out = _one(core, _COMPILED)
    return out + (f"（当前为 {got.group(1)}）" if got else "")


def _one(text: str, table: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, zh in table:
        found = pattern.match(text)
        if found:
            return found.expand(zh)
    return text
