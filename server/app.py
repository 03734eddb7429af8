"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from server import bootstrap, dashboard
from server.alerts import routes_api as alerts_api
from server.alerts import worker as alerts_worker
from server.api import (
    admin,
    auth,
    errors,
    evaluations,
    health,
    ingest,
    metrics,
    phones,
    rankings,
    scores,
    tickets,
)
from server.badratings import routes as bad_ratings
from server.callbacks import pages as callback_pages
from server.callbacks import routes_calls as callback_calls
from server.callbacks import routes_exchange as callback_exchange
from server.callbacks import routes_stats as callback_stats
from server.callbacks import routes_worklists as callback_worklists
from server.cases import pages as case_pages
from server.cases import routes_api as cases_api
from server.cases import routes_figures as case_figures
from server.cases import routes_forms as case_forms
from server.cases import worker as cases_worker
from server.config import Settings
from server.dashboard import apidocs
from server.db import make_engine, make_sessionmaker
from server.devices import ingest as device_ingest
from server.devices import routes as device_routes
from server.headers import SecurityHeaders
from server.limits import RequestLimits
from server.lobby import routes as lobby_routes
from server.login_guard import HashPool, LoginThrottle
from server.migrate import schema_behind
from server.online import routes_api as online_api
from server.online import routes_page as online_pages
from server.policy import load_policy
from server.reports import routes as report_routes
from server.security import dummy_password_hash
from server.sms import routes as sms_routes
from server.trends import routes as trend_routes

API_PREFIX = "/api/v1"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of the server process, stopped (threads joined) on shutdown: the alert
    deliverer (docs/cases.md "Alerts"; off with HALLRATE_ALERTS_DELIVER=0) and the case tick."""
    deliverer = alerts_worker.start_in_process(
        app.state.sessionmaker, app.state.policy, app.state.alert_settings
    )
    app.state.alert_deliverer = deliverer
    # The case clock (docs/cases.md "Command line"; off with HALLRATE_CASES_TICK_SECONDS=0).
    ticker = cases_worker.start_in_process(
        app.state.sessionmaker, app.state.policy, app.state.case_settings
    )
    try:
        yield
    finally:
        if ticker is not None:
            ticker.stop()
        if deliverer is not None:
            deliverer.stop()
        app.state.alert_deliverer = None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check()
    policy = load_policy(settings.policy_file)
    if policy.timezone != settings.tz:
        raise ValueError(
            f"policy timezone {policy.timezone} differs from HALLRATE_TZ {settings.tz}; "
            "local days are stored in one zone, so they must agree"
        )
    if reason := schema_behind(settings.resolved_database_url):
        raise ValueError(reason)
    alert_settings = alerts_worker.load_alert_settings()
    case_settings = cases_worker.load_case_settings()
    engine = make_engine(settings.resolved_database_url)
    app = FastAPI(
        lifespan=lifespan,
        title="hallrate server",
        version="0.1.0",
        description="Evaluations of government service halls (好差评) and their 30/30/40 score.",
        # /docs is served from packaged assets (server/dashboard/apidocs.py); no ReDoc (CDN).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.add_middleware(RequestLimits, limits=settings.limits)
    app.add_middleware(SecurityHeaders)  # outermost: also on the limits' own answers
    app.state.settings = settings
    app.state.policy = policy
    app.state.alert_settings = alert_settings
    app.state.case_settings = case_settings
    app.state.alert_deliverer = None
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.login_throttle = LoginThrottle(
        settings.login_max_failures_per_user,
        settings.login_max_failures_per_address,
        settings.login_failure_window_seconds,
    )
    app.state.hash_pool = HashPool(settings.hash_workers, settings.password_hash_queue)
    dummy_password_hash()  # computed once now, not on the first unknown-user login
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX)
    for module in (health, auth, ingest, scores, rankings, evaluations, tickets, phones):
        api.include_router(module.router)
    api.include_router(trend_routes.router)  # /trends, /heatmap (server/trends), beside /scores
    api.include_router(sms_routes.router)
    api.include_router(callback_worklists.router)
    api.include_router(callback_calls.router)
    api.include_router(callback_stats.router)
    api.include_router(callback_exchange.router)
    # Before any /cases/{id} route: "figures" is not a case id.
    api.include_router(case_figures.router)
    api.include_router(device_ingest.router)  # device health (server/devices)
    api.include_router(device_routes.router)
    api.include_router(online_api.router)  # rating links, refused attempts (server/online)
    # Case forms (PDF) and the 台账 (XLSX), before the case API: /cases/ledger.xlsx is no id.
    api.include_router(case_forms.router)
    api.include_router(cases_api.router)  # cases (server/cases; ids match digits only)
    api.include_router(alerts_api.router)  # dashboard notifications, alert targets
    api.include_router(lobby_routes.api_router)  # the lobby screen's data (server/lobby)
    api.include_router(report_routes.router)  # publications (server/reports)
    api.include_router(bad_ratings.router)  # the 差评 list (server/badratings)
    for router in admin.routers:
        api.include_router(router)
    app.include_router(api)
    app.include_router(metrics.router)  # /metrics, outside /api/v1 (Prometheus' default path)
    dashboard.mount(app)
    callback_pages.mount(app)  # the agent's page, /agent/
    case_pages.mount(app)  # the case pages, /cases/
    online_pages.register(app, policy)  # the citizen's rating pages, /r/ and /w/
    lobby_routes.register(app)  # the lobby screen (大屏), /lobby/{hall}
    if settings.docs_enabled:
        apidocs.mount(app)
    if settings.bootstrap_admin or settings.bootstrap_gateway:
        with app.state.sessionmaker() as session:
            bootstrap.apply(session, settings)
    return app
