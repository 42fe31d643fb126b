"""Placeholder for helper h/columns' migration 5 (typed columns): take theirs when merging."""


def apply(database):
    pass
