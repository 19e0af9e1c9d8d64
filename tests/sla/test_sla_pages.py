"""The managers' SLA pages over HTTP: who may open them, the policy list in words, creating, editing
and deactivating a policy, the calendar editor and the change history — every form with its CSRF
token, refusals next to their fields with the input kept, and nothing written when refused."""

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from app import clock
from app.accounts.models import User, UserRole
from app.accounts.roles import ALL
from app.extensions import db
from app.sla import policies
from app.sla.models import SlaCalendar, SlaChange, SlaPolicy
from tests.engine import bpmn_factory as bf
from tests.support import csrf_token, login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OTHER_ROLES = [role for role in ALL if role not in ("manager", "admin")]
PAGES = ["/manager/sla/", "/manager/sla/policies/new/task", "/manager/sla/policies/new/exception",
         "/manager/sla/policies/{policy}/edit", "/manager/sla/policies/{policy}/deactivate", "/manager/sla/calendars",
         "/manager/sla/calendars/new", "/manager/sla/calendars/{calendar}/edit", "/manager/sla/history"]


def person(username: str, role: str) -> User:
    user = User(username=username, name=username.title(), role_rows=[UserRole(role=role)],
                password_hash=generate_password_hash("secret-pass", method="pbkdf2:sha256:1"))
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def world(ctx):
    """A deployed process with two user tasks, a ten-hour office calendar, a review policy, and a
    manager logged in."""
    clock.freeze(NOW)
    bf.deploy(bf.linear("sla_pages_p", bf.user("review_order", name="Review order"),
                        bf.user("pick_goods", name="Pick")))
    office = policies.create_calendar(name="Head office", zone="Europe/Berlin", by="setup",
                                      hours={d: [["08:00", "18:00"]] for d in range(5)}, holidays=["2026-12-25"])
    review = policies.create_policy(scope="task", key="review_order", resolution_minutes=240, calendar_id=office.id,
                                    by="setup")
    db.session.commit()
    person("mia", "manager")
    return {"calendar": office.id, "policy": review.id}


@pytest.fixture
def manager(client, world):
    login(client, "mia")
    return client


def text_of(html: str) -> str:
    """The words of the page's main part, spaced as one line."""
    main = html[html.index("<main>"):]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


def token(client, url: str = "/manager/sla/") -> str:
    return csrf_token(client.get(url).text)


def changes() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(SlaChange.id)))


# --- who may -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_staff_are_refused_every_page_and_action(client, world, role):
    person("someone", role)
    login(client, "someone")
    for page in PAGES:
        assert client.get(page.format(**world)).status_code == 403, page
    post_token = csrf_token(client.get("/account").text)
    before = changes()
    for page in PAGES[1:]:
        response = client.post(page.format(**world), data={"csrf_token": post_token, "key": "pick_goods",
                                                           "resolution": "1", "calendar": world["calendar"]})
        assert response.status_code in (403, 405), page
    assert changes() == before
    assert db.session.get(SlaPolicy, world["policy"]).active


def test_visitors_are_sent_to_log_in(client, world):
    response = client.get("/manager/sla/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_open_every_page(client, world, role):
    person("boss", role)
    login(client, "boss")
    for page in PAGES:
        assert client.get(page.format(**world)).status_code == 200, page


def test_unknown_things_are_not_found(manager, world):
    for page in ["/manager/sla/policies/new/order", "/manager/sla/policies/999/edit",
                 "/manager/sla/policies/999/deactivate", "/manager/sla/calendars/999/edit", "/manager/sla/nothing"]:
        assert manager.get(page).status_code == 404, page


# --- the list ----------------------------------------------------------------------------------------------


def test_the_list_shows_targets_in_words_by_scope(manager, world):
    always = policies.create_calendar(name="Around the clock", zone="UTC", by="setup",
                                      hours={d: [["00:00", "24:00"]] for d in range(7)})
    policies.create_policy(scope="task", key="pick_goods", resolution_minutes=20 * 60, response_minutes=90,
                           calendar_id=world["calendar"], by="setup")
    policies.create_policy(scope="exception", key="logistics", severity="critical", resolution_minutes=240,
                           at_risk_pct=50, calendar_id=always.id, by="setup")
    policies.create_policy(scope="task", key="*", resolution_minutes=45, calendar_id=world["calendar"], by="setup")
    db.session.commit()
    page = text_of(manager.get("/manager/sla/").text)
    assert "Review order review_order any severity 4 h business time, at risk at 75% Head office" in page
    assert ("Pick pick_goods any severity 20 h business time (2 working days), at risk at 75%; "
            "first response within 1 h 30 min Head office") in page
    assert "Any task * any severity 45 min business time, at risk at 75%" in page
    assert "Logistics (every type) logistics critical 4 h around the clock, at risk at 50% Around the clock" in page
    assert page.index("Tasks") < page.index("Review order") < page.index("Any task") < page.index("Exceptions") \
        < page.index("Logistics (every type)")
    assert "Changes apply to work that begins after them" in page


# --- creating ------------------------------------------------------------------------------------------------


def test_a_manager_creates_a_task_policy(manager, world):
    form = manager.get("/manager/sla/policies/new/task").text
    assert 'value="pick_goods"' in form and "Pick (pick_goods)" in unescape(form)
    response = manager.post("/manager/sla/policies/new/task", data={
        "csrf_token": csrf_token(form), "key": "pick_goods", "severity": "", "resolution": "1.5",
        "resolution_unit": "hours", "response": "30", "response_unit": "minutes", "at_risk_pct": "80",
        "calendar": str(world["calendar"])})
    assert response.status_code == 302
    created = db.session.scalars(select(SlaPolicy).where(SlaPolicy.key == "pick_goods")).one()
    assert (created.scope, created.resolution_minutes, created.response_minutes, created.at_risk_pct,
            created.calendar_id, created.updated_by) == ("task", 90, 30, 80, world["calendar"], "mia")
    assert response.headers["Location"].endswith(f"/manager/sla/#policy-{created.id}")
    audit = db.session.scalars(select(SlaChange).where(SlaChange.subject_ref == str(created.id))).one()
    assert (audit.by, audit.action) == ("mia", "created")
    page = text_of(manager.get("/manager/sla/").text)
    assert f"Policy {created.id} was created; it applies to work that begins from now on." in page
    assert "1 h 30 min business time, at risk at 80%; first response within 30 min" in page


def test_an_exception_policy_for_a_type_and_severity(manager, world):
    form = manager.get("/manager/sla/policies/new/exception").text
    assert 'value="lost"' in form and 'value="logistics"' in form and 'value="review_order"' not in form
    response = manager.post("/manager/sla/policies/new/exception", data={
        "csrf_token": csrf_token(form), "key": "lost", "severity": "high", "resolution": "8",
        "resolution_unit": "hours", "at_risk_pct": "", "calendar": str(world["calendar"])})
    assert response.status_code == 302
    created = db.session.scalars(select(SlaPolicy).where(SlaPolicy.scope == "exception")).one()
    assert (created.key, created.severity, created.resolution_minutes, created.response_minutes,
            created.at_risk_pct) == ("lost", "high", 480, None, 75)


def test_refusals_stand_next_to_their_fields_with_the_input_kept(manager, world):
    before = changes()
    response = manager.post("/manager/sla/policies/new/task", data={
        "csrf_token": token(manager), "key": "pick_goods", "resolution": "1e999", "resolution_unit": "hours",
        "response": "2,25", "response_unit": "minutes", "at_risk_pct": "150", "calendar": "abc"})
    assert response.status_code == 422
    html = response.text
    assert 'value="1e999"' in html and 'value="150"' in html and 'value="2,25"' in html
    assert '<option value="pick_goods" selected>' in html
    for field, message in [("resolution", "Enter a number, like 4 or 1.5."), ("response", "Give whole minutes."),
                           ("calendar", "Choose a business calendar.")]:
        assert f'<p class="field-error" id="err-{field}">{message}</p>' in html, field
    assert "Nothing was saved." in html
    assert changes() == before

    # the service's refusals come back the same way
    response = manager.post("/manager/sla/policies/new/task", data={
        "csrf_token": token(manager), "key": "review_order", "resolution": "2", "resolution_unit": "hours",
        "response": "3", "response_unit": "hours", "at_risk_pct": "150", "calendar": str(world["calendar"])})
    assert response.status_code == 422
    html = unescape(response.text)
    assert (f'<p class="field-error" id="err-key">Policy {world["policy"]} already covers this; '
            "change that one instead.</p>") in html
    assert '<p class="field-error" id="err-response">The response target cannot be longer' in html
    assert '<p class="field-error" id="err-at_risk_pct">At risk from 1 to 99 per cent' in html
    assert '<option value="review_order" selected>' in html and 'value="3"' in html
    assert changes() == before


@pytest.mark.parametrize("data", [
    {"resolution": "²", "at_risk_pct": "²", "calendar": "٣"},
    {"resolution": "9" * 40, "at_risk_pct": "9" * 40, "calendar": "9" * 40, "response": "9" * 40},
    {"resolution": "4", "resolution_unit": "days", "key": "x" * 500, "severity": "<b>"},
    {},
])
def test_odd_input_is_a_form_error_never_a_failure(manager, world, data):
    before = changes()
    response = manager.post("/manager/sla/policies/new/task", data={"csrf_token": token(manager), **data})
    assert response.status_code == 422
    assert "Nothing was saved." in response.text
    assert changes() == before


def test_a_form_without_its_csrf_token_changes_nothing(manager, world):
    before = changes()
    for url, data in [("/manager/sla/policies/new/task", {"key": "pick_goods", "resolution": "1",
                                                          "calendar": world["calendar"]}),
                      (f"/manager/sla/policies/{world['policy']}/edit", {"key": "review_order", "resolution": "9",
                                                                          "calendar": world["calendar"]}),
                      (f"/manager/sla/policies/{world['policy']}/deactivate", {}),
                      ("/manager/sla/calendars/new", {"name": "X", "zone": "UTC", "day_0": "08:00-09:00"}),
                      (f"/manager/sla/calendars/{world['calendar']}/edit", {"name": "Y", "zone": "UTC",
                                                                            "day_0": "08:00-09:00"})]:
        assert manager.post(url, data=data).status_code == 400, url
    assert changes() == before
    assert db.session.get(SlaPolicy, world["policy"]).active


# --- editing and deactivating ---------------------------------------------------------------------------


def test_a_manager_edits_a_policy(manager, world):
    form = manager.get(f"/manager/sla/policies/{world['policy']}/edit").text
    assert 'id="resolution" name="resolution" inputmode="decimal" size="8" value="4"' in form
    assert '<option value="review_order" selected>' in form
    clock.freeze(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    data = {"csrf_token": csrf_token(form), "key": "review_order", "severity": "", "resolution": "6",
            "resolution_unit": "hours", "response": "", "at_risk_pct": "75", "calendar": str(world["calendar"])}
    response = manager.post(f"/manager/sla/policies/{world['policy']}/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(SlaPolicy, world["policy"]).resolution_minutes == 360
    audit = db.session.scalars(select(SlaChange).where(SlaChange.action == "changed")).one()
    assert (audit.by, audit.before, audit.after) == ("mia", {"resolution_minutes": 240}, {"resolution_minutes": 360})
    assert "was changed; it applies to work that begins from now on" in manager.get("/manager/sla/").text
    # the same values again: nothing to record
    assert manager.post(f"/manager/sla/policies/{world['policy']}/edit", data=data).status_code == 302
    assert "Nothing was changed." in manager.get("/manager/sla/").text
    assert changes() == 3  # calendar and policy created, one change


def test_deactivating_asks_first(manager, world):
    page = manager.get(f"/manager/sla/policies/{world['policy']}/deactivate")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Deactivate policy" in text and "4 h business time" in text and "Tasks already running keep" in text
    assert db.session.get(SlaPolicy, world["policy"]).active  # opening the page changed nothing
    response = manager.post(f"/manager/sla/policies/{world['policy']}/deactivate",
                            data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(SlaPolicy, world["policy"]).active
    listing = text_of(manager.get("/manager/sla/").text)
    assert "1 deactivated policy" in listing and "No active policy yet: every task is due 24 h" in listing
    # a deactivated policy can be neither edited nor deactivated again
    assert manager.get(f"/manager/sla/policies/{world['policy']}/edit").status_code == 409
    again = manager.post(f"/manager/sla/policies/{world['policy']}/deactivate", data={"csrf_token": token(manager)})
    assert again.status_code == 409 and "is deactivated; create a new one instead" in again.text
    assert changes() == 3


# --- calendars -----------------------------------------------------------------------------------------------


def test_a_manager_creates_a_calendar(manager, world):
    form = manager.get("/manager/sla/calendars/new").text
    assert "<option selected>UTC</option>" in form and "<option>Asia/Shanghai</option>" in form
    response = manager.post("/manager/sla/calendars/new", data={
        "csrf_token": csrf_token(form), "name": "Shanghai warehouse", "zone": "Asia/Shanghai",
        "day_0": "8:00-12:00, 13:00–17:00", "day_1": "08:00-12:00;13:00-17:00", "day_2": "08:00-12:00, 13:00-17:00",
        "day_3": "08:00-12:00, 13:00-17:00", "day_4": "08:00-12:00, 13:00-17:00", "day_5": "09:00-12:00",
        "day_6": "", "holidays": "2026-10-01\n\n 2026-10-02 \n2026-10-01"})
    assert response.status_code == 302
    created = db.session.scalars(select(SlaCalendar).where(SlaCalendar.name == "Shanghai warehouse")).one()
    assert created.hours == {**{str(d): [["08:00", "12:00"], ["13:00", "17:00"]] for d in range(5)},
                             "5": [["09:00", "12:00"]]}
    assert created.holidays == ["2026-10-01", "2026-10-02"]
    listing = text_of(manager.get("/manager/sla/calendars").text)
    assert "Shanghai warehouse Asia/Shanghai Mon–Fri 08:00–12:00, 13:00–17:00; Sat 09:00–12:00 2 0" in listing
    assert "Head office Europe/Berlin Mon–Fri 08:00–18:00 1 1" in listing


def test_calendar_refusals_stand_next_to_their_fields(manager, world):
    before = changes()
    response = manager.post("/manager/sla/calendars/new", data={
        "csrf_token": token(manager), "name": "head office", "zone": "Atlantis/Capital", "day_0": "8-12",
        "day_1": "14:00-09:00", "day_2": "08:00-12:00, 11:00-13:00", "holidays": "2026-12-25\nChristmas"})
    assert response.status_code == 422
    html = unescape(response.text)
    for field, message in [
            ("name", "Another calendar is called 'Head office'."),
            ("day_0", "Write each interval as 08:00-12:00, separated by commas."),
    ]:
        assert f'<p class="field-error" id="err-{field}">{message}</p>' in html, field
    assert 'value="8-12"' in html and 'value="head office"' in html and "2026-12-25\nChristmas</textarea>" in html
    # the form's own check stops first; with the intervals well written the service's checks speak
    response = manager.post("/manager/sla/calendars/new", data={
        "csrf_token": token(manager), "name": "head office", "zone": "Atlantis/Capital", "day_0": "08:00-12:00",
        "day_1": "14:00-09:00", "day_2": "08:00-12:00, 11:00-13:00", "holidays": "2026-12-25\nChristmas"})
    assert response.status_code == 422
    html = unescape(response.text)
    for field, message in [
            ("name", "Another calendar is called 'Head office'."),
            ("zone", "'Atlantis/Capital' is not a time zone; choose one like Europe/Berlin."),
            ("day_1", "14:00-09:00 ends before it starts."),
            ("day_2", "08:00-12:00 and 11:00-13:00 overlap."),
            ("holidays", "'Christmas' is not a date YYYY-MM-DD."),
    ]:
        assert f'<p class="field-error" id="err-{field}">{message}</p>' in html, field
    assert '<option value="Atlantis/Capital" selected>Atlantis/Capital</option>' in html
    response = manager.post("/manager/sla/calendars/new", data={
        "csrf_token": token(manager), "name": "Nothing", "zone": "UTC"})
    assert response.status_code == 422
    assert '<p class="field-error" id="err-hours">Give working hours for at least one weekday.</p>' in response.text
    assert changes() == before


@pytest.mark.parametrize("data", [
    {"name": "X", "zone": "UTC", "day_0": "²:00-12:00"},
    {"name": "X" * 300, "zone": "U" * 300, "day_0": "1" * 300, "holidays": "2026-13-01"},
    {"name": "X", "zone": "UTC", "day_0": "08:00-12:00", "holidays": "2026-01-01\n" * 3000},
    {},
])
def test_odd_calendar_input_is_a_form_error_never_a_failure(manager, world, data):
    before = changes()
    response = manager.post("/manager/sla/calendars/new", data={"csrf_token": token(manager), **data})
    assert response.status_code == 422 and "Nothing was saved." in response.text
    assert changes() == before


def test_a_manager_reading_chinese_sees_the_weekdays_in_chinese(manager, world):
    db.session.scalars(select(User).where(User.username == "mia")).one().locale = "zh"
    db.session.commit()
    assert "周一" in manager.get("/manager/sla/calendars").text
    assert "星期一" in manager.get(f"/manager/sla/calendars/{world['calendar']}/edit").text
    assert manager.get("/manager/sla/").status_code == 200


def test_a_manager_edits_a_calendar(manager, world):
    form = manager.get(f"/manager/sla/calendars/{world['calendar']}/edit").text
    assert 'id="day_0" name="day_0" maxlength="200" value="08:00-18:00"' in form
    assert 'id="day_6" name="day_6" maxlength="200" value=""' in form
    assert "<option selected>Europe/Berlin</option>" in form and "2026-12-25</textarea>" in form
    data = {"csrf_token": csrf_token(form), "name": "Head office", "zone": "Europe/Berlin",
            **{f"day_{d}": "08:00-18:00" for d in range(5)}, "day_5": "10:00-24:00", "holidays": "2026-12-25"}
    assert manager.post(f"/manager/sla/calendars/{world['calendar']}/edit", data=data).status_code == 302
    db.session.expire_all()
    row = db.session.get(SlaCalendar, world["calendar"])
    assert row.hours["5"] == [["10:00", "00:00"]]
    audit = db.session.scalars(select(SlaChange).where(SlaChange.action == "changed")).one()
    assert (audit.subject, audit.by, list(audit.before), list(audit.after)) == ("calendar", "mia", ["hours"],
                                                                              ["hours"])
    edited = manager.get(f"/manager/sla/calendars/{world['calendar']}/edit").text
    assert 'id="day_5" name="day_5" maxlength="200" value="10:00-24:00"' in edited


# --- history -------------------------------------------------------------------------------------------------


def test_the_history_shows_who_changed_what_newest_first(manager, world):
    clock.freeze(datetime(2026, 3, 5, 14, 30, tzinfo=UTC))
    policies.update_policy(world["policy"], scope="task", key="review_order", resolution_minutes=480,
                           response_minutes=60, calendar_id=world["calendar"], by="otto")
    clock.freeze(datetime(2026, 3, 6, 8, 0, tzinfo=UTC))
    policies.deactivate_policy(world["policy"], by="mia")
    db.session.commit()
    page = text_of(manager.get("/manager/sla/history").text)
    deactivated = page.index("2026-03-06 08:00 UTC mia Policy")
    changed = page.index("2026-03-05 14:30 UTC otto Policy")
    created = page.index("2026-03-02 09:00 UTC setup Policy")
    assert deactivated < changed < created
    assert "Review order, any severity deactivated Active yes → no" in page
    assert "changed First response — → 1 h Resolution 4 h → 8 h" in page
    assert ("created Scope Task For Review order (review_order) Severity any severity First response — "
            "Resolution 4 h At risk at 75% Calendar Head office") in page
    assert "2026-03-02 09:00 UTC setup Calendar Head office created" in page
    assert "Working hours Mon–Fri 08:00–18:00 Holidays 2026-12-25" in page


def test_the_history_is_paged(manager, world):
    for minutes in range(61, 61 + 60):
        policies.update_policy(world["policy"], scope="task", key="review_order", resolution_minutes=minutes,
                               calendar_id=world["calendar"], by="mia")
    db.session.commit()
    first = manager.get("/manager/sla/history")
    assert first.text.count('<tr id="change-') == 50 and "Page 1 of 2" in first.text
    second = manager.get("/manager/sla/history?page=2")
    assert second.text.count('<tr id="change-') == 12
    assert manager.get("/manager/sla/history?page=9").status_code == 200
    assert manager.get("/manager/sla/history?page=abc").status_code == 200
