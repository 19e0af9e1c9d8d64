"""The web layer: thin blueprints over the domain and app.workflow."""

from flask import Flask

from app.web import (
    account,
    api_clients,
    auth,
    dashboard,
    draft_test,
    errors,
    exceptions,
    heatmap,
    inbox,
    intake,
    kpis,
    labels,
    markdown,
    modeler,
    numbers,
    order_import,
    orders,
    outbox,
    process_versions,
    processes,
    sla_admin,
    sla_clocks,
)


def register(app: Flask) -> None:
    app.url_map.converters["int"] = numbers.BoundedIntConverter  # before any route is added
    auth.init_app(app)
    errors.init_app(app)
    labels.init_app(app)
    markdown.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(processes.bp)
    app.register_blueprint(process_versions.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(order_import.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(exceptions.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(kpis.bp)
    app.register_blueprint(heatmap.bp)
    app.register_blueprint(sla_admin.bp)
    app.register_blueprint(sla_clocks.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(draft_test.bp)
    app.register_blueprint(api_clients.bp)
    app.register_blueprint(outbox.bp)
