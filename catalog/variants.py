"""Variants of a product page: the options a shopper chooses from and which variant a choice
means. Pure functions over the plain data of the page's shelf entry, so that choosing a variant
costs no SQL: the page is one entry per product, whatever the choice (catalog.selectors).

A choice comes as `?variant=<sku>` (the links and the script write it) or as one parameter per
option (`?size=XL&colour=Red`, what the page's GET form sends without JavaScript). Values that
are not the product's own are ignored, never stored: the page shows its default variant then.
"""

from collections.abc import Mapping, Sequence

from django.utils.text import slugify

# Query parameters a choice may not take (they mean something else on the page).
RESERVED = frozenset({"variant", "page", "sort"})


def option_key(name: str, position: int) -> str:
    """The query parameter of an option ("Size" -> "size"); `optionN` where the name has no
    letters or digits or would clash with another parameter."""
    key = slugify(name).replace("-", "_")
    return key if key and key not in RESERVED else f"option{position + 1}"


def option_values_text(names: Sequence[str], values: Mapping[str, str]) -> str:
    """A variant's values in its parent's option order, as the admin edits them ("XL / Red")."""
    return " / ".join(values.get(name, "") for name in names)


def option_values_parse(names: Sequence[str], text: str) -> dict[str, str]:
    """The values typed as "XL / Red" for options `names`; ValueError if their number differs
    or one is empty."""
    values = [v.strip() for v in text.split("/")] if text.strip() else []
    if len(values) != len(names) or not all(values):
        raise ValueError(
            f"Give one value for each option ({' / '.join(names)}), separated by '/'."
            if names
            else "Give the product its options first (for example Size / Colour)."
        )
    return dict(zip(names, values, strict=True))


def variant_choose(variants: Sequence[Mapping], query: Mapping[str, str], stock: Mapping) -> dict:
    """The variant a request asks for, from the page entry's `variants` (each with `sku`,
    `id` and `values`, {option key: value}): `?variant=<sku>`, else the one whose values
    match most of the option parameters (the first such, in the page's order), else the first
    with units on hand, else the first."""
    sku = query.get("variant")
    if sku:
        for variant in variants:
            if variant["sku"] == sku:
                return variant
    asked = {k: v for k, v in query.items() if k not in RESERVED}
    if asked:
        scores = [sum(asked.get(k) == x for k, x in each["values"].items()) for each in variants]
        best = max(scores)
        if best:
            return variants[scores.index(best)]
    return next((v for v in variants if (stock.get(v["id"]) or 0) > 0), variants[0])
