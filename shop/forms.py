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

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def validate_unique(self) -> None:
        """Skip ModelForm's "already exists" errors: they would tell who has an account."""
