from django import forms

from .models import Address


class OneLineField(forms.CharField):
    """Text for one line of a shipping label: CR, LF and runs of spaces become one space, so
    nothing typed can start a new line in an email or a label."""

    def to_python(self, value):
        return " ".join(super().to_python(value).split())


def _autocomplete(token: str) -> forms.TextInput:
    """A text input that tells browsers what to fill in (WCAG 1.3.5, identify input purpose)."""
    return forms.TextInput(attrs={"autocomplete": token})


class CheckoutForm(forms.Form):
    """Shipping details; guests give an email for the confirmation."""

    email = forms.EmailField(
        max_length=254,
        help_text="Your order confirmation goes here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    name = OneLineField(max_length=100, label="Full name", widget=_autocomplete("name"))
    address_line1 = OneLineField(
        max_length=200, label="Address", widget=_autocomplete("address-line1")
    )
    address_line2 = OneLineField(
        max_length=200,
        label="Address (line 2)",
        required=False,
        widget=_autocomplete("address-line2"),
    )
    city = OneLineField(max_length=100, widget=_autocomplete("address-level2"))
    postcode = OneLineField(max_length=20, widget=_autocomplete("postal-code"))
    country = OneLineField(max_length=60, widget=_autocomplete("country-name"))
    save_address = forms.BooleanField(required=False, label="Save this address in my address book")

    def __init__(self, *args, can_save: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not can_save:  # guests have no address book
            del self.fields["save_address"]


class AddressForm(forms.ModelForm):
    """An address book entry: the same fields, and the same one-line cleaning, as checkout's."""

    name = CheckoutForm.base_fields["name"]
    address_line1 = CheckoutForm.base_fields["address_line1"]
    address_line2 = CheckoutForm.base_fields["address_line2"]
    city = CheckoutForm.base_fields["city"]
    postcode = CheckoutForm.base_fields["postcode"]
    country = CheckoutForm.base_fields["country"]

    class Meta:
        model = Address
        fields = ["name", "address_line1", "address_line2", "city", "postcode", "country"]


class PlaceOrderForm(forms.Form):
    """The review page's form. Prices and quantities are never read from it: `seen_total` is
    only the total the shopper saw, so that a change since is shown to them first."""

    token = forms.CharField(max_length=64, widget=forms.HiddenInput)
    seen_total = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, widget=forms.HiddenInput
    )
    card_number = forms.CharField(
        max_length=23,
        help_text="Test cards only: 4242 4242 4242 4242 is approved, 4000 0000 0000 0002 is"
        " declined.",
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )

    def clean_card_number(self) -> str:
        value = self.cleaned_data["card_number"]
        digits = value.replace(" ", "").replace("-", "")
        if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
            raise forms.ValidationError("Enter the 12 to 19 digits of the card number.")
        return digits


class ReviewForm(forms.Form):
    """A buyer's review of a product: 1 to 5 stars, a title and what they think."""

    RATINGS = [(n, f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)]

    rating = forms.TypedChoiceField(
        choices=RATINGS,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose a rating from 1 to 5 stars."},
    )
    title = OneLineField(max_length=120, help_text="Sum it up in a few words.")
    text = forms.CharField(
        label="Your review", max_length=4000, widget=forms.Textarea(attrs={"rows": 6})
    )
