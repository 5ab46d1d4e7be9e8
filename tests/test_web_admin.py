"""The admin's accounts page (/users) through httpx's ASGI transport over a real SQLite store,
and ``news-monitor users role``: viewers and editors refused, an admin adds, re-roles, resets,
revokes and removes, the only admin cannot lock everyone out, forms without CSRF refused,
a hostile address shown as text, each change logged with who made it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.store import users
from monitor.store.models import UserRole
from tests.test_web_support import (  # noqa: F401  (fixtures)
    Client,
    World,
    add_user,
    client,
    editor,
    make_token,
    viewer,
    world,
)

ADMIN = "chief@example.org"


@pytest.fixture
def admin(world: World) -> Iterator[Client]:
    add_user(world.app, ADMIN, UserRole.ADMIN)
    c = Client(world.web)
    assert c.login(ADMIN).status_code == 303
    yield c
    c.close()


def _accounts(world: World) -> dict[str, users.UserRecord]:
    with world.app.sessions() as session:
        return {u.email: u for u in users.list_users(session)}


def _post(c: Client, url: str, **data: str) -> tuple[int, str]:
    response = c.post(url, data={"csrf": c.csrf("/users"), **data})
    return response.status_code, response.text


def test_viewer_and_editor_are_refused_and_see_no_users_link(
    world: World, viewer: Client, editor: Client
) -> None:
    for c in (viewer, editor):
        page = c.get("/users")
        assert page.status_code == 403
        assert "Not allowed" in page.text and "this needs the admin role" in page.text
        assert 'href="/users"' not in c.get("/matches").text
        token = c.csrf("/account")
        refused = c.post(
            "/users/add", data={"csrf": token, "email": "x@example.org", "role": "admin"}
        )
        assert refused.status_code == 403
    assert "x@example.org" not in _accounts(world)


def test_the_page_needs_a_login(client: Client) -> None:
    response = client.get("/users")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_admin_sees_every_account_and_the_link(world: World, admin: Client) -> None:
    make_token(world.app, "viewer@example.org")
    page = admin.get("/users")
    assert page.status_code == 200
    assert '<a href="/users" aria-current="page">Users</a>' in page.text
    for email in ("viewer@example.org", "editor@example.org", ADMIN):
        assert email in page.text
    viewer_row = re.search(r"<tr>\s*<td>viewer@example\.org.*?</tr>", page.text, re.S)
    assert viewer_row is not None
    assert '<option value="viewer" selected>' in viewer_row.group(0)
    assert "Revoke" in viewer_row.group(0)  # one active token
    admin_row = re.search(r"<tr>\s*<td>chief@example\.org \(you\).*?</tr>", page.text, re.S)
    assert admin_row is not None and "UTC" in admin_row.group(0).split("</td>")[3]  # last login


def test_admin_adds_with_a_generated_password_shown_once(
    world: World, admin: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="monitor.web.admin"):
        status, text = _post(admin, "/users/add", email="New.Reader@example.org", role="viewer")
    assert status == 200 and "Added new.reader@example.org (viewer)." in text
    found = re.search(r'<code class="secret">([^<]+)</code>', text)
    assert found is not None
    assert _accounts(world)["new.reader@example.org"].role is UserRole.VIEWER
    newcomer = Client(world.web)
    try:
        assert newcomer.login("new.reader@example.org", found.group(1)).status_code == 303
    finally:
        newcomer.close()
    assert found.group(1) not in admin.get("/users").text  # only once
    assert any(
        r.getMessage() == f"user_added by={ADMIN} email=new.reader@example.org role=viewer"
        for r in caplog.records
    )


def test_admin_adds_with_a_typed_password_and_refusals_are_clear(
    world: World, admin: Client
) -> None:
    status, text = _post(
        admin, "/users/add", email="desk@example.org", role="editor", password="typed by chief"
    )
    assert status == 200 and 'class="secret"' not in text
    desk = Client(world.web)
    try:
        assert desk.login("desk@example.org", "typed by chief").status_code == 303
    finally:
        desk.close()
    status, text = _post(admin, "/users/add", email="desk@example.org", role="viewer")
    assert status == 400 and "desk@example.org already has an account" in text
    status, text = _post(
        admin, "/users/add", email="s@example.org", role="viewer", password="short"
    )
    assert status == 400 and "at least 10 characters" in text
    assert "s@example.org" not in _accounts(world)


def test_admin_changes_a_role(
    world: World, admin: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="monitor.web.admin"):
        status, text = _post(admin, "/users/role", email="viewer@example.org", role="editor")
    assert status == 200 and "viewer@example.org is now editor (was viewer)." in text
    assert _accounts(world)["viewer@example.org"].role is UserRole.EDITOR
    assert any(
        "user_role_changed" in r.getMessage() and f"by={ADMIN}" in r.getMessage()
        for r in caplog.records
    )


def test_admin_resets_a_password_and_its_sessions_end(world: World, admin: Client) -> None:
    other = Client(world.web)
    try:
        assert other.login("viewer@example.org").status_code == 303
        status, text = _post(admin, "/users/password", email="viewer@example.org")
        assert status == 200 and "its sessions ended" in text
        found = re.search(r'<code class="secret">([^<]+)</code>', text)
        assert found is not None
        assert other.get("/matches").status_code == 303  # logged out
        assert other.login("viewer@example.org").status_code != 303  # old password refused
        assert other.login("viewer@example.org", found.group(1)).status_code == 303
    finally:
        other.close()


def test_admin_revokes_tokens(world: World, admin: Client) -> None:
    token = make_token(world.app, "editor@example.org")
    assert admin.get(f"/api/v1/matches?token={token}").status_code == 200
    status, text = _post(admin, "/users/tokens/revoke", email="editor@example.org")
    assert status == 200 and "Revoked 1 token of editor@example.org." in text
    reader = Client(world.web)
    try:
        assert reader.get(f"/api/v1/matches?token={token}").status_code == 401
    finally:
        reader.close()
    assert _accounts(world)["editor@example.org"].active_tokens == 0


def test_admin_removes_after_confirming(
    world: World, admin: Client, caplog: pytest.LogCaptureFixture
) -> None:
    status, text = _post(admin, "/users/remove", email="editor@example.org")
    assert status == 200 and "Remove editor@example.org?" in text
    assert "editor@example.org" in _accounts(world)  # not yet
    with caplog.at_level(logging.INFO, logger="monitor.web.admin"):
        status, text = _post(admin, "/users/remove", email="editor@example.org", confirm="yes")
    assert status == 200 and "Removed editor@example.org" in text
    assert "editor@example.org" not in _accounts(world)
    assert any(
        r.getMessage() == f"user_removed by={ADMIN} email=editor@example.org role=editor"
        for r in caplog.records
    )


def test_the_only_admin_cannot_lock_everyone_out(world: World, admin: Client) -> None:
    status, text = _post(admin, "/users/role", email=ADMIN, role="editor")
    assert status == 409 and "is the only admin and cannot be made editor" in text
    status, text = _post(admin, "/users/remove", email=ADMIN, confirm="yes")
    assert status == 409 and "is the only admin and cannot be removed" in text
    assert _accounts(world)[ADMIN].role is UserRole.ADMIN
    # with a second admin, the first may step down
    assert _post(admin, "/users/role", email="editor@example.org", role="admin")[0] == 200
    status, text = _post(admin, "/users/role", email=ADMIN, role="viewer")
    assert status == 200 and f"{ADMIN} is now viewer" in text
    assert admin.get("/users").status_code == 403


def test_forms_without_the_csrf_token_are_refused(world: World, admin: Client) -> None:
    for url, data in [
        ("/users/add", {"email": "x@example.org", "role": "admin"}),
        ("/users/role", {"email": "viewer@example.org", "role": "admin"}),
        ("/users/password", {"email": "viewer@example.org"}),
        ("/users/tokens/revoke", {"email": "viewer@example.org"}),
        ("/users/remove", {"email": "viewer@example.org", "confirm": "yes"}),
    ]:
        for token in (None, "forged"):
            sent = data if token is None else {**data, "csrf": token}
            response = admin.post(url, data=sent)
            assert response.status_code == 403, url
            assert "CSRF token is missing or wrong" in response.text
    accounts = _accounts(world)
    assert "x@example.org" not in accounts
    assert accounts["viewer@example.org"].role is UserRole.VIEWER


def test_a_hostile_address_is_shown_as_text(world: World, admin: Client) -> None:
    hostile = '"><script>alert(1)</script>@evil.example'
    add_user(world.app, hostile, UserRole.VIEWER)
    page = admin.get("/users").text
    assert "<script>alert(1)</script>" not in page
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@evil.example" in page
    status, text = _post(admin, "/users/remove", email=hostile)
    assert status == 200 and "<script>alert" not in text


def test_cli_role_changes_and_refuses_the_last_admin(world: World) -> None:
    runner = CliRunner()
    env = {
        "MONITOR_DATABASE_URL": str(world.app.settings.database_url),
        "MONITOR_WATCHLISTS_DIR": str(world.app.settings.watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(world.app.settings.outbox_dir),
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
    }
    done = runner.invoke(cli, ["users", "role", "viewer@example.org", "admin"], env=env)
    assert done.exit_code == 0 and done.output == "viewer@example.org is now admin.\n"
    done = runner.invoke(cli, ["users", "role", "viewer@example.org", "viewer"], env=env)
    assert done.exit_code != 0
    assert "viewer@example.org is the only admin and cannot be made viewer" in done.output
    assert "Traceback" not in done.output
    done = runner.invoke(cli, ["users", "remove", "viewer@example.org"], env=env)
    assert done.exit_code != 0 and "cannot be removed" in done.output
    assert _accounts(world)["viewer@example.org"].role is UserRole.ADMIN
    listed = runner.invoke(cli, ["users", "list", "--json"], env=env)
    assert listed.exit_code == 0 and '"last_login": null' in listed.output


def test_resetting_your_own_password_logs_you_out(world: World, admin: Client) -> None:
    token = admin.csrf("/users")
    response = admin.post(
        "/users/password", data={"csrf": token, "email": ADMIN, "password": "a fresh secret"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert admin.get("/users").status_code == 303  # the session ended
    assert admin.login(ADMIN, "a fresh secret").status_code == 303
