from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import BaseUserCreationForm


class SignupForm(BaseUserCreationForm):
    """The sign-up fields, checked for form only: whether the name or the email is taken is
    never said here (anyone could ask), but by email to the address given (shop.services)."""

    email = forms.EmailField(
        max_length=254,
        help_text="For your order confirmations, and to confirm the account.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # In the shopper's words, in place of Django's ("Required. 150 characters or fewer.",
        # the validators' list): what to type, not how it is checked.
        self.fields["username"].help_text = (
            "The name you sign in with: letters, digits and @ . + - _ only."
        )
        self.fields["password1"].help_text = (
            "At least 8 characters, not only digits, not a common password and not like your"
            " name or email."
        )
        self.fields["password2"].help_text = "The same password again, to be sure."

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def validate_unique(self) -> None:
        """Skip ModelForm's "already exists" errors: they would tell who has an account."""
