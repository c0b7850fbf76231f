"""Options as Django-style choices: [(value, label), ...], and, for lists
with a hierarchy (an option's `parent` names another option), grouped
choices [(group label, [(value, label), ...]), ...] that Django's
ChoiceField renders as <optgroup>s. Pure functions of a sequence of Option.
"""


def flat_choices(options):
    """[(value, label)] in the list's order."""
    return [(o.value, o.label) for o in options]


def has_hierarchy(options):
    return any(o.parent is not None for o in options)


def grouped_choices(options, *, selectable_parents=True):
    """Choices grouped under each top-level option that has descendants.

    A top-level option without descendants stays a plain choice. One with
    descendants becomes an <optgroup> named by its label, holding itself
    first (when `selectable_parents`: in these lists a parent, such as a
    health board, is itself a valid answer) and then every descendant in the
    list's order (HTML cannot nest optgroups, so deeper levels are flattened
    into their top-level group). A flat list comes back as flat_choices.
    """
    if not has_hierarchy(options):
        return flat_choices(options)
    by_value = {o.value: o for o in options}

    def top(o):
        seen = set()
        while o.parent is not None and o.parent in by_value and o.value not in seen:
            seen.add(o.value)
            o = by_value[o.parent]
        return o.value

    members = {}
    for o in options:
        root = top(o)
        if root != o.value:
            members.setdefault(root, []).append((o.value, o.label))
    out = []
    for o in options:
        if top(o) != o.value:
            continue  # listed in its group
        if o.value in members:
            group = ([(o.value, o.label)] if selectable_parents else []) + members[o.value]
            out.append((o.label, group))
        else:
            out.append((o.value, o.label))
    return out
