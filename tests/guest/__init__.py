"""Tests that boot a real guest (see build.py); helpers they share."""
import random


def random_cidr():
    """A random 10.x.y.0/24: unlikely to clash with other tests' networks on the shared host."""
    return f"10.{random.randint(1, 254)}.{random.randint(0, 255)}.0/24"
