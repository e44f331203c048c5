from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AuthenticationForm,
    BaseUserCreationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from django.core.validators import MaxLengthValidator

from . import services

# An email address's longest form (RFC 5321), as Django's EmailField takes it.
EMAIL_MAX_LENGTH = 254
# In the shopper's words, in place of Django's (the validators' list, "Enter the same password
# as before, for verification."): what to type, not how it is checked. Every form that
# chooses a password says the same.
PASSWORD_HELP = (
    "At least 8 characters, not only digits, not a common password and not like your name or"
    " email."
)
PASSWORD_AGAIN_HELP = "The same password again, to be sure."


class SignupForm(BaseUserCreationForm):
    """The sign-up fields, checked for form only: whether the name or the email is taken is
    never said here (anyone could ask), but by email to the address given (shop.services)."""

    email = forms.EmailField(
        max_length=EMAIL_MAX_LENGTH,
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
        self.fields["password1"].help_text = PASSWORD_HELP
        self.fields["password2"].help_text = PASSWORD_AGAIN_HELP

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def validate_unique(self) -> None:
        """Skip ModelForm's "already exists" errors: they would tell who has an account."""


class LoginForm(AuthenticationForm):
    """Sign in with the username or the email address (shop.auth.CachedModelBackend)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct username or email and password. The password "
        "is case-sensitive.",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.label = "Username or email"
        # AuthenticationForm caps it at the username's 150 characters; an email may be 254.
        username.max_length = EMAIL_MAX_LENGTH
        username.validators = [MaxLengthValidator(EMAIL_MAX_LENGTH)]
        username.widget.attrs.update(maxlength=str(EMAIL_MAX_LENGTH), autocomplete="username")


class NewPasswordForm(SetPasswordForm):
    """Choosing a new password from a reset link, explained as sign-up explains it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = PASSWORD_HELP
        self.fields["new_password2"].label = "New password again"
        self.fields["new_password2"].help_text = PASSWORD_AGAIN_HELP


class ChangePasswordForm(PasswordChangeForm):
    """The account's password change, explained as sign-up explains it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["new_password1"].help_text = PASSWORD_HELP
        self.fields["new_password2"].label = "New password again"
        self.fields["new_password2"].help_text = PASSWORD_AGAIN_HELP


class ResetForm(PasswordResetForm):
    """Django's reset form, whose link names the host the shopper asked from (as sign-up's
    does), not the sites framework's placeholder domain, and whose mail the Celery worker
    sends (shop.services.password_reset_request)."""

    def save(self, domain_override=None, request=None, **kwargs) -> None:
        if request is not None:
            domain_override = request.get_host()
        super().save(domain_override=domain_override, request=request, **kwargs)

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None) -> None:  # fmt: skip
        # The worker renders the mail and makes a token of its own (services.RESET_*).
        services.password_reset_request(
            context["user"].pk, context["domain"], context["protocol"] == "https"
        )


class ProfileForm(forms.Form):
    """The names the header greets the shopper with."""

    first_name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )


class EmailChangeForm(forms.Form):
    """A new email address, confirmed with the password: the address signs in and receives
    password resets, so whoever has a signed-in browser for a moment must not take it over."""

    email = forms.EmailField(
        label="New email",
        max_length=EMAIL_MAX_LENGTH,
        help_text="We email a link to the new address; the change is made when you open it.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Your password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email == self.user.email.lower():
            raise forms.ValidationError("That is already your email address.")
        return email

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password
