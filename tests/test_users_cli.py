"""`flask users lead` and `flask users email`: set who leads a team and where notices go."""

from sqlalchemy import select

from app.accounts.models import UserRole
from app.extensions import db


def test_a_team_member_is_made_lead_and_no_longer(runner, make_user):
    make_user("dora", "order_desk")
    result = runner.invoke(args=["users", "lead", "dora", "order_desk"])
    assert result.exit_code == 0 and "dora leads the order_desk team" in result.output
    assert db.session.scalar(select(UserRole.lead).where(UserRole.role == "order_desk"))
    result = runner.invoke(args=["users", "lead", "dora", "order_desk", "--off"])
    assert result.exit_code == 0
    db.session.expire_all()
    assert not db.session.scalar(select(UserRole.lead).where(UserRole.role == "order_desk"))


def test_lead_of_a_team_the_user_is_not_in_or_an_unknown_user_is_refused(runner, make_user):
    make_user("dora", "order_desk")
    result = runner.invoke(args=["users", "lead", "dora", "warehouse"])
    assert result.exit_code != 0 and "dora is not in the warehouse team" in result.output
    result = runner.invoke(args=["users", "lead", "nobody", "warehouse"])
    assert result.exit_code != 0 and "no user 'nobody'" in result.output


def test_an_email_address_is_set_and_a_bad_one_refused(runner, make_user):
    user = make_user("dora", "order_desk")
    assert runner.invoke(args=["users", "email", "dora", "dora@example.com"]).exit_code == 0
    db.session.expire_all()
    assert user.email == "dora@example.com"
    result = runner.invoke(args=["users", "email", "dora", "not an address"])
    assert result.exit_code != 0 and "is not an e-mail address" in result.output
    db.session.expire_all()
    assert user.email == "dora@example.com"
