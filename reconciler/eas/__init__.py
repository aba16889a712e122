"""The EAS client layer: everything that talks to the EAS management API (or the emulator).

    client.EasClient        one typed async method per operation; wire models in models.py
    transport.Caller        rate limit -> send -> map errors (errormap.py) -> retry (retry.py); counts calls
    auth.AcsSigner          httpx.Auth: ACS3-HMAC-SHA256 per attempt, canonicaliser in signing.py

Foreign exceptions (httpx, pydantic, alibabacloud_credentials) are mapped to reconciler.errors here
and nowhere else. Which endpoint and credentials a client gets (including the embedded emulator)
is chosen one floor up, in `reconciler.targets.open_client(target, region)`.
"""
