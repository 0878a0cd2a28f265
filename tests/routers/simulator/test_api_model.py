"""Unit tests of the simulated router's menu model."""

import pytest

from routers.simulator.model import (
    SimulatedRouter,
    TrapError,
    format_duration,
    parse_duration,
)


def test_model_add_returns_hex_ids_and_fills_defaults() -> None:
    users = SimulatedRouter().menu("/ip/hotspot/user")
    ids = [users.add({"name": f"u{i}"}) for i in range(11)]
    assert ids[0] == "*1"
    assert ids[10] == "*B"
    item = users.get("*B")
    assert item[".id"] == "*B"
    assert item["profile"] == "default"
    assert item["disabled"] == "false"


def test_model_add_duplicate_name_traps() -> None:
    users = SimulatedRouter().menu("/ip/hotspot/user")
    users.add({"name": "alice"})
    with pytest.raises(TrapError) as caught:
        users.add({"name": "alice"})
    assert caught.value.message == "failure: already have user with this name"


def test_model_set_renaming_onto_existing_name_traps() -> None:
    users = SimulatedRouter().menu("/ip/hotspot/user")
    users.add({"name": "alice"})
    bob = users.add({"name": "bob"})
    with pytest.raises(TrapError):
        users.set(bob, {"name": "alice"})
    users.set(bob, {"name": "bob"})  # its own name is fine


def test_model_set_and_remove_missing_item_trap_category_zero() -> None:
    users = SimulatedRouter().menu("/ip/hotspot/user")
    for call in (lambda: users.set("*99", {"comment": "x"}), lambda: users.remove("*99")):
        with pytest.raises(TrapError) as caught:
            call()
        assert caught.value.category == 0
        assert caught.value.message == "no such item"


def test_model_normalises_booleans_and_find_accepts_yes_no() -> None:
    users = SimulatedRouter().menu("/ip/hotspot/user")
    a = users.add({"name": "a", "disabled": "yes"})
    users.add({"name": "b", "disabled": "no"})
    assert users.get(a)["disabled"] == "true"
    assert [u["name"] for u in users.find(disabled="yes")] == ["a"]
    assert [u["name"] for u in users.find(disabled="false")] == ["b"]
    assert users.find(mac_address="x") == []
    with pytest.raises(TrapError):
        users.set(a, {"disabled": "maybe"})


def test_model_hooks_see_changes_and_removals() -> None:
    active = SimulatedRouter().menu("/ip/hotspot/active")
    changed: list[tuple[str, dict[str, str]]] = []
    removed: list[dict[str, str]] = []
    active.on_change.append(lambda item_id, item: changed.append((item_id, item)))
    active.on_remove.append(removed.append)
    session = active.add({"user": "alice", "address": "10.5.50.9"})
    active.set(session, {"bytes-in": "10"})
    active.remove(session)
    assert [c[0] for c in changed] == [session, session]
    assert changed[1][1]["bytes-in"] == "10"
    assert removed[0][".id"] == session
    assert removed[0]["user"] == "alice"
    assert active.items() == []


def test_model_settings_menu_has_one_item_without_id() -> None:
    router = SimulatedRouter()
    incoming = router.menu("/radius/incoming")
    assert incoming.items() == [{"accept": "false", "port": "1700", "vrf": "main"}]
    incoming.set("", {"accept": "yes", "port": "3799"})
    assert incoming.get("") == {"accept": "true", "port": "3799", "vrf": "main"}
    with pytest.raises(TrapError):
        incoming.add({"accept": "yes"})


def test_model_identity_property_and_menu_agree() -> None:
    router = SimulatedRouter(identity="site-7")
    assert router.menu("/system/identity").items() == [{"name": "site-7"}]
    router.menu("/system/identity").set("", {"name": "renamed"})
    assert router.identity == "renamed"


def test_model_resource_is_computed() -> None:
    router = SimulatedRouter(version="6.49.10 (long-term)", board="RB951Ui-2HnD")
    router.boot_time -= 93784
    (resource,) = router.menu("/system/resource").items()
    assert resource["uptime"] == "1d2h3m4s"
    assert resource["version"] == "6.49.10 (long-term)"
    assert resource["board-name"] == "RB951Ui-2HnD"
    for name in ("cpu-load", "free-memory", "total-memory", "architecture-name", "cpu-count"):
        assert resource[name]


def test_model_radius_add_fills_routeros_defaults() -> None:
    radius = SimulatedRouter().menu("/radius")
    item = radius.get(radius.add({"service": "hotspot", "address": "10.0.0.1", "secret": "s"}))
    assert item["authentication-port"] == "1812"
    assert item["accounting-port"] == "1813"
    assert item["timeout"] == "300ms"
    assert item["disabled"] == "false"


def test_model_default_profiles_exist_and_cannot_be_removed() -> None:
    router = SimulatedRouter()
    profiles = router.menu("/ip/hotspot/profile")
    (default,) = profiles.find(name="default")
    assert default["use-radius"] == "false"
    assert default["login-by"] == "http-chap,cookie"
    assert default["radius-accounting"] == "true"
    assert default["radius-interim-update"] == "received"
    with pytest.raises(TrapError):
        profiles.remove(default[".id"])
    (server,) = router.menu("/ip/hotspot").items()
    assert server["name"] == "hotspot1"
    assert profiles.find(name=server["profile"])
    assert router.menu("/ip/hotspot/user/profile").find(name="default")


def test_model_resolve_accepts_names_and_loose_ids() -> None:
    users = SimulatedRouter().menu("/ip/hotspot/user")
    item_id = users.add({"name": "carol"})
    assert users.resolve("carol") == item_id
    assert users.resolve("*01") == item_id


def test_model_unknown_menu_is_trap_and_key_error() -> None:
    with pytest.raises(TrapError) as caught:
        SimulatedRouter().menu("/ip/nothing")
    assert isinstance(caught.value, KeyError)
    assert caught.value.category == 0


def test_model_fail_next_is_one_shot_and_fail_on_persists() -> None:
    router = SimulatedRouter()
    router.fail_next("/ip/hotspot/user/add", "boom", 4)
    error = router.injected_failure("/ip/hotspot/user/add")
    assert error is not None
    assert (error.message, error.category) == ("boom", 4)
    assert router.injected_failure("/ip/hotspot/user/add") is None
    router.fail_on["/ip/hotspot/active"] = "down"
    assert router.injected_failure("/ip/hotspot/active/print") is not None
    assert router.injected_failure("/ip/hotspot/active/print") is not None


def test_model_reboot_clears_sessions_and_uptime() -> None:
    router = SimulatedRouter()
    router.boot_time -= 1000
    active = router.menu("/ip/hotspot/active")
    removed: list[dict[str, str]] = []
    active.on_remove.append(removed.append)
    active.add({"user": "a"})
    router.reboot()
    assert active.items() == []
    assert removed == []
    assert router.uptime_s < 5


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (3600, "1h"), (93784, "1d2h3m4s"), (694861, "1w1d1h1m1s")],
)
def test_duration_format_and_parse(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_duration_parse_other_forms() -> None:
    assert parse_duration("300ms") == pytest.approx(0.3)
    assert parse_duration("00:05:00") == 300
    assert parse_duration("none") == 0
    assert parse_duration("90") == 90
