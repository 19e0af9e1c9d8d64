"""Managers' changes to SLA policies and calendars (app/sla/policies.py): every refusal names its field
and writes nothing; every change is audited with the changed fields before and after; a calendar
saved through the service counts business time as it says."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.sla import policies, service
from app.sla.models import SlaCalendar, SlaChange, SlaPolicy
from app.workflow.models import ProcessDefinition
from tests.engine import bpmn_factory as bf

MONDAY_9_BERLIN = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OFFICE = {"name": "Berlin office", "zone": "Europe/Berlin", "hours": {d: [["09:00", "17:00"]] for d in range(5)},
          "holidays": ["2026-03-03"]}


@pytest.fixture
def office(ctx):
    bf.deploy(bf.linear("sla_admin_p", bf.user("review_order", name="Review order"), bf.user("pick_goods")))
    row = policies.create_calendar(**OFFICE, by="mia")
    db.session.commit()
    return row


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count(model.id))) for model in (SlaPolicy, SlaCalendar, SlaChange))


def refused(call, **kwargs) -> dict[str, str]:
    """Call the service, expect a refusal, and check that it left nothing behind."""
    before = counts()
    with pytest.raises(policies.SlaChangeRefused) as caught:
        call(**kwargs)
    db.session.commit()  # whatever the service had added would be written now
    assert counts() == before
    assert all(name in str(caught.value) for name in caught.value.errors)  # the message names each field
    return {name: str(problem) for name, problem in caught.value.errors.items()}


def policy_input(office, **changes) -> dict:
    return {"scope": "task", "key": "review_order", "resolution_minutes": 240, "calendar_id": office.id, "by": "mia",
            **changes}


# --- policies -----------------------------------------------------------------------------------------------


def test_creating_a_policy_records_every_field(office):
    policy = policies.create_policy(**policy_input(office, response_minutes=60))
    db.session.commit()
    assert (policy.active, policy.at_risk_pct, policy.severity, policy.updated_by) == (True, 75, "", "mia")
    change = db.session.scalars(select(SlaChange).where(SlaChange.subject == "policy")).one()
    assert (change.by, change.subject_ref, change.action, change.before) == ("mia", str(policy.id), "created", {})
    assert change.after == {"scope": "task", "key": "review_order", "severity": "", "resolution_minutes": 240,
                            "response_minutes": 60, "at_risk_pct": 75, "calendar_id": office.id}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"scope": "order"}, "scope", "a task or an exception"),
    ({"key": ""}, "key", "Choose the task or exception"),
    ({"key": "approve_everything"}, "key", "No deployed process has a user task 'approve_everything'"),
    ({"scope": "exception", "key": "alien_invasion"}, "key", "'alien_invasion' is not an exception type or family"),
    ({"severity": "urgent"}, "severity", "Choose a severity"),
    ({"resolution_minutes": 0}, "resolution_minutes", "more than 0 minutes"),
    ({"resolution_minutes": -30}, "resolution_minutes", "more than 0 minutes"),
    ({"resolution_minutes": None}, "resolution_minutes", "more than 0 minutes"),
    ({"resolution_minutes": "240"}, "resolution_minutes", "more than 0 minutes"),
    ({"resolution_minutes": True}, "resolution_minutes", "more than 0 minutes"),
    ({"resolution_minutes": policies.MAX_MINUTES + 1}, "resolution_minutes", "At most 2,160 hours"),
    ({"response_minutes": 0}, "response_minutes", "more than 0 minutes, or empty"),
    ({"response_minutes": 241}, "response_minutes", "cannot be longer than the resolution target"),
    ({"response_minutes": 1.5}, "response_minutes", "more than 0 minutes, or empty"),
    ({"at_risk_pct": 0}, "at_risk_pct", "from 1 to 99"),
    ({"at_risk_pct": 100}, "at_risk_pct", "from 1 to 99"),
    ({"calendar_id": None}, "calendar_id", "Choose a business calendar"),
    ({"calendar_id": 999}, "calendar_id", "Choose a business calendar"),
])
def test_each_refusal_names_its_field_and_writes_nothing(office, changes, field, message):
    errors = refused(policies.create_policy, **policy_input(office, **changes))
    assert list(errors) == [field]
    assert message in errors[field]


def test_several_problems_are_refused_together(office):
    errors = refused(policies.create_policy, **policy_input(office, key="nope", resolution_minutes=0, at_risk_pct=0))
    assert set(errors) == {"key", "resolution_minutes", "at_risk_pct"}


def test_keys_that_may_be_used(office):
    for scope, key in [("task", "*"), ("task", "pick_goods"), ("exception", "*"), ("exception", "logistics"),
                       ("exception", "lost")]:
        policies.create_policy(**policy_input(office, scope=scope, key=key))
    policies.create_policy(**policy_input(office, scope="exception", key="lost", severity="critical"))
    db.session.commit()
    assert service.policy_for("exception", "lost", "critical").severity == "critical"
    assert service.policy_for("exception", "damaged").key == "logistics"


def test_a_task_only_in_a_retired_version_is_not_offered(office):
    bf.deploy(bf.linear("sla_admin_old", bf.user("old_step")), "old.bpmn")
    assert "old_step" in policies.task_keys()
    db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "sla_admin_old")).one().status = \
        "retired"
    db.session.commit()
    assert "old_step" not in policies.task_keys()
    assert "No deployed process" in refused(policies.create_policy, **policy_input(office, key="old_step"))["key"]


def test_tasks_are_grouped_by_process(office):
    grouped = policies.tasks_by_process()
    assert grouped == {"sla_admin_p": {"pick_goods": "pick_goods", "review_order": "Review order"}}


def test_one_active_policy_per_scope_key_and_severity(office):
    first = policies.create_policy(**policy_input(office))
    db.session.commit()
    errors = refused(policies.create_policy, **policy_input(office, resolution_minutes=60))
    assert errors == {"key": f"Policy {first.id} already covers this; change that one instead."}
    # another severity, the same key in the other scope, or after the first is deactivated: fine
    policies.create_policy(**policy_input(office, severity="high"))
    policies.deactivate_policy(first.id, by="mia")
    policies.create_policy(**policy_input(office, resolution_minutes=60))
    db.session.commit()
    assert service.policy_for("task", "review_order").resolution_minutes == 60


def test_a_calendar_with_too_little_working_time_for_the_target(office):
    sparse = policies.create_calendar(name="Saturday mornings", zone="UTC", hours={5: [["09:00", "10:00"]]}, by="mia")
    db.session.commit()
    # 1 h a week takes 200 weeks for 200 h (the target and one more, until the last escalation): beyond the
    # three years the business calendar searches, so no timer could be computed
    errors = refused(policies.create_policy, **policy_input(office, calendar_id=sparse.id, resolution_minutes=100 * 60))
    assert errors == {"calendar_id": "Calendar Saturday mornings has too little working time for this target."}
    policies.create_policy(**policy_input(office, calendar_id=sparse.id, resolution_minutes=10 * 60))


def test_an_update_records_only_the_changed_fields(office):
    policy = policies.create_policy(**policy_input(office))
    db.session.commit()
    clock.freeze(datetime(2026, 4, 1, 10, 0, tzinfo=UTC))
    policies.update_policy(policy.id, **policy_input(office, resolution_minutes=480, at_risk_pct=80, by="otto"))
    db.session.commit()
    change = db.session.scalars(select(SlaChange).where(SlaChange.action == "changed")).one()
    assert (change.by, change.at, change.subject, change.subject_ref) == (
        "otto", datetime(2026, 4, 1, 10, 0, tzinfo=UTC), "policy", str(policy.id))
    assert change.before == {"resolution_minutes": 240, "at_risk_pct": 75}
    assert change.after == {"resolution_minutes": 480, "at_risk_pct": 80}
    assert (policy.updated_by, policy.updated_at) == ("otto", datetime(2026, 4, 1, 10, 0, tzinfo=UTC))
    # saving the same values again is no change and writes no audit row
    policies.update_policy(policy.id, **policy_input(office, resolution_minutes=480, at_risk_pct=80, by="otto"))
    db.session.commit()
    assert db.session.scalar(select(func.count(SlaChange.id)).where(SlaChange.subject == "policy")) == 2


def test_a_refused_update_changes_nothing(office):
    policy = policies.create_policy(**policy_input(office))
    db.session.commit()
    refused(policies.update_policy, policy_id=policy.id, **policy_input(office, resolution_minutes=600,
                                                                        response_minutes=700))
    db.session.expire_all()
    assert db.session.get(SlaPolicy, policy.id).resolution_minutes == 240


def test_a_policy_whose_task_left_the_diagrams_can_still_be_edited(office):
    policy = SlaPolicy(scope="task", key="gone_step", resolution_minutes=60, calendar_id=office.id)
    db.session.add(policy)
    db.session.commit()
    policies.update_policy(policy.id, **policy_input(office, key="gone_step", resolution_minutes=90))
    db.session.commit()
    assert policy.resolution_minutes == 90
    # but no policy may be moved onto such a task
    other = policies.create_policy(**policy_input(office))
    db.session.commit()
    assert "No deployed process" in refused(policies.update_policy, policy_id=other.id,
                                            **policy_input(office, key="gone_step", severity="low"))["key"]


def test_deactivating_is_audited_and_happens_once(office):
    policy = policies.create_policy(**policy_input(office))
    db.session.commit()
    policies.deactivate_policy(policy.id, by="otto")
    db.session.commit()
    assert not policy.active and service.policy_for("task", "review_order") is None
    change = db.session.scalars(select(SlaChange).where(SlaChange.action == "deactivated")).one()
    assert (change.by, change.subject_ref, change.before, change.after) == (
        "otto", str(policy.id), {"active": True}, {"active": False})
    assert refused(policies.deactivate_policy, policy_id=policy.id, by="otto") == {
        "": f"Policy {policy.id} is already deactivated."}
    assert refused(policies.update_policy, policy_id=policy.id, **policy_input(office)) == {
        "": f"Policy {policy.id} is deactivated; create a new one instead."}
    assert refused(policies.deactivate_policy, policy_id=12345, by="otto") == {"": "There is no policy 12345."}


def test_a_changed_policy_times_new_work_only(office):
    """The due time is computed when the work begins; a later change does not move it."""
    policy = policies.create_policy(**policy_input(office))
    db.session.commit()
    before = service.targets("task", "review_order", MONDAY_9_BERLIN).due_at
    policies.update_policy(policy.id, **policy_input(office, resolution_minutes=480))
    db.session.commit()
    assert before == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 09:00 + 4 h Berlin
    assert service.targets("task", "review_order", MONDAY_9_BERLIN).due_at == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


# --- calendars ----------------------------------------------------------------------------------------------


def test_a_calendar_is_stored_as_the_business_calendar_reads_it(office):
    always = policies.create_calendar(name="Always", zone="UTC", hours={d: [["00:00", "24:00"]] for d in range(7)},
                                      by="mia")
    split = policies.create_calendar(
        name="Split shift", zone="Asia/Shanghai", by="mia",
        hours={"0": [[" 13:00", "18:00"], ["08:00", "12:00"]], "6": [["20:00", "00:00"]], "2": []},
        holidays=["2026-10-02", " 2026-10-01", "2026-10-01"])
    db.session.commit()
    assert always.hours == {str(d): [["00:00", "00:00"]] for d in range(7)}
    # intervals in order, midnight as 00:00, empty days left out, holidays sorted once each
    assert split.hours == {"0": [["08:00", "12:00"], ["13:00", "18:00"]], "6": [["20:00", "00:00"]]}
    assert split.holidays == ["2026-10-01", "2026-10-02"]
    monday_9_shanghai = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    calendar = service.calendar_of(split)
    assert calendar.add(monday_9_shanghai, timedelta(hours=4)) == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 14:00
    assert service.calendar_of(always).add(monday_9_shanghai, timedelta(hours=30)) == \
        monday_9_shanghai + timedelta(hours=30)
    change = db.session.scalars(select(SlaChange).where(SlaChange.subject_ref == str(split.id))).one()
    assert (change.subject, change.action, change.by) == ("calendar", "created", "mia")
    assert change.after == {"name": "Split shift", "zone": "Asia/Shanghai", "hours": split.hours,
                            "holidays": ["2026-10-01", "2026-10-02"]}


def calendar_input(**changes) -> dict:
    return {"name": "Shop floor", "zone": "Europe/Berlin", "hours": {0: [["06:00", "14:00"]]}, "holidays": [],
            "by": "mia", **changes}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": "  "}, "name", "Give the calendar a name"),
    ({"name": "x" * 81}, "name", "At most 80 characters"),
    ({"name": "BERLIN OFFICE"}, "name", "Another calendar is called 'Berlin office'"),
    ({"zone": "Mars/Olympus_Mons"}, "zone", "'Mars/Olympus_Mons' is not a time zone"),
    ({"zone": "../../etc/passwd"}, "zone", "is not a time zone"),
    ({"zone": ""}, "zone", "is not a time zone"),
    ({"hours": [["08:00", "12:00"]]}, "hours", "per weekday"),
    ({"hours": {7: [["08:00", "12:00"]]}}, "hours", "'7' is not a weekday"),
    ({"hours": {"mon": [["08:00", "12:00"]]}}, "hours", "'mon' is not a weekday"),
    ({"hours": {"²": [["08:00", "12:00"]]}}, "hours", "'²' is not a weekday"),
    ({"hours": {True: [["08:00", "12:00"]]}}, "hours", "'True' is not a weekday"),
    ({"hours": {0: []}}, "hours", "at least one weekday"),
    ({"hours": {}}, "hours", "at least one weekday"),
    ({"hours": {1: [["8:00", "12:00"]]}}, "hours.1", "'8:00' is not a time of day HH:MM"),
    ({"hours": {1: [["08:00", "24:30"]]}}, "hours.1", "'24:30' is not a time of day HH:MM"),
    ({"hours": {1: [["24:00", "24:00"]]}}, "hours.1", "'24:00' is not a time of day HH:MM"),
    ({"hours": {1: [["08:60", "12:00"]]}}, "hours.1", "'08:60' is not a time of day HH:MM"),
    ({"hours": {1: [["０８:００", "12:00"]]}}, "hours.1", "'０８:００' is not a time of day HH:MM"),
    ({"hours": {1: [["08:00"]]}}, "hours.1", "intervals like 08:00-12:00"),
    ({"hours": {1: "08:00-12:00"}}, "hours.1", "intervals like 08:00-12:00"),
    ({"hours": {1: [[8, 12]]}}, "hours.1", "intervals like 08:00-12:00"),
    ({"hours": {2: [["12:00", "08:00"]]}}, "hours.2", "12:00-08:00 ends before it starts"),
    ({"hours": {2: [["12:00", "12:00"]]}}, "hours.2", "ends before it starts"),
    ({"hours": {3: [["08:00", "12:00"], ["11:00", "14:00"]]}}, "hours.3", "08:00-12:00 and 11:00-14:00 overlap"),
    ({"hours": {3: [["13:00", "18:00"], ["08:00", "13:30"]]}}, "hours.3", "08:00-13:30 and 13:00-18:00 overlap"),
    ({"holidays": ["2026-02-30"]}, "holidays", "'2026-02-30' is not a date YYYY-MM-DD"),
    ({"holidays": ["20260101"]}, "holidays", "'20260101' is not a date"),
    ({"holidays": ["1 May"]}, "holidays", "'1 May' is not a date"),
    ({"holidays": ["２０２６-05-01"]}, "holidays", "'２０２６-05-01' is not a date"),
    ({"holidays": [20260501]}, "holidays", "'20260501' is not a date"),
    ({"holidays": "2026-05-01"}, "holidays", "as dates YYYY-MM-DD"),
])
def test_each_calendar_refusal_names_its_field_and_writes_nothing(office, changes, field, message):
    errors = refused(policies.create_calendar, **calendar_input(**changes))
    assert list(errors) == [field]
    assert message in errors[field]


def test_touching_intervals_do_not_overlap(office):
    row = policies.create_calendar(**calendar_input(hours={0: [["08:00", "12:00"], ["12:00", "16:00"]]}))
    assert row.hours == {"0": [["08:00", "12:00"], ["12:00", "16:00"]]}


def test_a_calendar_update_records_only_the_changed_fields(office):
    policies.update_calendar(office.id, **{**OFFICE, "name": "Berlin office", "holidays": ["2026-03-03", "2026-12-25"],
                                           "by": "otto"})
    db.session.commit()
    change = db.session.scalars(select(SlaChange).where(SlaChange.action == "changed")).one()
    assert (change.subject, change.subject_ref, change.by) == ("calendar", str(office.id), "otto")
    assert (change.before, change.after) == ({"holidays": ["2026-03-03"]}, {"holidays": ["2026-03-03", "2026-12-25"]})
    policies.update_calendar(office.id, **{**OFFICE, "holidays": ["2026-12-25", "2026-03-03"], "by": "otto"})
    db.session.commit()
    assert db.session.scalar(select(func.count(SlaChange.id)).where(SlaChange.action == "changed")) == 1
    # its own name, in other letters, is not taken
    policies.update_calendar(office.id, **{**OFFICE, "name": "BERLIN Office", "by": "otto"})
    assert office.name == "BERLIN Office"


def test_a_calendar_cannot_lose_the_working_time_its_policies_need(office):
    policies.create_policy(**policy_input(office, resolution_minutes=100 * 60))
    db.session.commit()
    errors = refused(policies.update_calendar, calendar_id=office.id,
                     **{**OFFICE, "hours": {5: [["09:00", "10:00"]]}, "by": "otto"})
    assert errors == {"hours": "Too little working time for the policies that count in this calendar."}
    db.session.expire_all()
    assert db.session.get(SlaCalendar, office.id).hours == {str(d): [["09:00", "17:00"]] for d in range(5)}
    assert refused(policies.update_calendar, calendar_id=999, **{**OFFICE, "by": "otto"}) == {
        "": "There is no calendar 999."}
