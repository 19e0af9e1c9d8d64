"""The exception desk: the list of exception cases with filters and counts per family, one case with
its order, resolution, messages, open task and timeline, and the form staff report an exception with
from an order (or from a task of its order process)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.accounts.roles import ADMIN, LANE_ROLES
from app.catalog import service as catalog
from app.exceptions import queries, taxonomy
from app.exceptions import service as cases
from app.exceptions.models import SEVERITIES, ExceptionCase
from app.extensions import db
from app.i18n import translate
from app.orders import queries as orders
from app.orders.models import Order
from app.web import numbers
from app.web.access import roles_required
from app.web.orders import summarize
from app.workflow import inspect, runtime
from app.workflow.models import HumanTask, ProcessInstance

bp = Blueprint("exceptions", __name__)

PER_PAGE = 25
# Staff who work an inbox see the desk (managers among them) and may report; admins hold every right.
DESK_ROLES = LANE_ROLES
REPORTER_ROLES = LANE_ROLES
desk_required = roles_required(*DESK_ROLES)
report_required = roles_required(*REPORTER_ROLES)

STATUS_LABELS = {queries.ACTIVE: _l("not closed"), "open": _l("open"), "in_progress": _l("in progress"),
                 "resolved": _l("resolved"), "closed": _l("closed"), "cancelled": _l("withdrawn")}
SEVERITY_LABELS = {"low": _l("low"), "medium": _l("medium"), "high": _l("high"), "critical": _l("critical")}
REFUND_LABELS = {"requested": _l("awaiting approval"), "approved": _l("approved"), "rejected": _l("declined"),
                 "paid": _l("paid out")}
CODE_LABELS = {"fixed": _l("Fixed"), "wont_fix": _l("Won't fix"), "duplicate": _l("Duplicate"),
               "rejected": _l("Rejected")}
SOURCE_LABELS = {"process": _l("the order process"), "staff": _l("staff"), "api": _l("a partner system (API)")}
AGE_LABELS = {"1d": _l("Older than 1 day"), "3d": _l("Older than 3 days"), "7d": _l("Older than 7 days")}
MAX_QUANTITY = 1_000_000
MAX_ADDRESS = 2000


# --- for every page: the nav, the order page and the task page ------------------------------------


@bp.app_template_global()
def may_see_exceptions(user) -> bool:
    return user.is_authenticated and user.has_role(*DESK_ROLES, ADMIN)


@bp.app_template_global()
def may_report_exception(user) -> bool:
    return user.is_authenticated and user.has_role(*REPORTER_ROLES, ADMIN)


@bp.app_template_global()
def open_exception_count() -> int:
    return queries.open_count()


@bp.app_template_global()
def exceptions_of(order: Order) -> list[ExceptionCase]:
    return cases.for_order(order)


@bp.app_template_global()
def case_label(code: str | None, what: str) -> str:
    """The words for an exception's type, family, status, severity, source, resolution code or refund
    status, in the reader's language (the taxonomy's texts through the catalog, like the texts of
    diagrams and forms)."""
    if not code:
        return ""
    if what == "type":
        found = taxonomy.TYPES[code].label if code in taxonomy.TYPES else None
    elif what == "family":
        found = taxonomy.FAMILIES.get(code)
    else:
        found = {"status": STATUS_LABELS, "severity": SEVERITY_LABELS, "source": SOURCE_LABELS,
                 "refund": REFUND_LABELS, "code": CODE_LABELS}[what].get(code)
        return str(found) if found else code.replace("_", " ")
    return translate(found) if found else code.replace("_", " ")


@bp.app_template_global()
def action_label(type_key: str, action: str) -> str:
    """A playbook remedy of a type, in words."""
    kind = taxonomy.TYPES.get(type_key)
    text = kind.actions.get(action) if kind else None
    return translate(text) if text else action.replace("_", " ")


@bp.app_template_global()
def task_exception(task: HumanTask) -> ExceptionCase | None:
    """The case a task of the exception process works on (None for any other task)."""
    return db.session.scalar(select(ExceptionCase).join(
        ProcessInstance, ProcessInstance.business_key == ExceptionCase.number).where(
        ProcessInstance.id == task.instance_id, ProcessInstance.process_key == cases.PROCESS_KEY))


@bp.app_template_global()
def task_order_number(task: HumanTask) -> str | None:
    """The order a task of the order process is about, to report an exception on it."""
    key = db.session.scalar(select(ProcessInstance.business_key).where(
        ProcessInstance.id == task.instance_id, ProcessInstance.process_key == "order_process"))
    return key


# --- the list --------------------------------------------------------------------------------------


@bp.route("/exceptions")
@desk_required
def index():
    filters = queries.Filters.parse(request.args)
    sort = request.args.get("sort") if request.args.get("sort") in queries.SORTS else "newest"
    page = db.paginate(queries.listing(filters, sort), page=numbers.page_arg(),
                       per_page=PER_PAGE, error_out=False)
    counts = queries.family_counts(filters)
    return render_template(
        "exceptions/index.html", page=page, filters=filters, sort=sort, counts=counts,
        all_count=sum(counts.values()), families=taxonomy.FAMILIES,
        types=[t.key for t in taxonomy.TYPES.values() if not filters.family or t.family == filters.family],
        severities=SEVERITIES, statuses=STATUS_LABELS, owners=taxonomy.OWNER_ROLES, ages=AGE_LABELS,
    )


# --- one case ----------------------------------------------------------------------------------------


def _case_or_404(number: str) -> ExceptionCase:
    case = queries.by_number(number)
    if case is None:
        abort(404)
    return case


def _timeline(business_key: str) -> list[tuple]:
    names: dict[str, str] = {}
    for instance in inspect.instances_of(business_key):
        names.update(inspect.element_names(instance.definition))
    return [(event, names.get(event.element_id or ""), summarize(event.kind, event.detail))
            for event in inspect.timeline(business_key)]


@bp.route("/exceptions/<number>")
@desk_required
def detail(number: str):
    case = _case_or_404(number)
    instances = inspect.instances_of(case.number)
    return render_template(
        "exceptions/detail.html", case=case, kind=taxonomy.TYPES.get(case.type), order=case.order,
        records=queries.records(case), tasks=inspect.open_tasks(case.number), timeline=_timeline(case.number),
        instance=instances[-1] if instances else None,
    )


# --- reporting one -------------------------------------------------------------------------------------


class ReportForm(FlaskForm):
    """What went wrong with an order, as staff report it. The choices are checked in validate(), so
    each refusal says what to do rather than "Not a valid choice"."""

    family = SelectField(_l("Category"), choices=list(taxonomy.FAMILIES), validate_choice=False)
    type = SelectField(_l("Type"), choices=list(taxonomy.TYPES), validate_choice=False)
    severity = SelectField(_l("Severity"), choices=["", *SEVERITIES], validate_choice=False)
    description = TextAreaField(_l("What happened"), validators=[Length(max=cases.MAX_TEXT)])
    # A data change: what the customer asks for.
    line = StringField(_l("Order line"), validators=[Length(max=20)])
    quantity = StringField(_l("New quantity"), validators=[Length(max=20)])
    shipping_address = TextAreaField(_l("New shipping address"), validators=[Length(max=MAX_ADDRESS)])
    # A count mismatch: what was counted.
    sku = StringField(_l("Product SKU"), validators=[Length(max=40)])
    counted = StringField(_l("Counted quantity"), validators=[Length(max=20)])

    def __init__(self, order: Order, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        self.problems: list[str] = []

    def _whole(self, field, least: int) -> int | None:
        text = (field.data or "").strip()
        if not text:
            return None
        if not text.isdigit() or int(text) < least or int(text) > MAX_QUANTITY:
            field.errors.append(gettext("Enter a whole number from %(least)s to %(most)s.", least=least,
                                        most=f"{MAX_QUANTITY:,}"))
            return None
        return int(text)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        family, type_key = self.family.data or "", self.type.data or ""
        if family not in taxonomy.FAMILIES:
            self.family.errors.append(gettext("Choose the category."))
        kind = taxonomy.TYPES.get(type_key)
        if kind is None:
            self.type.errors.append(gettext("Choose the type of exception."))
        elif family in taxonomy.FAMILIES and kind.family != family:
            self.type.errors.append(gettext("%(type)s is not in the %(family)s category.", type=translate(kind.label),
                                            family=translate(taxonomy.FAMILIES[family])))
        if (self.severity.data or "") not in ("", *SEVERITIES):
            self.severity.errors.append(gettext("Choose a severity, or leave it to the type."))
        if not (self.description.data or "").strip():
            self.description.errors.append(gettext("Say what happened."))
        if kind is not None and kind.key == "data_change":
            self._check_change()
        if kind is not None and kind.key == "count_mismatch":
            self._check_count()
        return valid and not any(field.errors for field in self)

    def _check_change(self) -> None:
        line = None
        position = self._whole(self.line, 1)
        if position is not None:
            line = next((ln for ln in self.order.lines if ln.position == position), None)
            if line is None:
                self.line.errors.append(gettext("%(order)s has no line %(line)s.", order=self.order.number,
                                                line=position))
        quantity = self._whole(self.quantity, 1)
        if quantity is None:
            return
        if line is None and not self.line.errors:
            if len(self.order.lines) == 1:
                line = self.order.lines[0]
            else:
                self.line.errors.append(gettext("Say which line the new quantity is for."))
        if line is not None and quantity < line.shipped_qty:
            self.quantity.errors.append(gettext("Line %(line)s cannot go below the %(shipped)s already delivered.",
                                                line=line.position, shipped=line.shipped_qty))

    def _check_count(self) -> None:
        sku = (self.sku.data or "").strip()
        if not sku:
            self.sku.errors.append(gettext("Enter the SKU that was counted."))
        elif catalog.by_sku(sku) is None:
            self.sku.errors.append(gettext("There is no product '%(sku)s'.", sku=sku))
        if not (self.counted.data or "").strip():
            self.counted.errors.append(gettext("Enter the counted quantity."))
        else:
            self._whole(self.counted, 0)

    def details(self) -> dict:
        """What the reporter asked for or observed, in the keys the playbooks read."""
        if self.type.data == "data_change":
            found = {"line": (self.line.data or "").strip(), "quantity": (self.quantity.data or "").strip()}
            details = {name: int(value) for name, value in found.items() if value}
            address = (self.shipping_address.data or "").strip()
            return {**details, "shipping_address": address} if address else details
        if self.type.data == "count_mismatch":
            return {"sku": catalog.by_sku(self.sku.data).sku, "counted": int(self.counted.data.strip())}
        return {}

    def show_errors(self, error: cases.ExceptionError) -> None:
        """Refusals of the service next to their fields; what the order cannot take (given as the
        type's refusal) and anything else for the whole form."""
        for name, message in (error.errors or {"": str(error)}).items():
            field = self._fields.get(name) if name != "type" else None
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                self.problems.append(message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."))


def _order_or_404(number: str) -> Order:
    order = orders.by_number(number)
    if order is None:
        abort(404)
    return order


@bp.route("/orders/<number>/exceptions/new", methods=["GET", "POST"])
@report_required
def report(number: str):
    order = _order_or_404(number)
    form = ReportForm(order)
    if form.validate_on_submit():
        try:
            with runtime.unit_of_work():
                case = cases.raise_case(
                    order, form.type.data, source="staff", reported_by=current_user.username,
                    description=form.description.data.strip(), severity=form.severity.data or None,
                    details=form.details())
        except cases.ExceptionError as error:
            form.show_errors(error)
        else:
            flash(gettext("Exception %(number)s was reported on %(order)s.", number=case.number, order=order.number),
                  "success")
            return redirect(url_for("exceptions.detail", number=case.number))
    refused = form.is_submitted()
    page = render_template("exceptions/report.html", form=form, order=order, refused=refused,
                           families=taxonomy.FAMILIES, types=taxonomy.TYPES, severities=SEVERITIES,
                           open_cases=cases.open_cases(order))
    return page, 422 if refused else 200
