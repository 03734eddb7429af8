"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from server import bootstrap, dashboard
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
from server.callbacks import pages as callback_pages
from server.callbacks import routes_calls as callback_calls
from server.callbacks import routes_exchange as callback_exchange
from server.callbacks import routes_stats as callback_stats
from server.callbacks import routes_worklists as callback_worklists
from server.config import Settings
from server.dashboard import apidocs
from server.db import make_engine, make_sessionmaker
from server.devices import ingest as device_ingest
from server.devices import routes as device_routes
from server.headers import SecurityHeaders
from server.limits import RequestLimits
from server.login_guard import HashPool, LoginThrottle
from server.migrate import schema_behind
from server.policy import load_policy
from server.security import dummy_password_hash
from server.sms import routes as sms_routes

API_PREFIX = "/api/v1"


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
    engine = make_engine(settings.resolved_database_url)
    app = FastAPI(
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
    api.include_router(sms_routes.router)
    api.include_router(callback_worklists.router)
    api.include_router(callback_calls.router)
    api.include_router(callback_stats.router)
    api.include_router(callback_exchange.router)
    api.include_router(device_ingest.router)  # device health (server/devices)
    api.include_router(device_routes.router)
    for router in admin.routers:
        api.include_router(router)
    app.include_router(api)
    app.include_router(metrics.router)  # /metrics, outside /api/v1 (Prometheus' default path)
    dashboard.mount(app)
    callback_pages.mount(app)  # the agent's page, /agent/
    if settings.docs_enabled:
        apidocs.mount(app)
    if settings.bootstrap_admin or settings.bootstrap_gateway:
        with app.state.sessionmaker() as session:
            bootstrap.apply(session, settings)
    return app
