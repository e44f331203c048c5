"""factory-boy factories for the shop's tests: shoppers' accounts."""

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

PASSWORD = "a-long-pass-1234"


class UserFactory(DjangoModelFactory):
    """A shopper who can sign in with PASSWORD."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(PASSWORD)
