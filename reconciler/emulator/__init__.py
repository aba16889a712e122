"""A local emulator of the PAI-EAS management API (2021-07-01) and its prediction gateway.

Split the way moto splits a service:

    app.py        create_app(settings) -> Starlette: management, /api/predict, /_emulator admin, /metrics
    routes.py     method + path template -> operation name
    auth.py       ACS3-HMAC-SHA256 verification (shared canonicaliser: reconciler.eas.signing)
    intake.py     the gate of management and admin calls: signature from headers, size limit, body hash
    responses.py  parse the request, call the backend, serialise EAS wire shapes
    backend.py    service operations (HTTP-free rules; errors named after wire codes, errors.py)
    scaling.py    the autoscaler API, RestartService, ListServiceInstances
    autoscaler.py the autoscaler's storage form, the load it sees and its scaling rule
    instances.py  a service's instances (placement, zone, spot) derived from its state
    groups.py     group operations, gateway routing data, admin controls
    lifecycle.py  emulated time, phases, grants (stock, capacity), settling and the history
    models.py     stored records and the life of a service as a pure function of time
    traffic.py    the emulator's own share math and smooth weighted round robin
    store.py      SQLite (WAL, BEGIN IMMEDIATE)
    gateway.py    /api/predict/<group>[.<service>], behind the endpoint's AccessToken
    tokens.py     AccessTokens of services and groups (derived from the state file's key)
    faults.py     injected throttling, 5xx, latency and dropped connections
    metrics.py    Prometheus counters and histogram (prometheus_client, one registry per app)
    admin.py      /_emulator/* endpoints (signed, bodies validated) and /metrics
    admin_api.py  admin actions and AdminAuth, the client-side signer of admin calls
    settings.py   EmulatorSettings and every choice made where the EAS docs are silent
"""
