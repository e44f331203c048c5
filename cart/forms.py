from django import forms

from .store import MAX_QUANTITY


class LineForm(forms.Form):
    """A product and a quantity from 1 to 99; anything else is a form error, never stored."""

    product = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class RemoveForm(forms.Form):
    product = forms.IntegerField(min_value=1, max_value=2**31 - 1)
