"""{% load datasnap %}

    {% dataset_options "smoking_status_code" as options %}
    {% for o in options %}{{ o.value }} {{ o.label }}{% endfor %}

    {% dataset_select "wards" name="ward" selected=form.ward.value org="acme" %}
"""
from django import template

from datasnap_django.forms import dataset_choices
from datasnap_django.store import get_store

register = template.Library()


@register.simple_tag
def dataset_options(key, org=None):
    """The current options (datasnap_store.Option: value, label, parent,
    default) of dataset `key`."""
    return get_store().options(key, org=org)


@register.inclusion_tag("datasnap_django/select.html")
def dataset_select(key, name, selected=None, org=None, blank_label=None):
    """A <select name=...> of dataset `key`, with <optgroup>s for a hierarchy."""
    choices = dataset_choices(key, org=org, blank_label=blank_label)
    rows = []
    for value, label in choices:
        if isinstance(label, (list, tuple)):
            rows.append({"group": value, "choices": label})
        else:
            rows.append({"group": None, "choices": [(value, label)]})
    return {"name": name, "rows": rows, "selected": selected}
