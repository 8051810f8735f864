"""The web client: `GET /` is the page, `/static/*` its script, style and audio worklet.

Plain HTML, CSS and JavaScript with no build step. The page dials `POST /calls` with
its WebRTC offer, plays the agent, and draws the call from `GET /calls/<id>/events`
(browser.py); the key and the tools stay on this server.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .server import Server

STATIC = Path(__file__).with_name("static")


def routes(server: Server) -> list[BaseRoute]:
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{project}}", html.escape(server.project.name))
    page = page.replace("{{target}}", html.escape(server.project.config.target))  # app.js sends GPT-Live no Realtime events

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return [Route("/", index, methods=["GET"]), Mount("/static", StaticFiles(directory=STATIC), name="static")]
