"""The outbox page: every message to customers (and staff notices) with its delivery state, one message
with its text and what the mail server said, and "send again" for a failed or bounced one. Without an
SMTP server (the embedded default) this page is where the messages are read."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.accounts.models import User
from app.accounts.roles import ADMIN, CUSTOMER_SERVICE, MANAGER
from app.extensions import db
from app.notifications import queries
from app.notifications import service as outbox
from app.notifications.models import OutboxMessage
from app.web import numbers
from app.web.access import roles_required

bp = Blueprint("outbox", __name__)

PER_PAGE = 50
VIEW_ROLES = (CUSTOMER_SERVICE, MANAGER)
RESEND_ROLES = (CUSTOMER_SERVICE,)  # and admins, who hold every right


@bp.app_template_global()
def may_see_outbox(user) -> bool:
    return user.is_authenticated and user.has_role(*VIEW_ROLES, ADMIN)


@bp.app_template_global()
def may_send_again(user, message: OutboxMessage) -> bool:
    return message.status in outbox.RESENDABLE and user.has_role(*RESEND_ROLES, ADMIN)


def _message_or_404(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return message


@bp.route("/outbox")
@roles_required(*VIEW_ROLES)
def index():
    status = request.args.get("status", "")
    status = status if status in queries.STATUSES else ""  # like the other lists: an unknown filter shows all
    page = db.paginate(queries.listing(status), page=numbers.page_arg(), per_page=PER_PAGE, error_out=False)
    counts = queries.counts()
    return render_template("outbox/index.html", page=page, status=status, counts=counts,
                           total=sum(counts.values()), orders=queries.order_numbers(page.items),
                           mail_server=current_app.config["MAIL_SERVER"])


@bp.route("/outbox/<int:message_id>")
@roles_required(*VIEW_ROLES)
def detail(message_id: int):
    message = _message_or_404(message_id)
    orders = queries.order_numbers([message])
    person = db.session.get(User, message.user_id) if message.user_id is not None else None
    return render_template("outbox/detail.html", message=message, order_number=orders.get(message.order_id),
                           person=person, mail_server=current_app.config["MAIL_SERVER"])


@bp.route("/outbox/<int:message_id>/send-again", methods=["POST"])
@roles_required(*RESEND_ROLES)
def send_again(message_id: int):
    message = _message_or_404(message_id)
    outbox.send_again(message)  # Conflict (409) unless it failed or bounced
    db.session.commit()
    flash(gettext("Message %(id)s is queued again for %(address)s.", id=message.id,
                  address=message.to_address or "-"), "success")
    return redirect(url_for("outbox.detail", message_id=message.id))
