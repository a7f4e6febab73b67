"""A remembered explanation of a non-match is exactly the one `explain` would give now."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules.matching import MissCache, explain
from tests.rules.helpers import event, load

RULES = load(
    """
    rules:
      - name: by-farm
        events: [HostDown, HostCrash]
        where: {role_name: "web-*", farm_id: 1439}
        actions: [{email: ops@example.com}]
      - name: by-data
        events: [HostDown]
        where:
          any:
            - {data.SCALR_FARM_NAME: {regex: "^prod"}}
            - not: {env_id: {gte: 3}}
        actions: [{email: ops@example.com}]
      - name: switched-off
        enabled: false
        events: [HostDown]
        where: {farm_id: 1}
        actions: [{email: ops@example.com}]
    """
)
# Values that are equal in Python but written apart in an explanation, and others.
SCALARS: list[Any] = [1, 1.0, True, 0, False, None, "1", "1439", 1439, 1439.0, "web-a", "db", 3]
values = st.one_of(
    st.sampled_from(SCALARS),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def test_the_reads_of_a_rule_are_every_field_its_conditions_test() -> None:
    assert RULES.get("by-farm").reads == (("role_name",), ("farm_id",))
    assert RULES.get("by-data").reads == (("data", "SCALR_FARM_NAME"), ("env_id",))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["HostDown", "OnHostDown", "HostCrash"]),
            values,
            values,
            values,
            st.one_of(st.none(), values),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_remembered_explanation_is_what_explain_says(cases: list[tuple[Any, ...]]) -> None:
    cache = MissCache(limit=5)  # small, so entries come and go within one example
    for name, farm, role, env, farm_name in cases:
        data = {} if farm_name is None else {"SCALR_FARM_NAME": farm_name}
        ev = event(name=name, farm_id=farm, role_name=role, env_id=env, data=data)
        for rule in RULES.rules:
            if explain(rule, ev).matched:
                continue
            assert cache.explained(rule, ev) == explain(rule, ev).to_dict()
        assert len(cache) <= 5


def test_equal_values_of_other_types_are_explained_apart() -> None:
    cache, rule = MissCache(), RULES.get("by-farm")
    for value, shown in [(1, "1"), (1.0, "1.0"), (True, "true"), (1, "1")]:
        failure = cache.explained(rule, event(farm_id=value))["failures"][0]
        assert failure["message"] == f"where.farm_id: expected 1439, got {shown}"
        assert repr(failure["actual"]) == repr(value)
    assert len(cache) == 3


def test_an_event_of_another_name_is_not_given_the_first_names_explanation() -> None:
    cache, rule = MissCache(), RULES.get("by-farm")
    cache.explained(rule, event(name="HostDown", farm_id=7))
    assert cache.explained(rule, event(name="RebootComplete", farm_id=7))["reason"] == (
        "listens for HostDown, HostCrash; event is RebootComplete"
    )


def test_a_caller_changing_what_it_got_does_not_change_the_next_answer() -> None:
    cache, rule = MissCache(), RULES.get("by-farm")
    first = cache.explained(rule, event(farm_id=7))
    first["reason"] = "changed"
    first["matched"] = True
    assert cache.explained(rule, event(farm_id=7)) == explain(rule, event(farm_id=7)).to_dict()


def test_the_oldest_entries_go_at_the_limit_and_unhashable_values_are_not_kept() -> None:
    cache, rule = MissCache(limit=3), RULES.get("by-farm")
    for farm in range(10):
        cache.explained(rule, event(farm_id=farm))
    assert len(cache) == 3
    cache.explained(rule, event(farm_id=[1, 2]))
    cache.explained(rule, event(farm_id={"a": 1}))
    assert len(cache) == 3


def test_a_new_file_version_starts_with_nothing_remembered() -> None:
    old = load(
        "rules:\n  - {name: r, events: [HostDown], where: {farm_id: 1}, actions: [{email: a@example.com}]}\n"
    )
    new = load(
        "rules:\n  - {name: r, events: [HostDown], where: {farm_id: 2}, actions: [{email: a@example.com}]}\n"
    )
    ev = event(farm_id=5)
    assert "expected 1" in old.misses.explained(old.rules[0], ev)["reason"]
    assert "expected 2" in new.misses.explained(new.rules[0], ev)["reason"]
    assert old.misses is old.misses and len(new.misses) == 1
