"""Hypothesis fuzzing of the YAML config loader: any text, any YAML structure, the example config mutated.

Whatever the file holds, ``load_config_text`` returns a Config or raises ConfigError whose issues name the
key (a path like ``agents[2].queues[0]``) -- never another exception, never a traceback for the admin.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import ConfigError, key_path, load_config_text
from config.models import Config
from config.yamlsource import parse, substitute_env
from tests.pair import EXAMPLE

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXAMPLE_DATA = substitute_env(parse(EXAMPLE.read_text(encoding="utf-8"))[0], {})

scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(allow_nan=False),
                   st.text(max_size=30), st.sampled_from(["22:00", "0123", "${NOPE}", "$${x}", "1_000", "yes"]))
structure = st.recursive(scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                         st.dictionaries(st.text(max_size=10), kids, max_size=4)),
                         max_leaves=20)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True)


def load(text: str) -> Config | ConfigError:
    try:
        return load_config_text(text, "fuzz.yaml", environ={})
    except ConfigError as exc:
        assert exc.issues, "a ConfigError must list its issues"
        report = exc.format_errors()
        assert report.startswith("fuzz.yaml: ") and "Traceback" not in report
        return exc


def paths(data: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [loc]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*loc, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*loc, i))
    return out


EXAMPLE_PATHS = paths(EXAMPLE_DATA)[1:]


def mutate(data: Any, loc: tuple[str | int, ...], kind: str, value: Any) -> Any:
    """A copy of ``data`` with the value at ``loc`` replaced, deleted, or given an unknown sibling key."""
    if not loc:
        return {**data, "zz_unknown_key": value} if kind == "unknown" else value
    head, rest = loc[0], loc[1:]
    if isinstance(data, dict):
        copy: Any = dict(data)
    else:
        copy = list(data)
    if rest:
        copy[head] = mutate(data[head], rest, kind, value)
    elif kind == "replace":
        copy[head] = value
    elif kind == "delete":
        del copy[head]
    elif isinstance(copy[head], dict):  # "unknown": a key no model has, inside the mapping at loc
        copy[head] = {**copy[head], "zz_unknown_key": value}
    return copy


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text(text: str) -> None:
    load(text)


@FUZZ
@given(data=structure)
def test_any_yaml_structure(data: Any) -> None:
    result = load(dump(data))
    assert isinstance(result, ConfigError)  # a random structure lacks centre/ami/queues
    assert any(i.key for i in result.issues) or not isinstance(data, dict) or any(
        "YAML" in i.message or "mapping" in i.message or "environment" in i.message for i in result.issues
    )


@settings(FUZZ, max_examples=50)  # ~0.3 s each: a whole config per example
@given(index=st.integers(0, len(EXAMPLE_PATHS) - 1), kind=st.sampled_from(["replace", "delete", "unknown"]),
       value=structure)
def test_mutated_example_gives_a_config_or_errors_naming_the_key(index: int, kind: str, value: Any) -> None:
    loc = EXAMPLE_PATHS[index]
    if kind == "unknown":
        loc = loc if isinstance(mutate_target(loc), dict) else loc[:-1]
    result = load(dump(mutate(EXAMPLE_DATA, loc, kind, value)))
    if isinstance(result, Config):
        return
    keys = [i.key for i in result.issues]
    assert all(i.message for i in result.issues)
    if kind == "unknown":
        # "unknown key" there, or a finer error inside it (e.g. a ${VAR} that is not set)
        assert any(k.startswith(key_path((*loc, "zz_unknown_key"))) for k in keys), (loc, keys)
    else:
        # The key itself, a key around it, or (for a broken link between sections) the key that refers to it.
        assert any(k for k in keys), (loc, result.format_errors())


def mutate_target(loc: tuple[str | int, ...]) -> Any:
    data: Any = EXAMPLE_DATA
    for part in loc:
        data = data[part]
    return data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 3000 + "]" * 3000, "nested more than"),
        ("a: " + "[" * 60 + "]" * 60, "nested too deeply"),
        ("a: &a [*a]", "nested too deeply"),
        ("\n".join(['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
                   + [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 12)]),
         "more than 200000 values"),
    ],
    ids=["deep-flow", "deep-key", "self-alias", "billion-laughs"],
)
def test_hostile_yaml_is_refused_with_a_clear_error(text: str, expected: str) -> None:
    result = load(text)
    assert isinstance(result, ConfigError)
    assert expected in result.format_errors()
