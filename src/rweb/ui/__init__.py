"""rweb.ui: a component kit on :mod:`rweb.html`, with one default theme (light and dark).

::

    from rweb import App, ui

    app = App("Shop", assets=ui.ASSETS)     # the theme's stylesheet and the kit's script

    @app.page("/")
    def home(writer_id, conn):
        def render():
            return ui.shell(
                ui.card(ui.text_input("email", "Email", help="We never share it"), title="Sign up"),
                navbar=ui.navbar("Shop", end=ui.theme_switch()),
                theme=ui.theme_of(conn.cookies),
            )
        return render, {}

Optional: ``import rweb`` does not load it, and pages without it keep working
(unstyled).  The stylesheet (``ui.css``) and the script (``ui.js``, hooks and
JS commands on top of rweb.js) are served like the client script: hashed,
compressed once, behind the app's root path.  See docs/ui.md; the gallery:
``python -m rweb.ui.gallery``.
"""

from __future__ import annotations

from ..web.assets import Asset
from .components import (
    BADGES,
    SIZES,
    THEME_COOKIE,
    TOAST_KINDS,
    VARIANTS,
    Column,
    Errors,
    Toasts,
    alert,
    badge,
    button,
    card,
    checkbox,
    close_modal,
    field,
    flash,
    form,
    link_button,
    modal,
    nav_link,
    navbar,
    open_modal,
    pagination,
    progress_bar,
    radio_group,
    select,
    shell,
    sidebar,
    spinner,
    switch,
    table,
    table_row,
    tabs,
    text_input,
    textarea,
    theme_of,
    theme_switch,
    toast,
    toast_region,
)
from .icons import ICONS, icon

__all__ = [
    "ASSETS",
    "BADGES",
    "ICONS",
    "SCRIPT",
    "SIZES",
    "STYLESHEET",
    "THEME_COOKIE",
    "TOAST_KINDS",
    "VARIANTS",
    "Column",
    "Errors",
    "Toasts",
    "alert",
    "badge",
    "button",
    "card",
    "checkbox",
    "close_modal",
    "field",
    "flash",
    "form",
    "icon",
    "link_button",
    "modal",
    "nav_link",
    "navbar",
    "open_modal",
    "pagination",
    "progress_bar",
    "radio_group",
    "select",
    "shell",
    "sidebar",
    "spinner",
    "switch",
    "table",
    "table_row",
    "tabs",
    "text_input",
    "textarea",
    "theme_of",
    "theme_switch",
    "toast",
    "toast_region",
]

STYLESHEET = Asset.resource("rweb.ui", "ui.css")
"""The default theme (``/_rweb/a/ui.<hash>.css``)."""
SCRIPT = Asset.resource("rweb.ui", "ui.js")
"""The kit's script: the theme switch, modals, tabs (``/_rweb/a/ui.<hash>.js``)."""
ASSETS: tuple[Asset, ...] = (STYLESHEET, SCRIPT)
"""What ``App(assets=...)`` takes to give every page the kit."""
