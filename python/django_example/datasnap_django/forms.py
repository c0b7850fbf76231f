"""DatasetChoiceField: a ChoiceField whose choices are a dataset's current
options, read from the store each time the form renders or validates (a
few microseconds), so a new version shows without a restart.

    class ReferralForm(forms.Form):
        smoking = DatasetChoiceField("smoking_status_code", blank_label="Choose…")
        ward = DatasetChoiceField("wards", org="acme")   # <optgroup> per wing

Lists with a hierarchy (options with a `parent`) become <optgroup>s, one
per top-level option, unless grouped=False.
"""
import functools

from django import forms

from datasnap_django.store import get_store
from datasnap_store import flat_choices, grouped_choices, has_hierarchy


def dataset_choices(key, org=None, grouped=None, blank_label=None,
                    selectable_parents=True):
    """Django choices of dataset `key`'s current options (see the module)."""
    options = get_store().options(key, org=org)
    if grouped is None:
        grouped = has_hierarchy(options)
    choices = (grouped_choices(options, selectable_parents=selectable_parents)
               if grouped else flat_choices(options))
    return ([("", blank_label)] if blank_label is not None else []) + choices


class DatasetChoiceField(forms.ChoiceField):
    def __init__(self, dataset, *, org=None, grouped=None, blank_label=None,
                 selectable_parents=True, **kwargs):
        self.dataset, self.org = dataset, org
        # A partial (not a bound method): Django deep-copies fields per form.
        super().__init__(choices=functools.partial(
            dataset_choices, dataset, org, grouped, blank_label, selectable_parents),
            **kwargs)
