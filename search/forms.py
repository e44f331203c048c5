from decimal import Decimal

from django import forms

from . import selectors

MAX_PRICE = Decimal("99999999.99")  # the largest price catalog.Product can hold


class QueryField(forms.CharField):
    """Free text made safe before validation: no NUL or control characters, at most 200
    characters (longer input is cut, not refused), as the shopper typed it otherwise."""

    def to_python(self, value: str | None) -> str:
        return selectors.display_query(value or "")


class SearchForm(forms.Form):
    q = QueryField(required=False, strip=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=selectors.MAX_PAGE)
    category = forms.SlugField(required=False, max_length=140)
    min_price = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, max_digits=10, decimal_places=2
    )
    max_price = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, max_digits=10, decimal_places=2
    )
    # A text widget: a checkbox widget would read "0" as checked.
    in_stock = forms.BooleanField(required=False, widget=forms.TextInput)
    sort = forms.ChoiceField(required=False, choices=[("", ""), *selectors.SORT_LABELS.items()])

    def clean_page(self) -> int | None:
        # IntegerField takes Arabic-Indic or full-width digits for 12: no link of ours writes
        # them (a 404, as for "²" and every other page that is not ASCII digits).
        raw = self.data.get("page") or ""
        if not raw.isascii():
            raise forms.ValidationError("No such page.")
        return self.cleaned_data["page"]

    def clean(self) -> dict:
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The maximum price must not be below the minimum.")
        return data

    def params(self) -> selectors.SearchParams:
        """The search this valid form asks for."""
        data = self.cleaned_data
        return selectors.SearchParams(
            query=selectors.normalise(data["q"]),
            category=data["category"],
            min_price=data["min_price"],
            max_price=data["max_price"],
            in_stock=data["in_stock"],
            sort=data["sort"] or "relevance",
            page=data["page"] or 1,
        )
