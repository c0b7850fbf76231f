"""The Django example (python/django_example/datasnap_django) in a
throwaway Django project (Debian's python3-django), driven by Django's
test client against stores datasnap wrote."""
import os
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "django_example"))

django = pytest.importorskip("django")

PROJECT_URLS = textwrap.dedent('''
    from django.urls import include, path
    urlpatterns = [path("api/", include("datasnap_django.urls"))]


    def org_from_header(request):  # a real project takes the user's organisation
        return request.headers.get("X-Org")
''')


@pytest.fixture(scope="module")
def project(tmp_path_factory, base_store):
    """Configures Django once (settings cannot be configured twice in a
    process); each test points DATASNAP_STORE at its store."""
    root = tmp_path_factory.mktemp("project")
    (root / "throwaway_project.py").write_text(PROJECT_URLS)
    sys.path.insert(0, str(root))
    from django.conf import settings
    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY="throwaway", ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF="throwaway_project", USE_TZ=True, MIDDLEWARE=[],
            INSTALLED_APPS=["django.contrib.contenttypes", "datasnap_django"],
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                        "APP_DIRS": True}],
            DATASNAP_ORG_FOR_REQUEST="throwaway_project.org_from_header",
            DATASNAP_STORE=base_store.store)
        django.setup()
        from django.test.utils import setup_test_environment
        setup_test_environment()
    yield settings
    close_stores()


def close_stores():
    from datasnap_django import store
    for s in store._stores.values():
        s.close()
    store._stores.clear()


@pytest.fixture
def client(project, base_store):
    from django.test import Client, override_settings
    with override_settings(DATASNAP_STORE=base_store.store):
        yield Client()


def get(client, key, **headers):
    return client.get(f"/api/datasets/{key}/options.json", **{
        "HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})


def test_options_json_with_etag(client, base_store):
    shown = base_store.json("show", "smoking_status_code", "--json")
    r = get(client, "smoking_status_code")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json"
    assert r["ETag"] == f'"{shown["options_sha256"]}"'
    assert "no-cache" in r["Cache-Control"]
    assert r.json() == {"key": "smoking_status_code", "version": shown["version"],
                        "options_sha256": shown["options_sha256"],
                        "options": shown["options"]}
    older = base_store.json("list", "--json")
    aliased = next(d for d in older if d["aliases"])
    r = get(client, aliased["aliases"][0])
    assert r.status_code == 200 and r.json()["key"] == aliased["key"]


def test_conditional_requests(client):
    etag = get(client, "welsh_lhbs")["ETag"]
    for header in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        r = get(client, "welsh_lhbs", if_none_match=header)
        assert r.status_code == 304, header
        assert r.content == b"" and r["ETag"] == etag
    for header in ('"nope"', etag[:-2] + '"'):
        assert get(client, "welsh_lhbs", if_none_match=header).status_code == 200
    r = client.head("/api/datasets/welsh_lhbs/options.json")
    assert r.status_code == 200 and r.content == b"" and r["ETag"] == etag
    assert client.post("/api/datasets/welsh_lhbs/options.json").status_code == 405


def test_missing_deleted_and_other_organisations_lists(client):
    for key, org in [("no_such_list", None), ("smoking_status_cod", None),
                     ("clinics", None), ("wards", None), ("wards", "globex"),
                     ("beta_list", "acme")]:
        r = get(client, key, **({"x-org": org} if org else {}))
        assert r.status_code == 404, (key, org)
        assert r.json() == {"error": f"no dataset '{key}'"}  # no suggestion leaks
    assert get(client, "wards", x_org="acme").json()["options"][1] == {
        "value": "N1", "label": "Ward N1", "parent": "N"}
    assert get(client, "beta_list", x_org="globex").status_code == 200
    assert get(client, "smoking_status_code", x_org="globex").status_code == 200


def test_a_new_version_is_served_without_restart(project, store_copy, tmp_path):
    from django.test import Client, override_settings
    with override_settings(DATASNAP_STORE=store_copy.store):
        client = Client()
        first = get(client, "unicode_list")
        assert first.status_code == 200
        (tmp_path / "u2.json").write_text('["only one"]')
        store_copy.run("import", "unicode_list", "--file", str(tmp_path / "u2.json"))
        r = get(client, "unicode_list", if_none_match=first["ETag"])
        assert r.status_code == 200 and r["ETag"] != first["ETag"]
        assert r.json()["options"] == [{"value": "only one", "label": "only one"}]
        assert r.json()["version"] == first.json()["version"] + 1
        assert get(client, "unicode_list", if_none_match=r["ETag"]).status_code == 304
    close_stores()


def test_choice_field(client, base_store):
    from django import forms
    from datasnap_django.forms import DatasetChoiceField

    class Form(forms.Form):
        smoking = DatasetChoiceField("smoking_status_code", blank_label="Choose…")
        ward = DatasetChoiceField("wards", org="acme")
        flat_ward = DatasetChoiceField("wards", org="acme", grouped=False, required=False)

    shown = base_store.json("show", "smoking_status_code", "--json")["options"]
    form = Form()
    assert list(form.fields["smoking"].choices) == [("", "Choose…")] + [
        (o["value"], o["label"]) for o in shown]
    html = str(form["ward"])
    assert '<optgroup label="North wing">' in html
    assert '<option value="N1">Ward N1</option>' in html
    assert "<optgroup" not in str(form["flat_ward"])
    assert Form({"smoking": shown[0]["value"], "ward": "S1"}).is_valid()
    assert Form({"smoking": shown[0]["value"], "ward": "N"}).is_valid()  # a wing itself
    bad = Form({"smoking": "zz", "ward": "nope"})
    assert not bad.is_valid() and set(bad.errors) == {"smoking", "ward"}
    assert "Select a valid choice" in str(bad.errors["smoking"])


def test_template_tags(client):
    from django.template import Context, Template
    out = Template('{% load datasnap %}{% dataset_options "smoking_status_code" as opts %}'
                   '{% for o in opts %}[{{ o.value }}={{ o.label }}]{% endfor %}'
                   ).render(Context())
    assert out.startswith("[1=Current smoker][2=Ex-smoker]")
    html = Template('{% load datasnap %}{% dataset_select "wards" "ward" selected="N2" '
                    'org="acme" %}').render(Context())
    assert html.startswith('<select name="ward"><optgroup label="North wing">'
                           '<option value="N">North wing</option>')
    assert '<option value="N2" selected>Ward N2</option>' in html
    assert html.count("<optgroup") == 2
