"""The staff inbox: queues, filters, order and pages over human_task; claim, release and reassign; the
task page and its form; who may do what, for every role and every inbox page and action."""

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import event, func, select
from werkzeug.security import generate_password_hash

from app import clock, create_app
from app.accounts.models import User, UserRole
from app.accounts.roles import ALL, LANE_ROLES
from app.accounts.service import find_by_username
from app.extensions import db
from app.workflow import Conflict, Forbidden, NotFound, inbox, runtime
from app.workflow.models import HumanTask, InstanceEvent, ProcessInstance
from tests.support import HAPPY_PATH, csrf_token, login

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INBOX_USERS = [role for role in ALL if role in LANE_ROLES or role == "admin"]
# What each task on the happy path of workflows/order_process.bpmn needs, typed and as a browser posts it.
DATA = dict(HAPPY_PATH)
VALID = {element_id: {name: "true" if value is True else str(value) for name, value in data.items()}
         for element_id, data in HAPPY_PATH}


# --- helpers ------------------------------------------------------------------------------------------


def open_task(instance_id: int) -> HumanTask:
    return db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state.in_(("open", "claimed")))
    ).one()


def start_order(make_order, steps: int = 0) -> HumanTask:
    """An order process pushed `steps` tasks along the happy path; its open task."""
    order = make_order()
    instance = runtime.start("order_process", order.number, {"order_number": order.number}, actor="tester")
    for element_id, data in HAPPY_PATH[:steps]:
        task = open_task(instance.id)
        assert task.element_id == element_id
        runtime.complete_task(instance.id, task.spiff_task_id, data, actor="tester")
    return open_task(instance.id)


ROLE_OF = {**{role: role for role in ALL}, "picker": "warehouse", "packer": "warehouse"}


def user(username: str) -> User:
    """The person of that name: one per role, named after it, and two more warehouse clerks. Made on
    first use, with a cheap password hash: these tests are about the inbox, and most need two or three
    people, not twelve slow hashes."""
    found = find_by_username(username)
    if found is None:
        found = User(username=username, name=username.title(), role_rows=[UserRole(role=ROLE_OF[username])],
                     password_hash=generate_password_hash("secret-pass", method="pbkdf2:sha256:1"))
        db.session.add(found)
        db.session.commit()
    return found


def sign_in(client, username: str) -> None:
    user(username)
    if client.get("/login").status_code == 302:  # someone is logged in: log them out first
        assert client.post("/logout", data={"csrf_token": token(client)}).status_code == 302
    login(client, username)


def fresh(task_id: int) -> HumanTask:
    db.session.expire_all()
    return db.session.get(HumanTask, task_id)


def snapshot(task: HumanTask) -> tuple:
    """Everything an inbox action or a completion could change about a task and its instance."""
    db.session.expire_all()
    row = db.session.get(HumanTask, task.id)
    instance = db.session.get(ProcessInstance, task.instance_id)
    events = db.session.scalar(select(func.count()).select_from(InstanceEvent)
                               .where(InstanceEvent.instance_id == task.instance_id))
    tasks = db.session.scalar(select(func.count()).select_from(HumanTask)
                              .where(HumanTask.instance_id == task.instance_id))
    return (row.state, row.assignee_id, row.completed_by, instance.lock_version, instance.status, events, tasks)


def events(task: HumanTask, kind: str) -> list[InstanceEvent]:
    """The task's audit events of a kind."""
    db.session.expire_all()
    return list(db.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == task.instance_id, InstanceEvent.spiff_task_id == task.spiff_task_id,
        InstanceEvent.kind == kind).order_by(InstanceEvent.id)))


def token(client) -> str:
    # The processes overview is open to every role and carries the log-out form's token.
    return csrf_token(client.get("/processes").text)


def add_task(parent: HumanTask, *, role=None, element_id=None, title=None, due=None, risk=None, created=None,
             key=None, state="open", assignee=None) -> HumanTask:
    """A synthetic inbox row (the inbox reads only human_task), hung on a real instance; by default a
    task of the same kind as the parent."""
    task = HumanTask(
        instance_id=parent.instance_id, spiff_task_id=str(uuid.uuid4()), element_id=element_id or parent.element_id,
        business_key=key or parent.business_key, title=title or parent.title, form_key=None,
        role=role or parent.role, state=state,
        assignee_id=assignee, due_at=due, at_risk_at=risk, created_at=created or clock.now(),
    )
    db.session.add(task)
    db.session.commit()
    return task


def listed(username: str, queue: str, filters=inbox.Filters(), page: int = 1) -> list[int]:
    return [row.task.id for row in inbox.list_tasks(user(username), queue, filters, page).rows]


def task_ids_on_page(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-task="(\d+)"', html)]


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def lanes(deployed, make_order) -> dict[str, HumanTask]:
    """An open task in three lanes of the order process, by role: review, pack (a number and a note)
    and check (a box that may be left unticked: the goods don't match)."""
    tasks = {task.role: task for task in (start_order(make_order, steps) for steps in (0, 2, 3))}
    assert {role: t.element_id for role, t in tasks.items()} == {
        "order_desk": "review_order", "warehouse": "pack_goods", "logistics": "check_goods"}
    return tasks


# --- queues and counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL)
def test_queues_per_role(ctx, role):
    expected = {"manager": ["mine", "team", "all"], "admin": ["mine", "all"], "process_owner": []}
    assert inbox.queues_for(user(role)) == expected.get(role, ["mine", "team"])


def test_counts_and_queues_hold_the_right_tasks(lanes):
    pick = lanes["warehouse"]
    inbox.claim(pick.id, user("picker"))
    db.session.commit()
    other = add_task(pick, role="logistics", element_id="arrange_shipment", title="Arrange shipment")
    assert inbox.counts(user("picker")) == {"mine": 1, "team": 1}
    assert inbox.counts(user("packer")) == {"mine": 0, "team": 1}
    assert inbox.counts(user("logistics")) == {"mine": 0, "team": 2}
    assert inbox.counts(user("manager")) == {"mine": 0, "team": 0, "all": 4}
    assert inbox.counts(user("admin")) == {"mine": 0, "all": 4}
    assert listed("picker", "mine") == [pick.id]
    assert listed("packer", "mine") == []
    assert listed("packer", "team") == [pick.id]  # claimed tasks stay in the team's queue
    assert sorted(listed("logistics", "team")) == sorted([lanes["logistics"].id, other.id])
    assert sorted(listed("admin", "all")) == sorted([t.id for t in lanes.values()] + [other.id])
    # Completed and withdrawn tasks are in no queue.
    add_task(pick, state="completed")
    add_task(pick, state="cancelled")
    assert inbox.counts(user("packer")) == {"mine": 0, "team": 1}


def test_a_queue_that_is_not_yours_is_refused(lanes):
    with pytest.raises(Forbidden):
        inbox.list_tasks(user("picker"), "all")
    with pytest.raises(Forbidden):
        inbox.list_tasks(user("admin"), "team")
    with pytest.raises(NotFound):
        inbox.list_tasks(user("picker"), "everything")


def test_inbox_page_shows_tabs_with_counts_and_the_team_queue(client, lanes):
    inbox.claim(lanes["warehouse"].id, user("picker"))
    db.session.commit()
    sign_in(client, "packer")
    page = client.get("/inbox")  # nothing of their own: the team's queue
    assert page.status_code == 200
    assert re.search(r'aria-current="page">\s*My team <span class="badge" data-queue="team">1</span>', page.text)
    assert '<span class="badge" data-queue="mine">0</span>' in page.text
    assert 'data-queue="all"' not in page.text
    assert task_ids_on_page(page.text) == [lanes["warehouse"].id]
    assert lanes["order_desk"].business_key not in page.text
    assert "Picker" in page.text  # who holds it


def test_default_queue_is_mine_when_you_hold_tasks(client, lanes):
    inbox.claim(lanes["warehouse"].id, user("picker"))
    db.session.commit()
    sign_in(client, "picker")
    page = client.get("/inbox")
    assert re.search(r'aria-current="page">\s*Mine', page.text)
    assert task_ids_on_page(page.text) == [lanes["warehouse"].id]
    assert "<strong>you</strong>" in page.text


def test_empty_states(client, lanes):
    sign_in(client, "production")
    page = client.get("/inbox?queue=team")
    assert "Nothing waiting for your team" in page.text and task_ids_on_page(page.text) == []
    page = client.get("/inbox?queue=mine")
    assert "Nothing assigned to you" in page.text
    sign_in(client, "warehouse")
    page = client.get("/inbox?queue=team&q=NO-SUCH-ORDER")
    assert "No task matches these filters" in page.text and "Nothing waiting" not in page.text


# --- filters, due states, order, pages ----------------------------------------------------------------


@pytest.fixture
def due_mix(lanes):
    """Warehouse tasks in every due state, on a frozen clock."""
    clock.freeze(T0)
    pick = lanes["warehouse"]
    hour = timedelta(hours=1)
    return {
        "overdue": add_task(pick, due=T0 - hour, risk=T0 - 2 * hour, key="SO-A-100"),
        "overdue_now": add_task(pick, due=T0, key="SO-A-101"),
        "at_risk": add_task(pick, due=T0 + hour, risk=T0 - timedelta(minutes=10), key="SO-B-200"),
        "at_risk_no_due": add_task(pick, risk=T0 - timedelta(minutes=1), key="SO-B-201"),
        "on_time": add_task(pick, due=T0 + 5 * hour, risk=T0 + 4 * hour, key="so-c-300"),
        "on_time_no_risk": add_task(pick, due=T0 + 2 * hour, key="SO-C-301"),
        "no_deadline": add_task(pick, key="SO-D-400"),
        "no_deadline_later_risk": add_task(pick, risk=T0 + hour, key="SO_D_401"),
        "other_type": add_task(pick, element_id="count_stock", title="Count stock", due=T0 + 3 * hour,
                               key="SO-E-500"),
        "lane_task": pick,  # the real pick task: its SLA clock (no policy) makes it due a day after it opened
    }


@pytest.mark.parametrize(("due", "expected"), [
    ("overdue", {"overdue", "overdue_now"}),
    ("at_risk", {"at_risk", "at_risk_no_due"}),
    ("on_time", {"on_time", "on_time_no_risk", "other_type", "lane_task"}),
    ("no_deadline", {"no_deadline", "no_deadline_later_risk"}),
])
def test_due_filter(due_mix, due, expected):
    found = set(listed("picker", "team", inbox.Filters(due=due)))
    assert found == {due_mix[name].id for name in expected}
    for name in expected:
        assert inbox.due_state(due_mix[name]) == due


def test_due_states_partition_the_queue(due_mix):
    every = set(listed("picker", "team"))
    parts = [set(listed("picker", "team", inbox.Filters(due=due))) for due in inbox.DUE_STATES]
    assert sum(len(p) for p in parts) == len(every) == len(due_mix)
    assert set().union(*parts) == every


def test_type_and_search_filters(due_mix):
    assert listed("picker", "team", inbox.Filters(task_type="count_stock")) == [due_mix["other_type"].id]
    pack = due_mix["lane_task"]
    assert inbox.task_types(user("picker"), "team") == [("count_stock", "Count stock"), (pack.element_id, pack.title)]
    # Part of a business key, either case.
    assert set(listed("picker", "team", inbox.Filters(search="c-30"))) == {
        due_mix["on_time"].id, due_mix["on_time_no_risk"].id}
    # LIKE's wildcards are searched for as they are.
    assert listed("picker", "team", inbox.Filters(search="_D_")) == [due_mix["no_deadline_later_risk"].id]
    assert listed("picker", "team", inbox.Filters(search="%")) == []
    both = inbox.Filters(task_type=pack.element_id, search="SO-B", due="at_risk")
    assert set(listed("picker", "team", both)) == {due_mix["at_risk"].id, due_mix["at_risk_no_due"].id}


def test_filters_from_untrusted_input():
    filters = inbox.Filters.parse("  pack_goods ", "x" * 500, "soon")
    assert (filters.task_type, len(filters.search), filters.due) == ("pack_goods", inbox.SEARCH_MAX, "")
    assert not inbox.Filters.parse(None, "  ", None).active


def test_filter_form_works_without_javascript(client, due_mix):
    sign_in(client, "picker")
    kind = due_mix["lane_task"].element_id
    page = client.get(f"/inbox?queue=team&type={kind}&due=overdue&q=SO-A")
    assert page.status_code == 200
    assert task_ids_on_page(page.text) == [due_mix["overdue"].id, due_mix["overdue_now"].id]
    assert '<option value="overdue" selected>' in page.text
    assert f'<option value="{kind}" selected>' in page.text and 'value="SO-A"' in page.text
    assert "2 tasks match" in page.text


def test_due_state_is_shown_in_colour_and_words(client, due_mix):
    sign_in(client, "picker")
    page = client.get("/inbox?queue=team").text
    assert '<span class="due overdue" title="2026-03-02 08:00 UTC">Overdue by 1 h</span>' in page
    assert '<span class="due at_risk" title="2026-03-02 10:00 UTC">At risk · due in 1 h</span>' in page
    assert '<span class="due at_risk">At risk</span>' in page
    assert '<span class="due on_time" title="2026-03-02 14:00 UTC">Due in 5 h</span>' in page
    assert '<span class="due no_deadline">No deadline</span>' in page


def test_order_is_due_first_no_deadline_last_then_oldest(lanes):
    clock.freeze(T0)
    pick = lanes["warehouse"]
    for row in db.session.scalars(select(HumanTask)):  # only synthetic rows, with known times
        row.state = "cancelled"
    db.session.commit()
    h = timedelta(hours=1)
    made = [
        add_task(pick, due=None, created=T0 - 5 * h),  # 0
        add_task(pick, due=T0 + 3 * h, created=T0 - h),  # 1
        add_task(pick, due=T0 - 2 * h, created=T0),  # 2
        add_task(pick, due=T0 + 3 * h, created=T0 - 2 * h),  # 3: same due as 1, older
        add_task(pick, due=None, created=T0 - 9 * h),  # 4
        add_task(pick, due=T0 + 3 * h, created=T0 - 2 * h),  # 5: same as 3, made later
    ]
    expected = [made[i].id for i in (2, 3, 5, 1, 4, 0)]
    assert listed("picker", "team") == expected
    assert listed("admin", "all") == expected
    inbox.claim(made[0].id, user("picker"))
    inbox.claim(made[1].id, user("picker"))
    db.session.commit()
    assert listed("picker", "mine") == [made[1].id, made[0].id]


def test_pages_of_fifty(client, lanes):
    clock.freeze(T0)
    pick = lanes["warehouse"]
    for n in range(124):  # with the real pick task: 125
        add_task(pick, due=T0 + timedelta(minutes=n % 37), created=T0 - timedelta(seconds=n))
    pages = [inbox.list_tasks(user("picker"), "team", page=n) for n in (1, 2, 3)]
    assert [len(p.rows) for p in pages] == [50, 50, 25]
    assert all((p.total, p.pages) == (125, 3) for p in pages)
    everything = [row.task.id for p in pages for row in p.rows]
    assert len(set(everything)) == 125
    assert everything == listed_all_in_order(pick)
    assert inbox.list_tasks(user("picker"), "team", page=99).number == 3
    assert inbox.list_tasks(user("picker"), "team", page=-1).number == 1

    sign_in(client, "picker")
    second = client.get("/inbox?queue=team&page=2").text
    assert task_ids_on_page(second) == everything[50:100]
    assert "page 2 of 3" in second
    assert 'href="/inbox?page=1&amp;queue=team"' in second and 'href="/inbox?page=3&amp;queue=team"' in second
    assert task_ids_on_page(client.get("/inbox?queue=team&page=abc").text) == everything[:50]
    filtered = client.get(f"/inbox?queue=team&type={pick.element_id}&page=1").text
    assert f'href="/inbox?page=2&amp;queue=team&amp;type={pick.element_id}"' in filtered


def listed_all_in_order(pick: HumanTask) -> list[int]:
    rows = db.session.scalars(select(HumanTask).where(HumanTask.role == "warehouse", HumanTask.state == "open"))
    never = datetime.max.replace(tzinfo=UTC)
    return [t.id for t in sorted(rows, key=lambda t: (t.due_at or never, t.created_at, t.id))]


# --- claim, release, reassign: the rules ---------------------------------------------------------------


def test_claim_release_reassign_and_their_audit(lanes):
    pick = lanes["warehouse"]
    before = snapshot(pick)[3]
    inbox.claim(pick.id, user("picker"))
    db.session.commit()
    assert (fresh(pick.id).state, fresh(pick.id).assignee_id) == ("claimed", user("picker").id)
    with pytest.raises(Conflict, match="claimed by someone else"):
        inbox.claim(pick.id, user("packer"))
    db.session.rollback()
    with pytest.raises(Forbidden):
        inbox.release(pick.id, user("packer"))  # not theirs, and not a manager
    inbox.release(pick.id, user("picker"))
    db.session.commit()
    assert (fresh(pick.id).state, fresh(pick.id).assignee_id) == ("open", None)
    with pytest.raises(Conflict, match="not claimed"):
        inbox.release(pick.id, user("manager"))
    db.session.rollback()
    inbox.reassign(pick.id, user("packer").id, user("manager"))
    db.session.commit()
    assert (fresh(pick.id).state, fresh(pick.id).assignee_id) == ("claimed", user("packer").id)
    inbox.reassign(pick.id, user("picker").id, user("admin"))
    db.session.commit()
    inbox.release(pick.id, user("manager"))
    db.session.commit()
    assert fresh(pick.id).state == "open"

    audit = [(e.kind, e.actor, e.element_id, e.detail.get("from"), e.detail.get("to"))
             for e in events(pick, "task_claimed") + events(pick, "task_released") + events(pick, "task_reassigned")]
    assert audit == [
        ("task_claimed", "picker", "pack_goods", None, None),
        ("task_released", "picker", "pack_goods", "picker", None),
        ("task_released", "manager", "pack_goods", "picker", None),
        ("task_reassigned", "manager", "pack_goods", None, "packer"),
        ("task_reassigned", "admin", "pack_goods", "packer", "picker"),
    ]
    assert all(e.detail["task_id"] == pick.id for e in events(pick, "task_claimed"))
    # Moving a task between people is not a change to the instance: an open form stays valid.
    assert snapshot(pick)[3] == before


def test_claim_is_for_the_task_team_and_admins(lanes):
    pick = lanes["warehouse"]
    for outsider in ("order_desk", "manager", "process_owner", "logistics"):
        with pytest.raises(Forbidden, match="belongs to the warehouse team"):
            inbox.claim(pick.id, user(outsider))
    inbox.claim(pick.id, user("admin"))  # an admin may work any lane, as the runtime allows
    db.session.commit()
    assert fresh(pick.id).assignee_id == user("admin").id
    with pytest.raises(NotFound):
        inbox.claim(999_999, user("picker"))


def test_reassign_rules(lanes, make_user):
    pick = lanes["warehouse"]
    clerks = [user(name) for name in ("picker", "packer", "warehouse")]
    gone = make_user("gone", "warehouse")
    gone.active = False
    db.session.commit()
    with pytest.raises(Forbidden, match="only a manager"):
        inbox.reassign(pick.id, user("packer").id, user("picker"))
    with pytest.raises(Forbidden, match="not in the warehouse team"):
        inbox.reassign(pick.id, user("logistics").id, user("manager"))
    with pytest.raises(Forbidden, match="not in the warehouse team"):
        inbox.reassign(pick.id, user("admin").id, user("manager"))
    with pytest.raises(NotFound):
        inbox.reassign(pick.id, gone.id, user("manager"))
    with pytest.raises(NotFound):
        inbox.reassign(pick.id, 424_242, user("manager"))
    assert inbox.eligible_assignees(pick) == sorted(clerks, key=lambda person: person.name)
    inbox.reassign(pick.id, user("picker").id, user("manager"))
    db.session.commit()
    with pytest.raises(Conflict, match="already with"):
        inbox.reassign(pick.id, user("picker").id, user("manager"))


def test_done_tasks_cannot_be_claimed_released_or_reassigned(lanes):
    pick = lanes["warehouse"]
    inbox.claim(pick.id, user("picker"))
    db.session.commit()
    runtime.complete_task(pick.instance_id, pick.spiff_task_id, DATA[pick.element_id], user=user("picker"))
    before = snapshot(pick)
    with pytest.raises(Conflict, match="already completed by picker"):
        inbox.claim(pick.id, user("packer"))
    with pytest.raises(Conflict, match="already completed"):
        inbox.release(pick.id, user("picker"))
    with pytest.raises(Conflict, match="already completed"):
        inbox.reassign(pick.id, user("packer").id, user("manager"))
    db.session.rollback()
    assert snapshot(pick) == before


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_people_claim_at_once_and_exactly_one_wins(backend, database_url, lanes):
    pick = lanes["warehouse"]
    people = {"picker": user("picker").id, "packer": user("packer").id}
    pick_id = pick.id  # the threads must not touch this session's objects
    race_app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SCHEDULER_ENABLED": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2, "max_overflow": 0},
    })
    # Both have read the task as open before either writes: the UPDATE must decide.
    start_line = threading.Barrier(2, timeout=30)

    def hold_updates(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE HUMAN_TASK"):
            start_line.wait()

    outcomes: dict[str, object] = {}

    def clerk(name: str) -> None:
        with race_app.app_context():
            try:
                inbox.claim(pick_id, db.session.get(User, people[name]))
                db.session.commit()
                outcomes[name] = "claimed"
            except Exception as error:  # judged below
                db.session.rollback()
                outcomes[name] = error
            finally:
                db.session.remove()

    with race_app.app_context():
        event.listen(db.engine, "before_cursor_execute", hold_updates)
    threads = [threading.Thread(target=clerk, args=(name,)) for name in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with race_app.app_context():
        db.engine.dispose()
    assert not any(thread.is_alive() for thread in threads)

    winners = [name for name, outcome in outcomes.items() if outcome == "claimed"]
    assert len(winners) == 1, outcomes
    loser = next(outcome for outcome in outcomes.values() if outcome != "claimed")
    assert isinstance(loser, Conflict), repr(loser)
    assert fresh(pick.id).assignee_id == people[winners[0]]
    assert [e.actor for e in events(pick, "task_claimed")] == winners


# --- the task page and its form ------------------------------------------------------------------------


def post_task(client, task: HumanTask, data: dict, version: int | None = None, with_token: bool = True):
    page = client.get(f"/tasks/{task.id}")
    form = {"lock_version": str(version if version is not None else _version(page.text)), **data}
    if with_token:
        form["csrf_token"] = csrf_token(page.text)
    return client.post(f"/tasks/{task.id}", data=form)


def _version(html: str) -> int:
    return int(re.search(r'name="lock_version" value="(\d+)"', html).group(1))


def test_task_page_renders_the_form_from_its_schema(client, lanes, make_order):
    check = lanes["logistics"]
    sign_in(client, "logistics")
    page = client.get(f"/tasks/{check.id}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{check.title} <span" in html and check.business_key in html
    # Instructions are Markdown: a plain sentence becomes one paragraph.
    assert check.instructions and f'<div class="instructions"><p>{escape(check.instructions)}</p></div>' in html
    # A plain checkbox: unticked is an answer (the goods don't match), so it is neither required nor marked.
    assert re.search(r'<input type="checkbox" name="goods_match" value="true" aria-describedby="help-goods_match">\s*'
                     r'The goods match the order\s*</label>', html)
    version = db.session.get(ProcessInstance, check.instance_id).lock_version
    assert f'name="lock_version" value="{version}"' in html
    assert "started" in html and "task completed" in html  # the instance's timeline

    shipment = start_order(make_order, 4)
    html = client.get(f"/tasks/{shipment.id}").text
    assert re.search(r'<label for="f-carrier">Carrier <span class="req"[^>]*>\*</span></label>', html)
    assert re.search(r'<input type="text" id="f-carrier" name="carrier" required value="" maxlength="80">', html)

    sign_in(client, "warehouse")
    html = client.get(f"/tasks/{lanes['warehouse'].id}").text
    assert re.search(r'<input type="number" id="f-packages" name="packages" required step="1" value="" '
                     r'min="1" max="1000">', html)
    assert re.search(r'<label for="f-pack_note">Note</label>\s*<textarea id="f-pack_note" name="pack_note" '
                     r'rows="5" maxlength="2000">', html)


def test_instructions_are_markdown_that_cannot_carry_html(client, lanes):
    pick = lanes["warehouse"]
    pick.instructions = "<script>alert('x')</script>\n<b>Careful</b> with **fragile** goods"
    db.session.commit()
    sign_in(client, "picker")
    html = client.get(f"/tasks/{pick.id}").text
    assert "<script>alert" not in html and "<b>Careful" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html and "&lt;b&gt;Careful&lt;/b&gt;" in html
    assert "<strong>fragile</strong>" in html


def test_claim_open_and_complete_over_http(client, lanes):
    pick = lanes["warehouse"]
    sign_in(client, "picker")
    claimed = client.post(f"/tasks/{pick.id}/claim", data={"csrf_token": token(client), "next": "/inbox?queue=team"})
    assert (claimed.status_code, claimed.headers["Location"]) == (302, "/inbox?queue=team")
    assert fresh(pick.id).assignee_id == user("picker").id
    done = post_task(client, pick, {"packages": "3", "pack_note": "  two boxes\r\nand a pallet  "})
    assert (done.status_code, done.headers["Location"]) == (302, "/inbox")
    assert f"{pick.title} for {pick.business_key} is done." in client.get("/inbox").text
    row = fresh(pick.id)
    assert (row.state, row.completed_by) == ("completed", "picker")
    assert events(pick, "task_completed")[-1].detail["data"] == {"packages": 3, "pack_note": "two boxes\nand a pallet"}
    assert open_task(pick.instance_id).role != "warehouse"  # on to the next lane
    assert pick.id not in task_ids_on_page(client.get("/inbox?queue=team").text)


def test_a_completed_task_is_read_only_and_says_who_and_when(client, lanes):
    clock.freeze(T0)
    pick = lanes["warehouse"]
    sign_in(client, "picker")
    assert post_task(client, pick, {"packages": "2", "pack_note": ""}).status_code == 302
    html = client.get(f"/tasks/{pick.id}").text
    assert "Completed by <strong>picker</strong> on 2026-03-02 at 09:00 UTC" in html
    assert re.search(r"<dt>Packages</dt><dd>2</dd>", html)
    assert 'name="lock_version"' not in html and "Complete task" not in html


def test_a_task_cannot_be_completed_twice(client, lanes):
    pick = lanes["warehouse"]
    sign_in(client, "picker")
    page = client.get(f"/tasks/{pick.id}")
    form = {"csrf_token": csrf_token(page.text), "lock_version": str(_version(page.text)), "packages": "2"}
    assert client.post(f"/tasks/{pick.id}", data=form).status_code == 302
    before = snapshot(pick)
    again = client.post(f"/tasks/{pick.id}", data=form)
    assert again.status_code == 409
    assert "already completed by picker" in again.text and "Nothing you sent was saved" in again.text
    assert f'<a href="/tasks/{pick.id}">Reload the page</a>' in again.text
    assert snapshot(pick) == before
    assert len(events(pick, "task_completed")) == 1


def test_a_form_opened_before_someone_else_changed_the_order_is_a_conflict(client, deployed, make_order):
    clock.freeze(T0)
    review = start_order(make_order)
    sign_in(client, "order_desk")
    page = client.get(f"/tasks/{review.id}")
    # While the form is open, the review's SLA clock reaches "at risk" and escalates it: a new version.
    clock.advance(timedelta(hours=18, minutes=1))
    assert runtime.wake(review.instance_id) == 1
    before = snapshot(review)
    stale = client.post(f"/tasks/{review.id}", data={
        "csrf_token": csrf_token(page.text), "lock_version": str(_version(page.text)), "approved": "true"})
    assert stale.status_code == 409
    assert "changed by someone else since you opened it" in stale.text
    assert f'<a href="/tasks/{review.id}">Reload the page</a>' in stale.text
    assert snapshot(review) == before
    fresh_page = client.get(f"/tasks/{review.id}")
    assert _version(fresh_page.text) == _version(page.text) + 1
    assert '<span class="due at_risk"' in fresh_page.text


def test_fields_the_form_does_not_declare_are_refused(client, lanes):
    review = lanes["order_desk"]
    sign_in(client, "order_desk")
    before = snapshot(review)
    response = post_task(client, review, {"approved": "true", "is_admin": "true", "order_number": "SO-OTHER"})
    assert response.status_code == 422
    assert "&#39;is_admin&#39; is not a field of this form." in response.text
    assert "&#39;order_number&#39; is not a field of this form." in response.text
    assert snapshot(review) == before


@pytest.mark.parametrize(("steps", "data", "field", "message"), [
    (2, {"packages": "two"}, "packages", "Enter a whole number."),
    (2, {"packages": "2.5"}, "packages", "Enter a whole number."),
    (2, {"packages": "1e400"}, "packages", "Enter a whole number."),
    (2, {"packages": "0"}, "packages", "At least 1."),
    (2, {"packages": "1001"}, "packages", "At most 1000."),
    (2, {"pack_note": "no count"}, "packages", "Required."),
    (2, {"packages": "2", "pack_note": "x" * 2001}, "pack_note", "At most 2000 characters (this has 2001)."),
    (2, {"packages": ["1", "2"]}, "packages", "Give one value."),
    (1, {"pick_note": "all there"}, "picked", "Tick this box to go on."),
    (3, {"goods_match": "maybe"}, "goods_match", "Tick the box or leave it empty."),
    (4, {"carrier": "  ", "tracking_number": "1"}, "carrier", "Required."),
    (4, {"carrier": "DHL", "tracking_number": "x" * 81}, "tracking_number", "At most 80 characters (this has 81)."),
    (0, {"approved": "true", "review_note": "x" * 2001}, "review_note", "At most 2000 characters"),
])
def test_bad_input_is_a_422_with_the_field_message_and_writes_nothing(client, deployed, make_order, steps, data,
                                                                      field, message):
    task = start_order(make_order, steps)
    sign_in(client, task.role)
    before = snapshot(task)
    response = post_task(client, task, data)
    assert response.status_code == 422
    assert re.search(rf'<p class="field-error" id="err-{field}">[^<]*{re.escape(message)}', response.text)
    assert "Nothing was saved." in response.text
    assert snapshot(task) == before
    # What was typed comes back, to be corrected rather than typed again.
    if data.get("packages") == "two":
        assert re.search(r'<input type="number" id="f-packages" name="packages" [^>]*aria-invalid="true"[^>]*'
                         r'value="two"', response.text)


def test_the_form_sent_back_keeps_the_version_it_was_opened_at(client, deployed, make_order):
    clock.freeze(T0)
    review = start_order(make_order)
    sign_in(client, "order_desk")
    page = client.get(f"/tasks/{review.id}")
    opened_at = _version(page.text)
    clock.advance(timedelta(hours=5))
    runtime.wake(review.instance_id)
    bad = client.post(f"/tasks/{review.id}", data={
        "csrf_token": csrf_token(page.text), "lock_version": str(opened_at), "review_note": "x" * 2001})
    assert bad.status_code == 422 and _version(bad.text) == opened_at


def test_missing_or_bad_lock_version_is_a_bad_request(client, lanes):
    pick = lanes["warehouse"]
    sign_in(client, "picker")
    before = snapshot(pick)
    for version in ("", "abc"):
        page = client.get(f"/tasks/{pick.id}")
        response = client.post(f"/tasks/{pick.id}", data={"csrf_token": csrf_token(page.text),
                                                          "lock_version": version, "packages": "1"})
        assert response.status_code == 400
    assert snapshot(pick) == before


def test_another_teams_task_can_be_neither_seen_nor_completed(client, lanes):
    review = lanes["order_desk"]
    sign_in(client, "picker")
    before = snapshot(review)
    assert client.get(f"/tasks/{review.id}").status_code == 403
    response = client.post(f"/tasks/{review.id}", data={
        "csrf_token": token(client), "lock_version": str(before[3]), "approved": "true"})
    assert response.status_code == 403
    assert snapshot(review) == before
    assert client.get("/tasks/999999").status_code == 404


def test_a_task_claimed_by_someone_else_is_read_only_for_the_team(client, lanes):
    pick = lanes["warehouse"]
    inbox.claim(pick.id, user("picker"))
    db.session.commit()
    sign_in(client, "packer")
    page = client.get(f"/tasks/{pick.id}")
    assert page.status_code == 200
    assert "Picker has claimed this task; only they can complete it." in page.text
    assert 'name="lock_version"' not in page.text
    before = snapshot(pick)
    response = post_task(client, pick, {"packages": "2"}, version=before[3])
    assert response.status_code == 403 and "claimed by someone else" in response.text
    assert snapshot(pick) == before


def test_manager_follows_and_reassigns_from_the_task_page(client, lanes):
    pick = lanes["warehouse"]
    for name in ("picker", "packer", "warehouse"):
        user(name)
    sign_in(client, "manager")
    page = client.get(f"/tasks/{pick.id}")
    assert page.status_code == 200 and 'name="lock_version"' not in page.text
    assert "Give it to someone" in page.text
    reassign_form = page.text[page.text.index('name="assignee_id"'):]
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', reassign_form)
    assert [name for _id, name in options] == ["Packer (packer)", "Picker (picker)", "Warehouse (warehouse)"]
    response = client.post(f"/tasks/{pick.id}/reassign", data={
        "csrf_token": csrf_token(page.text), "assignee_id": str(user("packer").id), "next": f"/tasks/{pick.id}"})
    assert (response.status_code, response.headers["Location"]) == (302, f"/tasks/{pick.id}")
    assert fresh(pick.id).assignee_id == user("packer").id
    page = client.get(f"/tasks/{pick.id}").text
    assert "task reassigned" in page and "by manager" in page and "to packer" in page
    assert [name for _id, name in re.findall(r'<option value="(\d+)">([^<]+)</option>',
                                             page[page.index('name="assignee_id"'):])] == [
        "Picker (picker)", "Warehouse (warehouse)"]
    bad = client.post(f"/tasks/{pick.id}/reassign", data={"csrf_token": token(client), "assignee_id": "x"})
    assert bad.status_code == 400


def test_redirect_after_an_action_stays_on_this_site(client, lanes):
    pick = lanes["warehouse"]
    sign_in(client, "picker")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        response = client.post(f"/tasks/{pick.id}/claim", data={"csrf_token": token(client), "next": target})
        assert response.headers["Location"] == "/inbox"
        client.post(f"/tasks/{pick.id}/release", data={"csrf_token": token(client)})


def test_claim_of_a_task_just_claimed_by_someone_else_is_a_409(client, lanes):
    pick = lanes["warehouse"]
    inbox.claim(pick.id, user("picker"))
    db.session.commit()
    sign_in(client, "packer")
    before = snapshot(pick)
    response = client.post(f"/tasks/{pick.id}/claim", data={"csrf_token": token(client)})
    assert response.status_code == 409 and "claimed by someone else first" in response.text
    assert snapshot(pick) == before


# --- CSRF on every inbox form ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["complete", "claim", "release", "reassign"])
def test_every_inbox_post_needs_the_csrf_token(client, lanes, action):
    pick = lanes["warehouse"]
    if action == "release":
        inbox.claim(pick.id, user("picker"))
        db.session.commit()
    sign_in(client, "manager" if action == "reassign" else "picker")
    before = snapshot(pick)
    url, data = {
        "complete": (f"/tasks/{pick.id}", {"lock_version": str(before[3]), "packages": "2"}),
        "claim": (f"/tasks/{pick.id}/claim", {}),
        "release": (f"/tasks/{pick.id}/release", {}),
        "reassign": (f"/tasks/{pick.id}/reassign", {"assignee_id": str(user("packer").id)}),
    }[action]
    assert client.post(url, data=data).status_code == 400
    assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
    assert snapshot(pick) == before


# --- access: every role × every inbox page and action ----------------------------------------------------


LANES = ("order_desk", "warehouse", "logistics")


def _queues(client, lanes, role):
    allowed = {"manager": ("mine", "team", "all"), "admin": ("mine", "all"), "process_owner": ()}.get(
        role, ("mine", "team"))
    for queue in (None, "mine", "team", "all"):
        response = client.get("/inbox" + (f"?queue={queue}" if queue else ""))
        opens = bool(allowed) and (queue is None or queue in allowed)
        assert response.status_code == (200 if opens else 403), queue
        if not opens:
            continue
        seen = set(task_ids_on_page(response.text))
        if queue == "mine":
            assert seen == set()
        elif queue == "all" or (queue is None and role == "admin"):
            assert seen == {t.id for t in lanes.values()}, queue
        else:  # the team's queue, also the default for someone holding nothing
            assert seen == ({lanes[role].id} if role in lanes else set()), queue


def _task_pages(client, lanes, role):
    for lane in LANES:
        response = client.get(f"/tasks/{lanes[lane].id}")
        visible = role in (lane, "manager", "admin")
        assert response.status_code == (200 if visible else 403), lane
        if visible:  # the form only for those who may complete it
            assert ('name="lock_version"' in response.text) == (role in (lane, "admin")), lane


def _complete(client, lanes, role):
    for lane in LANES:
        task = lanes[lane]
        before = snapshot(task)
        response = client.post(f"/tasks/{task.id}", data={
            "csrf_token": token(client), "lock_version": str(before[3]), **VALID[task.element_id]})
        if role in (lane, "admin"):
            assert response.status_code == 302, lane
            assert fresh(task.id).completed_by == role
        else:
            assert response.status_code == 403, lane
            assert snapshot(task) == before, lane


def _claim(client, lanes, role):
    for lane in LANES:
        task = lanes[lane]
        before = snapshot(task)
        response = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token(client)})
        if role in (lane, "admin"):
            assert response.status_code == 302, lane
            assert fresh(task.id).assignee_id == user(role).id
        else:
            assert response.status_code == 403, lane
            assert snapshot(task) == before, lane


def _release(client, lanes, role):
    pick = lanes["warehouse"]
    inbox.claim(pick.id, user("picker"))  # someone else's
    db.session.commit()
    before = snapshot(pick)
    response = client.post(f"/tasks/{pick.id}/release", data={"csrf_token": token(client)})
    if role in ("manager", "admin"):
        assert response.status_code == 302 and fresh(pick.id).state == "open"
    else:
        assert response.status_code == 403
        assert snapshot(pick) == before


def _reassign(client, lanes, role):
    pick = lanes["warehouse"]
    packer = user("packer").id
    before = snapshot(pick)
    response = client.post(f"/tasks/{pick.id}/reassign", data={"csrf_token": token(client), "assignee_id": packer})
    if role in ("manager", "admin"):
        assert response.status_code == 302 and fresh(pick.id).assignee_id == packer
    else:
        assert response.status_code == 403
        assert snapshot(pick) == before


@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize("check", [_queues, _task_pages, _complete, _claim, _release, _reassign],
                         ids=["queues", "task-page", "complete", "claim", "release", "reassign"])
def test_access(client, lanes, role, check):
    """Every role against every inbox page and action (each of the three lanes' tasks where it applies):
    allowed gets through, refused is 403 and changes nothing."""
    sign_in(client, role)
    check(client, lanes, role)


@pytest.mark.parametrize("url", ["/inbox", "/inbox?queue=all", "/tasks/1"])
def test_inbox_pages_need_login(client, lanes, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ALL)
def test_header_links(client, ctx, role):
    sign_in(client, role)
    html = client.get("/processes").text
    assert ('<a href="/inbox">Inbox</a>' in html) == (role in INBOX_USERS)
    assert '<a href="/processes" aria-current="page">Processes</a>' in html
