"""A small, independent OpenID Connect provider for the federation tests, run as its own process.

    python tests/servers/oidc_provider.py --config provider.json

The JSON file names its clients and users:

    {"clients": {"<client_id>": {"secret": "...", "redirect_uris": ["..."],
                                 "auth_methods": ["client_secret_basic", "client_secret_post"]}},
     "users": {"<login>": {"sub": "...", <claims>}},
     "user": "<login approved automatically>"}

It makes its own RSA key, listens on 127.0.0.1 (``--port``, 0 = a free one), prints
``READY <issuer>`` once it serves, and speaks discovery, authorize (auto-approving the
current user, PKCE S256 required), token (client_secret_basic or _post, PKCE check),
JWKS and userinfo. Tests steer it over HTTP:

    POST /_control {"user": "<login>", "users": {...}, "fail": "<mode>" | null, "drop_claims": [...]}
    GET  /_stats   {"discovery": n, "jwks": n, "token": n}

Failure modes: access_denied, token_error, bad_signature, wrong_nonce, wrong_audience,
extra_audience (several audiences, no azp), expired.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


class Provider:
    def __init__(self, config: dict) -> None:
        self.clients: dict = config.get("clients", {})
        self.users: dict = config.get("users", {})
        self.user: str | None = config.get("user")
        self.fail: str | None = None
        self.drop_claims: list[str] = []
        self.issuer = ""
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"}, private=True
        )
        # Same kid, different key: what a forged token looks like.
        self.forger = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}
        self.stats = {"discovery": 0, "jwks": 0, "token": 0, "authorize": 0}
        self.lock = threading.Lock()

    def claims_of(self, login: str) -> dict:
        claims = dict(self.users[login])
        for name in self.drop_claims:
            claims.pop(name, None)
        return claims


class Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, *args) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, url: str) -> None:
        self.send_response(302)
        self.send_header("Location", url)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _form(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(raw or "{}")
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def do_GET(self) -> None:
        p = self.provider
        url = urlsplit(self.path)
        args = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            p.stats["discovery"] += 1
            return self._json(
                200,
                {
                    "issuer": p.issuer,
                    "authorization_endpoint": p.issuer + "/authorize",
                    "token_endpoint": p.issuer + "/token",
                    "jwks_uri": p.issuer + "/jwks",
                    "userinfo_endpoint": p.issuer + "/userinfo",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                },
            )
        if url.path == "/jwks":
            p.stats["jwks"] += 1
            return self._json(200, {"keys": [p.key.as_dict(private=False)]})
        if url.path == "/authorize":
            return self._authorize(args)
        if url.path == "/userinfo":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            login = p.tokens.get(token)
            if login is None:
                return self._json(401, {"error": "invalid_token"})
            return self._json(200, p.claims_of(login))
        if url.path == "/_stats":
            return self._json(200, p.stats)
        return self._json(404, {"error": "not_found"})

    def _authorize(self, args: dict) -> None:
        p = self.provider
        p.stats["authorize"] += 1
        client = p.clients.get(args.get("client_id", ""))
        redirect_uri = args.get("redirect_uri", "")
        if client is None or redirect_uri not in client.get("redirect_uris", []):
            return self._json(
                400, {"error": "invalid_request", "error_description": "unknown client or redirect_uri"}
            )
        state = args.get("state", "")
        if args.get("response_type") != "code" or args.get("code_challenge_method") != "S256":
            return self._redirect(
                redirect_uri + "?" + urlencode({"error": "invalid_request", "state": state})
            )
        if p.fail == "access_denied":
            query = {"error": "access_denied", "error_description": "The user said no", "state": state}
            return self._redirect(redirect_uri + "?" + urlencode(query))
        code = secrets.token_urlsafe(24)
        with p.lock:
            p.codes[code] = {
                "client_id": args["client_id"],
                "redirect_uri": redirect_uri,
                "challenge": args.get("code_challenge", ""),
                "nonce": args.get("nonce"),
                "user": p.user,
            }
        return self._redirect(redirect_uri + "?" + urlencode({"code": code, "state": state}))

    def _client_auth(self, form: dict) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret, method = unquote(client_id), unquote(secret), "client_secret_basic"
        else:
            client_id, secret, method = (
                form.get("client_id", ""),
                form.get("client_secret", ""),
                "client_secret_post",
            )
        client = self.provider.clients.get(client_id)
        if client is None or client.get("secret") != secret:
            return None
        if method not in client.get("auth_methods", ["client_secret_basic", "client_secret_post"]):
            return None
        return client_id

    def do_POST(self) -> None:
        p = self.provider
        url = urlsplit(self.path)
        form = self._form()
        if url.path == "/_control":
            if "users" in form:
                p.users.update(form["users"])
            if "user" in form:
                p.user = form["user"]
            if "fail" in form:
                p.fail = form["fail"]
            if "drop_claims" in form:
                p.drop_claims = list(form["drop_claims"])
            return self._json(200, {"ok": True})
        if url.path != "/token":
            return self._json(404, {"error": "not_found"})
        p.stats["token"] += 1
        client_id = self._client_auth(form)
        if client_id is None:
            return self._json(
                401, {"error": "invalid_client", "error_description": "client authentication failed"}
            )
        if p.fail == "token_error":
            return self._json(
                400, {"error": "invalid_grant", "error_description": "Mã đã hết hạn (code expired)"}
            )
        with p.lock:
            grant = p.codes.pop(form.get("code", ""), None)
        if (
            grant is None
            or grant["client_id"] != client_id
            or grant["redirect_uri"] != form.get("redirect_uri")
        ):
            return self._json(400, {"error": "invalid_grant", "error_description": "unknown code"})
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != grant["challenge"]:
            return self._json(
                400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
            )
        claims = p.claims_of(grant["user"])
        now = int(time.time())
        id_claims = {
            **claims,
            "iss": p.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
        }
        if p.fail == "wrong_nonce":
            id_claims["nonce"] = "not-the-nonce"
        if p.fail == "wrong_audience":
            id_claims["aud"] = "someone-else"
        if p.fail == "extra_audience":
            id_claims["aud"] = [client_id, "someone-else"]
        if p.fail == "expired":
            id_claims["iat"], id_claims["exp"] = now - 3600, now - 1800
        key = p.forger if p.fail == "bad_signature" else p.key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, id_claims, key)
        access_token = secrets.token_urlsafe(24)
        p.tokens[access_token] = grant["user"]
        return self._json(
            200,
            {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token},
            {"Cache-Control": "no-store"},
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON file with clients, users and the current user")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    with open(options.config, encoding="utf-8") as file:
        provider = Provider(json.load(file))
    handler = type("BoundHandler", (Handler,), {"provider": provider})
    server = ThreadingHTTPServer(("127.0.0.1", options.port), handler)
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"READY {provider.issuer}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
