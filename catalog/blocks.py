"""The catalogue's blocks of the email block editor (registered with messaging's
`register_block_kind` in CatalogConfig.ready()):

- "Product": one product picked from the catalogue, as a card (image, title, price,
  link); the template names `product_<id>`.
- "Recommendations": a kind and a count (1-8), as a grid of the same cards; the
  template names `recs_<kind>_<count>`.
- "Cart": the items of the contact's abandoned cart; the template names `cart`.

catalog/render.py's context provider fills those names in when a message or a preview
is rendered. The blocks' MJML is template text naming only checked ids and kinds;
everything from the catalogue reaches the message through the escaping template."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from catalog.models import Product
from messaging.blocks.kinds import BlockKind, Errors
from workspaces.models import Workspace

REC_KINDS = {
    "for_you": "For you (bought together with their purchases, then popular)",
    "popular": "Most popular",
    "viewed": "Products they looked at lately (browse abandonment)",
}
COUNTS = range(1, 9)
_CELL = "padding:6px;vertical-align:top;text-align:center;font:14px/1.4 Arial,sans-serif"
_IMG = "display:block;width:100%;max-width:180px;height:auto;margin:0 auto 6px;border:0"
_LINK = "color:#1d1d1d;text-decoration:none;font-weight:600"

# One card; `{v}` is the template variable holding a product's plain data.
CARD = (
    '<td style="' + _CELL + '" width="{width}%">'
    "{{% if {v}.image_url %}}"
    '<a href="{{{{ {v}.url }}}}"><img src="{{{{ {v}.image_url }}}}" alt="{{{{ {v}.title }}}}"'
    ' style="' + _IMG + '"></a>{{% endif %}}'
    '<a href="{{{{ {v}.url }}}}" style="' + _LINK + '">{{{{ {v}.title }}}}</a>'
    "{{% if {v}.price %}}<br>{{{{ {v}.price }}}}{{% endif %}}"
    "{{% if {v}.quantity %}}<br>Quantity: {{{{ {v}.quantity }}}}{{% endif %}}"
    "</td>"
)
TABLE = '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'


def _grid(items: str, columns: int) -> str:
    width = 100 // columns
    card = CARD.format(v="item", width=width)
    return (
        f"{{% if {items} %}}<mj-text>{TABLE}<tr>"
        f"{{% for item in {items} %}}{card}"
        f"{{% if forloop.counter|divisibleby:{columns} and not forloop.last %}}"
        "</tr><tr>{% endif %}"
        "{% endfor %}</tr></table></mj-text>{% endif %}"
    )


def _extra_fields(errors: Errors, block: dict[str, Any], path: str, field: str) -> None:
    extra = sorted(set(block) - {"type", field})
    if extra:
        errors.setdefault(f"{path}.{extra[0]}", []).append("unknown field")


# --- Product --------------------------------------------------------------------------


def _product_check(errors: Errors, block: dict[str, Any], path: str, ws: Workspace | None) -> None:
    pk = block.get("product")
    if isinstance(pk, bool) or not isinstance(pk, int):
        errors.setdefault(f"{path}.product", []).append("choose a product")
    elif ws is None or not Product.objects.filter(workspace=ws, pk=pk).exists():
        errors.setdefault(f"{path}.product", []).append("no such product in this workspace")
    _extra_fields(errors, block, path, "product")


def _product_mjml(block: dict[str, Any]) -> str:
    name = f"product_{int(block['product'])}"
    card = CARD.format(v=name, width=100)
    return f"{{% if {name} %}}<mj-text>{TABLE}<tr>{card}</tr></table></mj-text>{{% endif %}}"


def _product_text(block: dict[str, Any]) -> str:
    name = f"product_{int(block['product'])}"
    return f"{{{{ {name}.title }}}} {{{{ {name}.price }}}}: {{{{ {name}.url }}}}"


def _product_search_url(workspace: Workspace) -> str:
    return reverse("catalog:search", args=[workspace.slug])


PRODUCT_BLOCK = BlockKind(
    label="Product",
    check=_product_check,
    mjml=_product_mjml,
    text=_product_text,
    field="product",
    field_label="Product",
    # Searched, not listed (catalog/views_search.py): a catalogue can be 50,000 long.
    choices=lambda workspace: [],
    empty="No products match: load them under Catalogue first.",
    search_url=_product_search_url,
    sms_link="{{ product_%s.url }}",
    sms_fixed=(("Their first recommendation (for you)", "{{ top_pick.url }}"),),
)


# --- Recommendations ------------------------------------------------------------------


def rec_name(value: str) -> str:
    kind, count = value.split(":")
    return f"recs_{kind}_{int(count)}"


def _recs_check(errors: Errors, block: dict[str, Any], path: str, ws: Workspace | None) -> None:
    value = block.get("recs")
    kind, _, count = value.partition(":") if isinstance(value, str) else ("", "", "")
    if kind not in REC_KINDS or count not in {str(n) for n in COUNTS}:
        errors.setdefault(f"{path}.recs", []).append(
            f"a kind ({', '.join(REC_KINDS)}) and a count from 1 to 8, e.g. popular:4"
        )
    _extra_fields(errors, block, path, "recs")


def _recs_mjml(block: dict[str, Any]) -> str:
    count = int(block["recs"].split(":")[1])
    return _grid(rec_name(block["recs"]), min(count, 4))


def _recs_text(block: dict[str, Any]) -> str:
    name = rec_name(block["recs"])
    return (
        f"{{% for item in {name} %}}{{{{ item.title }}}} {{{{ item.price }}}}: "
        "{{ item.url }}\n{% endfor %}"
    )


def _recs_choices(workspace: Workspace) -> list[tuple[Any, str]]:
    return [
        (f"{kind}:{n}", f"{label}: {n} product{'s' if n > 1 else ''}")
        for kind, label in REC_KINDS.items()
        for n in COUNTS
    ]


RECS_BLOCK = BlockKind(
    label="Recommendations",
    check=_recs_check,
    mjml=_recs_mjml,
    text=_recs_text,
    field="recs",
    field_label="Which and how many",
    choices=_recs_choices,
)


# --- Cart -----------------------------------------------------------------------------


def _cart_check(errors: Errors, block: dict[str, Any], path: str, ws: Workspace | None) -> None:
    if block.get("show") != "items":
        errors.setdefault(f"{path}.show", []).append("must be items")
    _extra_fields(errors, block, path, "show")


CART_BLOCK = BlockKind(
    label="Cart",
    check=_cart_check,
    mjml=lambda block: _grid("cart.items", 3),
    text=lambda block: (
        "{% for item in cart.items %}{{ item.quantity }} x {{ item.title }} "
        "{{ item.price }}: {{ item.url }}\n{% endfor %}"
    ),
    field="show",
    field_label="Show",
    choices=lambda workspace: [("items", "The items of the contact's abandoned cart")],
)
