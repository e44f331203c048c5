from django import forms

from .store import MAX_QUANTITY

QUANTITY_ERROR = f"Enter a quantity from 1 to {MAX_QUANTITY}."
PRODUCT_ERROR = "Sorry, that product is not available."


def _say(message: str) -> dict[str, str]:
    """The same shopper's message for every way a field can be wrong (Django's own, such as
    "Enter a whole number.", would be shown with no field to attach it to)."""
    return {code: message for code in ("required", "invalid", "min_value", "max_value")}


class LineForm(forms.Form):
    """A product and a quantity from 1 to 99; anything else is a form error, never stored."""

    product = forms.IntegerField(
        min_value=1, max_value=2**31 - 1, error_messages=_say(PRODUCT_ERROR)
    )
    quantity = forms.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, error_messages=_say(QUANTITY_ERROR)
    )

    def problem(self) -> str:
        """The one message for the shopper about what is wrong (the product first)."""
        for name in ("product", "quantity"):
            if name in self.errors:
                return self.errors[name][0]
        return QUANTITY_ERROR


class RemoveForm(forms.Form):
    product = forms.IntegerField(
        min_value=1, max_value=2**31 - 1, error_messages=_say(PRODUCT_ERROR)
    )

    def problem(self) -> str:
        return PRODUCT_ERROR
