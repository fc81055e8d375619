"""A small set of line icons, drawn for rweb on a 24x24 grid (stroked with ``currentColor``).

``icon("check")`` is decorative (``aria-hidden``); ``icon("trash", label="Delete")``
is an image with a name, for a control that has no text of its own.
"""

from __future__ import annotations

from typing import Any

from ..core import html as h

__all__ = ["ICONS", "icon"]

# name -> the path data (SVG "d"), one path per icon: straight lines and arcs only.
ICONS: dict[str, str] = {
    "check": "M5 12.5l4.5 4.5L19 7.5",
    "x": "M6 6l12 12M18 6L6 18",
    "plus": "M12 5v14M5 12h14",
    "minus": "M5 12h14",
    "chevron-left": "M15 5l-7 7 7 7",
    "chevron-right": "M9 5l7 7-7 7",
    "chevron-up": "M5 15l7-7 7 7",
    "chevron-down": "M5 9l7 7 7-7",
    "sort": "M8 10l4-5 4 5M8 14l4 5 4-5",
    "menu": "M4 6h16M4 12h16M4 18h16",
    "search": "M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 1 0 0-13zM15.5 15.5L20 20",
    "info": "M12 3a9 9 0 1 0 0 18 9 9 0 1 0 0-18zM12 11v6M12 7.5v.5",
    "alert": "M12 3.5L2.5 20h19zM12 10v4.5M12 17v.5",
    "circle-check": "M12 3a9 9 0 1 0 0 18 9 9 0 1 0 0-18zM8 12.5l3 3 5-6",
    "sun": "M12 8a4 4 0 1 0 0 8 4 4 0 1 0 0-8zM12 2v2M12 20v2M2 12h2M20 12h2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4"
    "M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4",
    "moon": "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z",
    "user": "M12 4a4 4 0 1 0 0 8 4 4 0 1 0 0-8zM4 20a8 6.5 0 0 1 16 0",
    "home": "M4 11l8-7 8 7M6 9.5V20h4.5v-5h3v5H18V9.5",
    "trash": "M4 7h16M9.5 7V4.5h5V7M6.5 7l1 13h9l1-13M10 11v5M14 11v5",
    "edit": "M4 20h4L19 9l-4-4L4 16zM13 7l4 4",
    "mail": "M3.5 6h17v12h-17zM3.5 6.5l8.5 7 8.5-7",
    "gear": "M12 9a3 3 0 1 0 0 6 3 3 0 1 0 0-6zM12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1"
    "M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1",
}
"""The icons by name: each one SVG path on a 24x24 grid."""


def icon(name: str, *, label: str | None = None, size: int = 20, **attrs: Any) -> h.Element:
    """The icon ``name`` (one of :data:`ICONS`) as inline SVG, ``size`` px square.

    Without ``label`` it is hidden from assistive technology (the text next to
    it says what it means); with one it is ``role="img"`` named ``label``.
    """
    d = ICONS.get(name)
    if d is None:
        raise ValueError(f"no icon {name!r}; the icons: {', '.join(sorted(ICONS))}")
    named: dict[str, Any] = {"role": "img", "aria_label": label} if label else {"aria_hidden": "true"}
    attrs["class_"] = f"ui-icon {attrs['class_']}" if "class_" in attrs else "ui-icon"
    return h.svg(
        h.path(d=d),
        viewBox="0 0 24 24",
        width=size,
        height=size,
        fill="none",
        stroke="currentColor",
        stroke_width="2",
        stroke_linecap="round",
        stroke_linejoin="round",
        focusable="false",
        **named,
        **attrs,
    )
