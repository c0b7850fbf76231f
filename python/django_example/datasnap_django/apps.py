from django.apps import AppConfig


class DatasnapConfig(AppConfig):
    name = "datasnap_django"
    verbose_name = "datasnap reference lists"
