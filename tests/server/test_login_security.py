"""Issue #12 report 3 and 4: tokens end on a password/role/status change; logins are throttled,
cost the same hash work for unknown users, and queue on a bounded hash pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from server.api import auth
from server.app import create_app
from server.login_guard import HashPool, LoginThrottle, PoolFull
from server.models import User
from tests.server.conftest import ADMIN, Server, make_settings

TOKEN = "/api/v1/auth/token"


def _login(client: TestClient, username: str, password: str) -> Any:
    return client.post(TOKEN, json={"username": username, "password": password})


def _add_user(server: Server, name: str, role: str = "viewer") -> int:
    r = server.client.post(
        "/api/v1/users",
        json={"username": name, "password": "password1", "role": role, "hall_id": 1},
        headers=server.admin,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _me(server: Server, headers: dict[str, str]) -> int:
    return int(server.client.get("/api/v1/auth/me", headers=headers).status_code)


# ---- token version


def test_password_change_ends_existing_tokens(server: Server) -> None:
    uid = _add_user(server, "v1")
    old = server.login("v1", "password1")
    assert _me(server, old) == 200
    r = server.client.patch(
        f"/api/v1/users/{uid}", json={"password": "password2"}, headers=server.admin
    )
    assert r.status_code == 200, r.text
    assert _me(server, old) == 401
    assert _me(server, server.login("v1", "password2")) == 200


def test_deactivation_and_reactivation_do_not_revive_old_tokens(server: Server) -> None:
    uid = _add_user(server, "v2")
    old = server.login("v2", "password1")
    for active in (False, True):
        r = server.client.patch(
            f"/api/v1/users/{uid}", json={"active": active}, headers=server.admin
        )
        assert r.status_code == 200, r.text
    assert _me(server, old) == 401
    assert _me(server, server.login("v2", "password1")) == 200


def test_role_change_ends_existing_tokens(server: Server) -> None:
    uid = _add_user(server, "v3", role="hall_admin")
    old = server.login("v3", "password1")
    app = server.client.app
    with app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        user = session.get(User, uid)
        user.role = "viewer"
        session.commit()
    assert _me(server, old) == 401


def _hall(server: Server, code: str) -> int:
    r = server.client.post("/api/v1/halls", json={"code": code}, headers=server.admin)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize(
    "change",
    [{"role": "agent"}, {"hall_id": "second"}, {"username": "renamed"}],
    ids=["role", "hall", "username"],
)
def test_patch_of_role_hall_or_username_changes_the_user_and_ends_its_tokens(
    server: Server, change: dict[str, Any]
) -> None:
    """docs/api.md: a change of the user's role, hall or username ends every token before it."""
    uid = _add_user(server, "v5")
    old = server.login("v5", "password1")
    if change.get("hall_id") == "second":
        change = {"hall_id": _hall(server, "H2")}
    r = server.client.patch(f"/api/v1/users/{uid}", json=change, headers=server.admin)
    assert r.status_code == 200, r.text
    for name, value in change.items():
        assert r.json()[name] == value
        assert server.client.get(f"/api/v1/users/{uid}", headers=server.admin).json()[name] == value
    assert _me(server, old) == 401
    name = change.get("username", "v5")
    assert _me(server, server.login(name, "password1")) == 200


def test_patch_checks_role_and_hall_like_creation(server: Server) -> None:
    uid = _add_user(server, "v6")  # a viewer of hall 1
    patch = server.client.patch
    bad = [
        ({"role": "city_admin"}, 422, "a city admin is not bound to a hall"),
        ({"role": "hall_admin", "hall_id": None}, 422, "a hall admin needs hall_id"),
        ({"role": "owner"}, 422, ""),
        ({"hall_id": 999}, 422, "hall 999 does not exist"),
        ({"username": "root"}, 409, "username 'root' is taken"),
        ({"username": "has space"}, 422, ""),
        ({"username": None}, 422, "username may not be null"),
        ({"rolle": "agent"}, 422, "rolle"),
    ]
    for body, status, detail in bad:
        r = patch(f"/api/v1/users/{uid}", json=body, headers=server.admin)
        assert r.status_code == status, (body, r.text)
        assert detail in r.text, (body, r.text)
    user = server.client.get(f"/api/v1/users/{uid}", headers=server.admin).json()
    assert user == {
        "id": uid,
        "username": "v6",
        "role": "viewer",
        "hall_id": 1,
        "department_id": None,
        "active": True,
        "halls": [],
    }
    # Both at once are consistent; the own username again is no conflict.
    r = patch(
        f"/api/v1/users/{uid}",
        json={"role": "city_admin", "hall_id": None, "username": "v6"},
        headers=server.admin,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["hall_id"]) == ("city_admin", None)
    # A hall admin may not change users at all (city admins only).
    ha = _add_user(server, "v7", role="hall_admin")
    r = patch(
        f"/api/v1/users/{ha}", json={"role": "viewer"}, headers=server.login("v7", "password1")
    )
    assert r.status_code == 403


def test_token_without_the_current_version_is_refused(server: Server) -> None:
    old = server.admin
    with server.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        session.execute(update(User).values(token_version=User.token_version + 1))
        session.commit()
    assert _me(server, old) == 401


# ---- throttling


@pytest.fixture
def strict(migrated_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(migrated_url, tmp_path).model_copy(
        update={"login_max_failures_per_user": 3, "login_max_failures_per_address": 5}
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_failed_logins_per_user_get_429_with_retry_after(strict: TestClient) -> None:
    for _ in range(3):
        assert _login(strict, ADMIN[0], "wrong").status_code == 401
    r = _login(strict, ADMIN[0], ADMIN[1])  # even the right password waits now
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) > 0
    assert "too many failed logins" in r.json()["detail"]


def test_failed_logins_per_address_get_429(strict: TestClient) -> None:
    for i in range(5):
        assert _login(strict, f"nobody{i}", "wrong").status_code == 401
    assert _login(strict, "someone-else", "wrong").status_code == 429


def test_success_clears_the_users_failures(strict: TestClient) -> None:
    for _ in range(2):
        assert _login(strict, ADMIN[0], "wrong").status_code == 401
    assert _login(strict, ADMIN[0], ADMIN[1]).status_code == 200
    for _ in range(2):
        assert _login(strict, ADMIN[0], "wrong").status_code == 401
    assert _login(strict, ADMIN[0], ADMIN[1]).status_code == 200


def test_throttle_window_slides() -> None:
    now = [1000.0]
    t = LoginThrottle(per_user=2, per_address=100, window_s=60, clock=lambda: now[0])
    t.failed("u", "a")
    now[0] += 30
    t.failed("u", "a")
    assert t.retry_after("u", "a") == 30  # the first failure leaves the window in 30 s
    now[0] += 30
    assert t.retry_after("u", "a") == 0
    assert t.retry_after("other", "a") == 0


# ---- the same hash work for unknown users


def test_unknown_users_cost_the_same_hash_work(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = auth.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", counting)
    assert _login(server.client, "no-such-user", "whatever").status_code == 401
    assert _login(server.client, ADMIN[0], "wrong-password").status_code == 401
    assert len(calls) == 2
    assert all(s.startswith("scrypt$") for s in calls)  # a real scrypt hash both times


# ---- bounded hash pool


def test_hash_pool_refuses_past_its_queue() -> None:
    release = threading.Event()

    async def scenario() -> list[bool]:
        pool = HashPool(workers=1, max_waiting=1)
        jobs = [asyncio.ensure_future(pool.run(release.wait, 10)) for _ in range(2)]
        await asyncio.sleep(0)
        assert pool.pending == 2
        with pytest.raises(PoolFull):
            await pool.run(release.wait, 10)
        release.set()
        done = await asyncio.gather(*jobs)
        assert pool.pending == 0
        pool.shutdown()
        return done

    assert asyncio.run(scenario()) == [True, True]


def test_login_burst_queues_and_health_stays_up(
    migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(migrated_url, tmp_path).model_copy(
        update={"password_hash_workers": 1, "password_hash_queue": 1}
    )
    app = create_app(settings)
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow_verify(password: str, stored: str) -> bool:
        started.release()
        release.wait(10)
        return False

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    statuses: list[int] = []
    with TestClient(app) as client:

        def attempt(i: int) -> None:
            statuses.append(_login(client, ADMIN[0], f"wrong{i}").status_code)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
        for th in threads:
            th.start()
        assert started.acquire(timeout=10)  # one login hashing, one queued behind it
        for _ in range(1000):
            if app.state.hash_pool.pending == 2:
                break
            threading.Event().wait(0.01)
        assert app.state.hash_pool.pending == 2
        r = _login(client, ADMIN[0], "one-too-many")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert client.get("/api/v1/health").status_code == 200
        release.set()
        for th in threads:
            th.join(10)
    app.state.engine.dispose()
    assert statuses == [401, 401]


def test_a_handler_needs_a_hall_and_may_be_bound_to_one_of_its_departments(server: Server) -> None:
    """docs/api.md "Admin resources": role handler, department_id only for handlers, in-hall."""
    post, patch = server.client.post, server.client.patch
    dept = post(
        "/api/v1/departments", json={"hall_id": 1, "code": "D-CASES"}, headers=server.admin
    ).json()["id"]
    body = {"username": "h1", "password": "password1", "role": "handler"}
    r = post("/api/v1/users", json=body, headers=server.admin)
    assert r.status_code == 422 and "a handler needs hall_id" in r.text
    r = post(
        "/api/v1/users", json={**body, "hall_id": 1, "department_id": 999}, headers=server.admin
    )
    assert r.status_code == 422 and "department 999 does not exist in this hall" in r.text
    r = post(
        "/api/v1/users", json={**body, "hall_id": 1, "department_id": dept}, headers=server.admin
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert r.json()["role"] == "handler" and r.json()["department_id"] == dept
    r = patch(
        f"/api/v1/users/{uid}", json={"role": "viewer", "department_id": dept}, headers=server.admin
    )
    assert r.status_code == 422 and "department_id is only for role handler" in r.text
    r = patch(f"/api/v1/users/{uid}", json={"role": "viewer"}, headers=server.admin)
    assert r.status_code == 200, (
        r.text
    )  # a user whose role stops being handler loses its department
    assert r.json()["department_id"] is None and r.json()["role"] == "viewer"
