"""Signing in through the login form, as a browser does (CSRF cookie, then the post)."""

from __future__ import annotations


def login(client, email: str, password: str, next: str = "/projects"):
    form = client.get("/login")
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf": form.cookies["assay_login_csrf"],
            "next": next,
        },
        follow_redirects=False,
    )
