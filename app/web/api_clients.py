"""Admins' pages for API clients: the clients with their scopes and use, a new client (its token shown
once), revoking one, and a client's audited calls. app/api/auth.py creates and revokes; this module reads
forms and shows pages."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.accounts.roles import ADMIN
from app.api import audit, auth, scopes
from app.api.models import ApiClient
from app.extensions import db
from app.orders.models import CHANNELS
from app.web import numbers
from app.web.access import roles_required
from app.web.labels import label

bp = Blueprint("api_clients", __name__, url_prefix="/admin/api-clients")
admin_required = roles_required(ADMIN)

CALLS_PER_PAGE = 50
RECENT_HOURS = 24
SCOPE_WORDS = {
    scopes.ORDERS_READ: _l("read orders and a customer's orders"),
    scopes.ORDERS_WRITE: _l("place orders"),
    scopes.EVENTS_WRITE: _l("report events: receipts, payments, changes, cancellations, carrier events"),
    scopes.EXCEPTIONS_READ: _l("read an order's exception cases"),
    scopes.EXCEPTIONS_WRITE: _l("resolve exception cases"),
}


class ChecklistField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=60)],
                       description=_l("Letters, digits, '.', '_' or '-', e.g. webshop or edi-gateway"))
    channel = SelectField(_l("Channel"), description=_l("Orders the client places are recorded with this channel"))
    scopes = ChecklistField(_l("Scopes"), choices=[SelectChoice(scope, scope) for scope in scopes.SCOPES],
                            default=list(scopes.SCOPES))


def _client_form() -> ClientForm:
    form = ClientForm()
    form.channel.choices = [SelectChoice(channel, label(channel, "channel")) for channel in CHANNELS]
    return form


def _index(form: ClientForm, problem: str | None = None, status: int = 200):
    clients = db.session.scalars(select(ApiClient).order_by(ApiClient.active.desc(), ApiClient.name)).all()
    page = render_template("admin/api_clients.html", clients=clients, calls=audit.calls_since(RECENT_HOURS),
                           form=form, problem=problem, scope_words=SCOPE_WORDS, recent_hours=RECENT_HOURS)
    return page, status


@bp.get("")
@admin_required
def index():
    return _index(_client_form())


@bp.post("")
@admin_required
def create():
    form = _client_form()
    if not form.validate_on_submit():
        return _index(form, status=422)
    try:
        client, token = auth.create_client(form.name.data.strip(), form.channel.data, " ".join(form.scopes.data),
                                           created_by=current_user.username)
    except auth.ClientError as error:  # the domain's own words, as the CLI shows them
        db.session.rollback()
        return _index(form, str(error), 422)
    db.session.commit()
    page = render_template("admin/api_clients_created.html", client=client, token=token)
    # The token is in this page only: keep it out of caches and the browser's history copy.
    return page, 200, {"Cache-Control": "no-store"}


@bp.get("/<int:client_id>")
@admin_required
def detail(client_id: int):
    client = db.get_or_404(ApiClient, client_id)
    page = db.paginate(audit.calls_of(client.id), page=numbers.page_arg(), per_page=CALLS_PER_PAGE, error_out=False)
    recent = audit.calls_since(RECENT_HOURS, client.id).get(client.id, 0)
    return render_template("admin/api_clients_detail.html", client=client, page=page, scope_words=SCOPE_WORDS,
                           recent=recent, recent_hours=RECENT_HOURS)


@bp.post("/<int:client_id>/revoke")
@admin_required
def revoke(client_id: int):
    client = db.get_or_404(ApiClient, client_id)
    try:
        auth.revoke(client, by=current_user.username)
    except auth.ClientError:
        flash(gettext("API client %(name)s was revoked already.", name=client.name), "error")
    else:
        db.session.commit()
        flash(gettext("API client %(name)s is revoked: its token no longer works.", name=client.name), "success")
    return redirect(url_for("api_clients.detail", client_id=client.id))
