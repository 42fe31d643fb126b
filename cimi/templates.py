"""Templates by reference or by value (DSP0263 4.2.1.1), for every kind.

`by_value` turns `{"href": T, overrides...}` or an inline value into the
attributes to instantiate: overrides replace whole attributes and never
reach the referenced template.
"""
from cimi import errors, represent


def by_value(ctx, type_name, value, what=None):
    """Return the attributes of a `type_name` given by reference or by value.

    The returned dict carries `_row` (the referenced row) when given by reference.
    """
    if value is None:
        raise errors.BadRequest(f"{what or type_name} is required")
    if "href" not in value:
        return dict(value)
    _, row = represent.resolve(ctx, value["href"], type_name)
    base = {**row["data"], "name": row["name"], "description": row["description"],
            "properties": row["properties"]}
    base.update({k: v for k, v in value.items() if k != "href"})
    base = {k: v for k, v in base.items() if v is not None}
    base["_row"] = row
    return base


def source(ctx, location, type_name, states, verb):
    """Return the resource an imageLocation names, if the user may change it and it is in one of `states`.

    Capture and snapshot take their source this way (403 if not the user's, 409 in another state).
    """
    kind, row = represent.resolve(ctx, location, type_name)
    if not represent.can_write(ctx.user, kind, row):
        raise errors.Forbidden(f"you may not {verb} this {type_name}")
    if row["state"] not in states:
        raise errors.Conflict(f"{verb} needs the {type_name} {' or '.join(sorted(states))}; it is {row['state']}")
    return row


def referenced(ctx, type_name, value, states=None, what=None):
    """Return the row a reference names, checking its state (409 if not usable)."""
    if not value or "href" not in value:
        raise errors.BadRequest(f"{what or type_name} must be given by reference (href)")
    _, row = represent.resolve(ctx, value["href"], type_name)
    if states and row["state"] not in states:
        raise errors.Conflict(f"{type_name} {row['id']} is {row['state']}, not {' or '.join(states)}")
    return row
