"""Google's OAuth 2.0 endpoints as the contract server plays them: the consent page (authorisation code with
PKCE), the token endpoint (authorization_code with the S256 check, refresh_token) and revoke."""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect

from tests.contract.google_health.state import ContractState, Logged, s256

AUTH_PATH = "/o/oauth2/v2/auth"


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    document = f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>"
    return Response(document, status_code=status, media_type="text/html")


def _oauth_error(error: str, description: str, status: int = 400) -> Response[dict[str, str]]:
    return Response({"error": error, "error_description": description}, status_code=status)


def _consent_problem(state: ContractState, query: dict[str, str]) -> str | None:
    if query.get("client_id") != state.client_id:
        return "invalid_client: unknown OAuth client"
    if query.get("redirect_uri") not in state.redirect_uris:
        return "redirect_uri_mismatch: the redirect URI is not registered for this client"
    if query.get("response_type") != "code":
        return "unsupported_response_type"
    if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
        return "invalid_request: PKCE with code_challenge_method=S256 is required"
    if not query.get("scope"):
        return "invalid_scope: no scope"
    return None


def oauth_handlers(state: ContractState) -> list[HTTPRouteHandler]:
    @get(AUTH_PATH, sync_to_thread=False)
    def consent(request: Request[Any, Any, Any]) -> Response[str]:
        query = {k: str(v) for k, v in request.query_params.items()}
        problem = _consent_problem(state, query)
        if problem is not None:
            return _page("Error 400", f"<h1>Access blocked</h1><p id='error'>{html.escape(problem)}</p>", 400)
        hidden = "".join(
            f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>" for k, v in query.items()
        )
        accounts = "".join(f"<option>{html.escape(email)}</option>" for email in sorted(state.accounts))
        scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in query["scope"].split())
        body = (
            "<h1>wearstream wants to access your Google Account</h1>"
            f"<form method='post' action='{AUTH_PATH}/decision'>{hidden}"
            f"<label>Account <select name='account' id='account'>{accounts}</select></label>"
            f"<p>This will allow wearstream to:</p><ul id='scopes'>{scopes}</ul>"
            "<button type='submit' name='decision' value='deny' id='deny'>Deny</button>"
            "<button type='submit' name='decision' value='allow' id='allow'>Allow</button></form>"
        )
        return _page("Sign in - Google Accounts", body)

    @post(f"{AUTH_PATH}/decision", status_code=302)
    async def decision(request: Request[Any, Any, Any]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        problem = _consent_problem(state, form)
        if problem is not None:
            return _page("Error 400", f"<p id='error'>{html.escape(problem)}</p>", 400)
        target = form["redirect_uri"]
        if form.get("decision") != "allow" or form.get("account") not in state.accounts:
            return Redirect(f"{target}?{urlencode({'error': 'access_denied', 'state': form.get('state', '')})}")
        with state.lock:
            code = state.new_code(
                form["account"], form["client_id"], target, form["code_challenge"], tuple(form["scope"].split())
            )
        return Redirect(f"{target}?{urlencode({'code': code, 'state': form.get('state', ''), 'scope': form['scope']})}")

    @post("/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with state.lock:
            answer = _token(state, form)
            state.log.append(Logged(time.monotonic(), "/token", answer.status_code or 200, None))
        return answer

    @post("/revoke", status_code=200)
    async def revoke(request: Request[Any, Any, Any]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        token_value = form.get("token") or str(request.query_params.get("token", ""))
        with state.lock:
            grant = state.grants.get(token_value) or getattr(state.access.get(token_value), "grant", None)
            if grant is None:
                return _oauth_error("invalid_token", "Token expired or revoked")
            grant.revoked = True
        return Response({}, status_code=200)

    return [consent, decision, token, revoke]


def _token(state: ContractState, form: dict[str, str]) -> Response[Any]:
    if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
        return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = state.codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_ms < state.clock.now_ms():
            return _oauth_error("invalid_grant", "Malformed auth code.")
        code.used = True  # one try, even a failed one
        if code.redirect_uri != form.get("redirect_uri") or code.client_id != form["client_id"]:
            return _oauth_error("invalid_grant", "redirect_uri or client does not match the code")
        if s256(form.get("code_verifier", "")) != code.challenge:
            return _oauth_error("invalid_grant", "Invalid code verifier.")
        grant = state.new_grant(code.account, code.scopes)
        return Response({**state.issue(grant), "refresh_token": grant.refresh_token}, status_code=200)
    if grant_type == "refresh_token":
        refreshed = state.grants.get(form.get("refresh_token", ""))
        if refreshed is None or refreshed.revoked:
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        return Response(state.issue(refreshed), status_code=200)
    return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r}")
